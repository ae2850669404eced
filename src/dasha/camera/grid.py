"""The exposure × focus grid (the paper's Fig. 4 data-collection protocol) and its ``.npz`` file format.

File layout (``numpy.savez``):

* ``frames`` — uint8 ``[E, F, H, W]``: frame at exposure ``e`` and lens voltage ``f``;
* ``exposure_us`` — float64 ``[E]`` (µs);
* ``lens_v`` — float64 ``[F]`` (V; empty for a camera without lens);
* ``captured`` — bool ``[E, F]``: False where an interrupted run did not reach;
* ``meta`` — JSON string: ``camera`` (spec), ``seed``, ``complete``, ``optics`` (the camera's calibration, when it
  reports one), and for the simulator ``truth``
  (``in_focus_v``, ``object_box``, ``object_distance_m``, ``lux``, ``blur_px`` per lens voltage).

An interrupted recording (Ctrl-C, SIGTERM, a device error) keeps only the exposure rows it reached: ``frames``,
``exposure_us`` and ``captured`` cover those rows (the last one partly, ``captured`` says which frames), ``complete``
is false and ``planned_exposure_us`` lists every exposure of the plan, so ``record_grid(..., resume=FILE)``
(``dasha record-grid --resume``) continues where it stopped. Files are written atomically and checked when read
(:func:`dasha.camera.grid_file.read_grid`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from dasha.camera.base import Camera
from dasha.camera.errors import SpecError
from dasha.camera.grid_file import FrameStore, copy_frames, read_grid
from dasha.jsonio import dumps, replacing


@dataclass
class Grid:
    """An exposure × lens grid of frames (see the module docstring for the fields)."""

    frames: np.ndarray
    exposure_us: np.ndarray
    lens_v: np.ndarray
    captured: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path, compress: bool = False) -> Path:
        """Write atomically (temporary file + rename), so a crash or a full disk never leaves a half-written file
        and an older file at ``path`` stays intact (:class:`~dasha.jsonio.OutputError` when it cannot be written)."""
        path = Path(path)
        saver = np.savez_compressed if compress else np.savez
        with replacing(path, suffix=".tmp.npz") as tmp:
            saver(tmp, frames=self.frames, exposure_us=self.exposure_us, lens_v=self.lens_v, captured=self.captured,
                  meta=np.array(dumps(self.meta, indent=None)))  # fmt: skip
        return path

    @classmethod
    def load(cls, path: str | Path, frames: bool = True) -> Grid:
        """Read and check a grid file (:func:`~dasha.camera.grid_file.read_grid`); SpecError (one line) if it is
        missing, not a grid, or holds values no camera could have recorded. ``frames=False``: the frames' shape
        only (a read-only placeholder), for planning a ``--resume``."""
        return cls(*read_grid(path, frames))

    @property
    def planned_exposure_us(self) -> np.ndarray:
        """Every exposure of the recording's plan (µs): more than ``exposure_us`` for an interrupted grid."""
        planned = self.meta.get("planned_exposure_us")
        return np.asarray(planned, np.float64) if planned is not None else self.exposure_us


def validate_grid(
    camera: Camera, exposures_us: Sequence[float], lens_v: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Check every grid setting against the camera's limits before anything is commanded."""
    exposures = [camera.exposure_limits.check(e, "exposure") for e in exposures_us]
    if not exposures:
        raise SpecError("a grid needs at least one exposure")
    if any(b <= a for a, b in pairwise(exposures)):
        raise SpecError("grid exposures must be strictly ascending (after rounding to the camera's resolution)")
    lens = camera.lens
    if lens is None and len(lens_v):
        raise SpecError(f"camera {camera.spec!r} has no lens; record with --lens-steps 0")
    volts = [lens.limits.check(v, "lens voltage") for v in lens_v] if lens is not None else []
    if any(b <= a for a, b in pairwise(volts)):
        raise SpecError("grid lens settings must be strictly ascending (after rounding to the lens's resolution)")
    return exposures, volts


def record_grid(
    camera: Camera,
    exposures_us: Sequence[float],
    lens_v: Sequence[float],
    on_frame: Callable[[int, int], None] | None = None,
    roi: tuple[int, int, int, int] | None = None,
    spool: str | Path | None = None,
    resume: str | Path | None = None,
    on_start: Callable[[tuple[int, int, int, int]], None] | None = None,
) -> Grid:
    """Capture one frame per (exposure, lens setting): exposure outer loop, lens inner loop.

    Every setting is validated against the camera's limits before the first command. If the run is
    interrupted (Ctrl-C, SIGTERM, device error), the rows reached are kept (``captured`` says which frames), the
    exception is attached as ``grid.interrupted`` and described in ``grid.meta["error"]``; the caller decides to save.

    Args:
        lens_v: lens settings in the lens's own unit (V for a Varioptic lens), ascending.
        roi: ``(x, y, w, h)`` px: keep only this window of every frame (a hardware ROI belongs in the SPEC).
        spool: a file to stream the frames into, growing with what was captured, so a grid larger than memory is
            never held in RAM (the grid's frames are then a memory map of it); default: in memory.
        resume: an interrupted grid file of this very plan (camera SPEC, ROI, exposures, lens settings, frame size):
            its captured frames are kept and the capture continues at the first frame it lacks (SpecError if the
            file does not belong to this plan).
        on_start: called with the grid's shape ``[E, F, H, W]`` before any setting is commanded (e.g. a disk-space
            check that raises).
    """
    exposures, volts = validate_grid(camera, exposures_us, lens_v)
    lens = camera.lens
    first = _crop(camera.capture().image, roi)
    h, w = first.shape
    n_f = max(len(volts), 1)
    shape = (len(exposures), n_f, h, w)
    meta: dict[str, Any] = {"camera": camera.spec, "seed": getattr(camera, "seed", None), "complete": False}
    if camera.optics is not None:  # the calibration a replay reports (focal length m, f-number, pixel pitch m, …)
        meta["optics"] = dataclasses.asdict(camera.optics)
    captured = np.zeros((len(exposures), n_f), bool)
    truth_blur = [float("nan")] * n_f
    prior = _resumable(resume, camera, exposures, volts, roi, (h, w)) if resume is not None else None
    if on_start is not None:
        on_start(shape)
    store = FrameStore(shape, spool)
    interrupted: BaseException | None = None
    try:
        start = 0
        if prior is not None and resume is not None:
            start = int(prior.captured.sum())
            copy_frames(resume, start, store.append)
            captured.reshape(-1)[:start] = True
            if "truth" in prior.meta:
                meta["truth"] = prior.meta["truth"]
                truth_blur = [float(b) for b in meta["truth"]["blur_px"]]
        for k in range(start, len(exposures) * n_f):
            i, j = divmod(k, n_f)
            if j == 0 or k == start:
                camera.exposure_us = exposures[i]
            if lens is not None and volts:
                lens.set_setting(volts[j], wait=True)
            frame = camera.capture()
            image = _crop(frame.image, roi)
            if image.shape != (h, w):
                raise SpecError(f"frame size changed during the grid: {image.shape} vs {(h, w)}")
            store.append(image)
            captured[i, j] = True
            if frame.truth is not None:
                truth_blur[j] = frame.truth.blur_px
                meta["truth"] = {**frame.truth.as_dict(), "blur_px": truth_blur}
            if on_frame is not None:
                on_frame(i, j)
        meta["complete"] = True
    except (KeyboardInterrupt, Exception) as exc:  # keep what was captured; the caller saves and re-raises
        meta["error"] = f"{type(exc).__name__}: {exc}"
        interrupted = exc
    try:
        frames = store.finish()
    except BaseException:
        store.close()
        raise
    rows = frames.shape[0]
    if not meta["complete"]:
        meta["planned_exposure_us"] = list(exposures)
    _finish_meta(meta, roi, lens.unit if lens is not None else None)
    grid = Grid(frames, np.asarray(exposures[:rows], float), np.asarray(volts, float), captured[:rows], meta)
    if interrupted is not None:
        grid.interrupted = interrupted  # type: ignore[attr-defined]
    return grid


def _resumable(
    path: str | Path,
    camera: Camera,
    exposures: list[float],
    volts: list[float],
    roi: tuple[int, int, int, int] | None,
    size: tuple[int, int],
) -> Grid:
    """The interrupted grid file ``path`` (frames not read), checked to belong to this plan (SpecError if not)."""
    prior = Grid.load(path, frames=False)
    name = repr(str(path))
    if prior.meta.get("camera") != camera.spec:
        raise SpecError(f"{name} was recorded with camera {prior.meta.get('camera')!r}, not {camera.spec!r}")
    if (list(roi) if roi is not None else None) != prior.meta.get("roi"):
        raise SpecError(f"{name} was recorded with roi {prior.meta.get('roi')}, not {list(roi) if roi else None}")
    plan = prior.planned_exposure_us
    same = len(plan) == len(exposures) and np.allclose(plan, exposures) and len(prior.lens_v) == len(volts)
    same = same and np.allclose(prior.exposure_us, plan[: len(prior.exposure_us)])
    if not same or not np.allclose(prior.lens_v, volts) or tuple(prior.frames.shape[2:]) != size:
        raise SpecError(f"{name} was recorded with other exposures, lens settings or frame size than this run")
    flat = prior.captured.reshape(-1)
    if not flat[: int(flat.sum())].all():
        raise SpecError(f"{name}: its captured frames are not one run from the start (cannot resume)")
    return prior


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
