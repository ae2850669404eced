"""The exposure × focus grid (the paper's Fig. 4 data-collection protocol) and its ``.npz`` file format.

File layout (``numpy.savez``):

* ``frames`` — uint8 ``[E, F, H, W]``: frame at exposure ``e`` and lens voltage ``f``;
* ``exposure_us`` — float64 ``[E]`` (µs);
* ``lens_v`` — float64 ``[F]`` (V; empty for a camera without lens);
* ``captured`` — bool ``[E, F]``: False where an interrupted run did not reach;
* ``meta`` — JSON string: ``camera`` (spec), ``seed``, ``complete``, ``optics`` (the camera's calibration, when it
  reports one), and for the simulator ``truth``
  (``in_focus_v``, ``object_box``, ``object_distance_m``, ``lux``, ``blur_px`` per lens voltage).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dasha.camera.base import Camera
from dasha.camera.errors import SpecError
from dasha.jsonio import dumps


@dataclass
class Grid:
    """An exposure × lens grid of frames (see the module docstring for the fields)."""

    frames: np.ndarray
    exposure_us: np.ndarray
    lens_v: np.ndarray
    captured: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path, compress: bool = False) -> Path:
        """Write atomically (temporary file + rename), so a crash never leaves a half-written file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp.npz", dir=path.parent)
        os.close(fd)
        try:
            saver = np.savez_compressed if compress else np.savez
            saver(
                tmp,
                frames=self.frames,
                exposure_us=self.exposure_us,
                lens_v=self.lens_v,
                captured=self.captured,
                meta=np.array(dumps(self.meta, indent=None)),
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Grid:
        """Read a grid file; SpecError if it is missing or not a grid."""
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"grid file {str(path)!r} not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                frames, exp, lens = z["frames"], z["exposure_us"], z["lens_v"]
                captured = z["captured"] if "captured" in z else np.ones(frames.shape[:2], bool)
                meta = json.loads(str(z["meta"])) if "meta" in z else {}
        except (OSError, KeyError, ValueError) as exc:
            raise SpecError(f"{str(path)!r} is not a dasha grid file ({exc})") from None
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[:2] != (len(exp), max(len(lens), 1)):
            raise SpecError(f"{str(path)!r}: frames {frames.shape} do not match exposures × lens steps")
        return cls(frames, exp.astype(np.float64), lens.astype(np.float64), captured.astype(bool), meta)


def validate_grid(
    camera: Camera, exposures_us: Sequence[float], lens_v: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Check every grid setting against the camera's limits before anything is commanded."""
    exposures = [camera.exposure_limits.check(e, "exposure") for e in exposures_us]
    lens = camera.lens
    if lens is None and len(lens_v):
        raise SpecError(f"camera {camera.spec!r} has no lens; record with --lens-steps 0")
    volts = [lens.limits.check(v, "lens voltage") for v in lens_v] if lens is not None else []
    return exposures, volts


def record_grid(
    camera: Camera,
    exposures_us: Sequence[float],
    lens_v: Sequence[float],
    on_frame: Callable[[int, int], None] | None = None,
    roi: tuple[int, int, int, int] | None = None,
    spool: str | Path | None = None,
) -> Grid:
    """Capture one frame per (exposure, lens setting): exposure outer loop, lens inner loop.

    Every setting is validated against the camera's limits before the first command. If the run is
    interrupted (Ctrl-C, device error), the frames captured so far are kept in the returned grid's
    ``captured`` mask and the exception is attached as ``grid.meta["error"]``; the caller decides to save.

    Args:
        lens_v: lens settings in the lens's own unit (V for a Varioptic lens).
        roi: ``(x, y, w, h)`` px: keep only this window of every frame (a hardware ROI belongs in the SPEC).
        spool: a file to stream the frames into (a ``.npy`` memory map), so a grid larger than memory is never
            held in RAM; :meth:`Grid.save` then writes the ``.npz`` from it chunk by chunk. Default: in memory.
    """
    exposures, volts = validate_grid(camera, exposures_us, lens_v)
    lens = camera.lens
    first = _crop(camera.capture().image, roi)
    h, w = first.shape
    n_f = max(len(volts), 1)
    shape = (len(exposures), n_f, h, w)
    if spool is not None:
        frames = np.lib.format.open_memmap(Path(spool), mode="w+", dtype=np.uint8, shape=shape)
    else:
        frames = np.zeros(shape, np.uint8)
    captured = np.zeros((len(exposures), n_f), bool)
    meta: dict[str, Any] = {"camera": camera.spec, "seed": getattr(camera, "seed", None), "complete": False}
    if camera.optics is not None:  # the calibration a replay reports (focal length m, f-number, pixel pitch m, …)
        meta["optics"] = dataclasses.asdict(camera.optics)
    grid = Grid(frames, np.asarray(exposures, float), np.asarray(volts, float), captured, meta)
    truth_blur = [float("nan")] * n_f
    try:
        for i, e in enumerate(exposures):
            camera.exposure_us = e
            for j in range(n_f):
                if lens is not None:
                    lens.set_setting(volts[j], wait=True)
                frame = camera.capture()
                image = _crop(frame.image, roi)
                if image.shape != (h, w):
                    raise SpecError(f"frame size changed during the grid: {image.shape} vs {(h, w)}")
                frames[i, j] = image
                captured[i, j] = True
                if frame.truth is not None:
                    truth_blur[j] = frame.truth.blur_px
                    meta["truth"] = {**frame.truth.as_dict(), "blur_px": truth_blur}
                if on_frame is not None:
                    on_frame(i, j)
        meta["complete"] = True
    except (KeyboardInterrupt, Exception) as exc:  # keep what was captured; the caller saves and re-raises
        meta["error"] = f"{type(exc).__name__}: {exc}"
        grid.interrupted = exc  # type: ignore[attr-defined]
    _finish_meta(meta, roi, lens.unit if lens is not None else None)
    if isinstance(frames, np.memmap):
        frames.flush()
    return grid


def _finish_meta(meta: dict[str, Any], roi: tuple[int, int, int, int] | None, lens_unit: str | None) -> None:
    """Drop per-frame truth fields that describe one frame only; record the ROI and the lens unit."""
    if "truth" in meta:
        for k in ("saturated_fraction", "mean_electrons", "background_blur_px", "defocus_d"):
            meta["truth"].pop(k, None)
        if roi is not None:  # the object box in the cropped frame's pixels
            x0, y0, x1, y1 = meta["truth"]["object_box"]
            meta["truth"]["object_box"] = [x0 - roi[0], y0 - roi[1], x1 - roi[0], y1 - roi[1]]
    if roi is not None:
        meta["roi"] = list(roi)
    if lens_unit is not None:
        meta["lens_unit"] = lens_unit


def _crop(image: np.ndarray, roi: tuple[int, int, int, int] | None) -> np.ndarray:
    """The ``(x, y, w, h)`` window of ``image`` (SpecError if it does not fit)."""
    if roi is None:
        return image
    x, y, w, h = roi
    if not (x >= 0 and y >= 0 and w >= 8 and h >= 8 and x + w <= image.shape[1] and y + h <= image.shape[0]):
        raise SpecError(f"roi {roi} (x, y, w, h px) does not fit a {image.shape[1]}×{image.shape[0]} frame")
    return image[y : y + h, x : x + w]
