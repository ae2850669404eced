"""Reading a grid file without trusting it, and the frame store ``record_grid`` streams into.

:func:`read_grid` checks everything a replay or a ``--resume`` relies on before it is used — every field a
:class:`~dasha.camera.errors.SpecError` (one line) when wrong: frames uint8 ``[E, F, H, W]``; exposures (µs) finite,
positive, strictly ascending; lens settings finite, strictly ascending, and for a volt grid inside the Varioptic's
24–70 V; ``captured`` bool ``[E, F]`` with at least one frame; ``meta`` a JSON object whose ``truth`` (if any) has
the fields the replay reads. Object arrays are never unpickled (``allow_pickle=False``).

:class:`FrameStore` holds the frames in capture order (exposure-major), in memory or appended to a spool file that
grows with what was captured — never a full-size placeholder — so an interrupted grid keeps only its captured rows.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from dasha.camera.calibration import VARIOPTIC_LIMITS
from dasha.camera.errors import SpecError
from dasha.jsonio import OutputError

GridArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]
"""``(frames, exposure_us, lens_v, captured, meta)`` as :class:`~dasha.camera.grid.Grid` holds them."""


def read_grid(path: str | Path, frames: bool = True) -> GridArrays:
    """The checked contents of a grid file (see the module docstring); ``frames=False`` reads the frames' header
    only and returns a zero-cost read-only placeholder of their shape (for ``--resume`` planning)."""
    path = Path(path)
    label = repr(str(path))
    name = f"grid file {label}"
    if not path.is_file():
        raise SpecError(f"{name} not found")
    if not zipfile.is_zipfile(path):
        raise SpecError(f"{label} is not a dasha grid file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in ("frames", "exposure_us", "lens_v"):
                if key not in z:
                    raise KeyError(key)
            shape, dtype = _frames_header(z.zip)
            data = z["frames"] if frames else np.broadcast_to(np.zeros((), np.uint8), shape)
            exp, lens = z["exposure_us"], z["lens_v"]
            captured = z["captured"] if "captured" in z else np.ones(shape[:2], bool)
            meta = json.loads(str(z["meta"])) if "meta" in z else {}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise SpecError(f"{label} is not a dasha grid file ({type(exc).__name__}: {exc})") from None
    if dtype != np.uint8 or len(shape) != 4 or min(shape[2:], default=0) < 1:
        raise SpecError(f"{name}: frames must be uint8 [exposures, lens steps, height, width], got {dtype} {shape}")
    exp = _axis(exp, name, "exposure_us", "µs")
    lens = _axis(lens, name, "lens_v", None, allow_empty=True)
    if not (exp > 0).all():
        raise SpecError(f"{name}: exposures must be positive µs, got {exp.min():g}")
    if shape[:2] != (len(exp), max(len(lens), 1)):
        raise SpecError(f"{name}: frames {shape} do not match {len(exp)} exposures × {max(len(lens), 1)} lens steps")
    if not isinstance(meta, dict):
        raise SpecError(f"{name}: meta must be a JSON object, got {type(meta).__name__}")
    unit = meta.get("lens_unit", "V")
    lo, hi = VARIOPTIC_LIMITS.low, VARIOPTIC_LIMITS.high
    if len(lens) and unit == "V" and not (lo <= lens.min() and lens.max() <= hi):
        raise SpecError(f"{name}: lens voltages {lens.min():g}–{lens.max():g} V lie outside the lens's {lo:g}–{hi:g} V")
    if captured.dtype != bool or captured.shape != shape[:2]:
        raise SpecError(f"{name}: captured must be bool {shape[:2]}, got {captured.dtype} {captured.shape}")
    if not captured.any():
        raise SpecError(f"{name}: no frame was captured")
    _check_truth(meta.get("truth"), max(len(lens), 1), name)
    return data, exp, lens, captured.astype(bool), meta


def _frames_header(archive: zipfile.ZipFile) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``frames.npy`` inside a ``.npz``, read from its header (no data read)."""
    with archive.open("frames.npy") as fh:
        version = np.lib.format.read_magic(fh)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(fh)
    if fortran:
        raise ValueError("frames are stored in Fortran order")
    return tuple(int(n) for n in shape), dtype


def _axis(values: np.ndarray, name: str, key: str, unit: str | None, allow_empty: bool = False) -> np.ndarray:
    if values.ndim != 1 or values.dtype.kind not in "iuf" or (len(values) == 0 and not allow_empty):
        raise SpecError(f"{name}: {key} must be a non-empty list of numbers, got {values.dtype} {values.shape}")
    out = values.astype(np.float64)
    if not np.isfinite(out).all():
        raise SpecError(f"{name}: {key} holds non-finite values (NaN or inf)")
    if len(out) > 1 and not (np.diff(out) > 0).all():
        raise SpecError(f"{name}: {key} must be strictly ascending")
    return out


def _check_truth(truth: Any, n_lens: int, name: str) -> None:
    """The simulator's truth fields a replay reads (``blur_px`` per lens step, the object box, distance, light)."""
    if truth is None:
        return
    try:
        blur = [float(b) for b in truth["blur_px"]]
        box = [float(v) for v in truth["object_box"]]
        for key in ("in_focus_v", "object_distance_m", "lux"):
            float(truth[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{name}: meta truth is malformed ({type(exc).__name__}: {exc})") from None
    if len(blur) != n_lens or len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise SpecError(f"{name}: meta truth needs {n_lens} blur_px values and a 4-number object_box")


class FrameStore:
    """Frames appended in capture order (exposure-major) into ``shape`` ``[E, F, H, W]`` uint8: in memory, or into
    a spool file that holds only what was captured (``OutputError`` when it cannot be written)."""

    def __init__(self, shape: tuple[int, int, int, int], spool: str | Path | None = None) -> None:
        self.shape = shape
        self.count = 0
        self._path = Path(spool) if spool is not None else None
        self._mem = np.zeros(shape, np.uint8) if spool is None else None
        self._fh: BinaryIO | None = None
        if self._path is not None:
            try:
                self._fh = open(self._path, "wb")  # closed by finish() or close()
            except OSError as exc:
                raise OutputError(self._path, exc) from None

    def append(self, image: np.ndarray) -> None:
        """Store the next frame (``H × W`` uint8)."""
        if self._mem is not None:
            self._mem.reshape(-1, *self.shape[2:])[self.count] = image
        else:
            self._write(np.ascontiguousarray(image, np.uint8).tobytes())
        self.count += 1

    def _write(self, data: bytes) -> None:
        assert self._fh is not None and self._path is not None
        try:
            self._fh.write(data)
        except OSError as exc:
            raise OutputError(self._path, exc) from None

    def finish(self) -> np.ndarray:
        """The frames of the rows reached, ``[rows, F, H, W]`` (the last row zero-padded; a read-only memory map of
        the spool file when spooled)."""
        _, f, h, w = self.shape
        rows = -(-self.count // f)
        if self._mem is not None:
            return self._mem[:rows]
        assert self._fh is not None and self._path is not None
        try:
            self._write(bytes((rows * f - self.count) * h * w))
            self._fh.close()
        except OSError as exc:
            raise OutputError(self._path, exc) from None
        if rows == 0:
            return np.zeros((0, f, h, w), np.uint8)
        return np.memmap(self._path, np.uint8, "r", shape=(rows, f, h, w))

    def close(self) -> None:
        """Close the spool file without finishing (an error path)."""
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


def copy_frames(path: str | Path, count: int, append: Callable[[np.ndarray], None]) -> None:
    """Stream the first ``count`` frames (capture order) of the grid file ``path`` into ``append``, one at a time."""
    with np.load(path, allow_pickle=False) as z, z.zip.open("frames.npy") as fh:
        version = np.lib.format.read_magic(fh)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = reader(fh)
        size = int(shape[2]) * int(shape[3])
        for _ in range(count):
            data = fh.read(size)
            if len(data) != size:
                raise SpecError(f"{str(path)!r}: the frames end early (truncated grid file)")
            append(np.frombuffer(data, np.uint8).reshape(shape[2:]))
