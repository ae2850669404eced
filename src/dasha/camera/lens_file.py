"""A measured lens curve and its ``lens.toml`` file (written by ``dasha calibrate``, read by ``--calibration``).

:class:`TabulatedCurve` is a monotone piecewise-linear map from the lens's drive (its unit: V, mA or dpt) to added
optical power (dpt) through measured points, extrapolated linearly beyond the end points. File format (TOML)::

    # dasha lens calibration: drive → added optical power, measured by `dasha calibrate`
    unit = "V"
    drive = [47.02, 47.51, 48.02, 49.01, 52.0]      # in `unit`, ascending
    power_d = [0.0, 0.5, 1.0, 2.0, 5.0]             # dpt, the same length, monotone
    distances_m = [inf, 2.0, 1.0, 0.5, 0.2]         # the target distances measured (m; inf allowed)
    camera = "sim"                                  # where it was measured (information)
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dasha.camera.base import LENS_UNITS, Lens, LensCurve
from dasha.camera.errors import ConfigError
from dasha.jsonio import write_atomic


@dataclass(frozen=True)
class TabulatedCurve(LensCurve):
    """Monotone piecewise-linear drive → dpt curve through measured points (see the module docstring).

    Attributes:
        drive_points: drive settings (``unit``), strictly increasing.
        power_points: optical power (dpt) at each, strictly monotone (increasing or decreasing).
        unit: the drive unit (``V``, ``mA`` or ``dpt``).
        distances_m: the target distances the points were measured at (m; information).
    """

    drive_points: tuple[float, ...]
    power_points: tuple[float, ...]
    unit: str = "V"  # type: ignore[misc]
    distances_m: tuple[float, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        x, y = np.asarray(self.drive_points, float), np.asarray(self.power_points, float)
        if self.unit not in LENS_UNITS:
            raise ConfigError(f"lens calibration unit must be one of {', '.join(LENS_UNITS)}, got {self.unit!r}")
        if x.ndim != 1 or len(x) < 2 or x.shape != y.shape or not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ConfigError("a lens calibration needs ≥ 2 finite (drive, power) points of the same length")
        if not (np.all(np.diff(x) > 0) and (np.all(np.diff(y) > 0) or np.all(np.diff(y) < 0))):
            raise ConfigError("lens calibration points must have increasing drives and monotone powers")

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Optical power (dpt) at ``setting`` (drive unit): linear between points, extrapolated beyond them."""
        x, y = np.asarray(self.drive_points), np.asarray(self.power_points)
        s = np.asarray(setting, np.float64)
        out = np.interp(s, x, y)
        lo_slope, hi_slope = (y[1] - y[0]) / (x[1] - x[0]), (y[-1] - y[-2]) / (x[-1] - x[-2])
        out = np.where(s < x[0], y[0] + (s - x[0]) * lo_slope, out)
        out = np.where(s > x[-1], y[-1] + (s - x[-1]) * hi_slope, out)
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        """The drive setting giving ``diopters`` dpt (the inverse; extrapolated linearly beyond the points)."""
        x, y = np.asarray(self.drive_points), np.asarray(self.power_points)
        if y[-1] < y[0]:
            x, y = x[::-1], y[::-1]
        d = float(diopters)
        if d < y[0]:
            return float(x[0] + (d - y[0]) * (x[1] - x[0]) / (y[1] - y[0]))
        if d > y[-1]:
            return float(x[-1] + (d - y[-1]) * (x[-1] - x[-2]) / (y[-1] - y[-2]))
        return float(np.interp(d, y, x))


def monotone_fit(drive: Sequence[float], power_d: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sort measured (drive, dpt) points by drive and make the powers non-decreasing by pool-adjacent-violators
    (isotonic regression: a noisy peak estimate never makes the curve fold back); equal drives are averaged."""
    order = np.argsort(np.asarray(drive, float))
    x, y = np.asarray(drive, float)[order], np.asarray(power_d, float)[order]
    blocks: list[list[float]] = []  # [sum of y, count, sum of x]
    for xi, yi in zip(x, y, strict=True):
        blocks.append([yi, 1.0, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            b = blocks.pop()
            blocks[-1] = [blocks[-1][0] + b[0], blocks[-1][1] + b[1], blocks[-1][2] + b[2]]
    return (np.asarray([b[2] / b[1] for b in blocks]), np.asarray([b[0] / b[1] for b in blocks]))


def _toml_float(v: float) -> str:
    return "inf" if v == math.inf else ("-inf" if v == -math.inf else repr(float(v)))


def save_lens_calibration(path: str | Path, curve: TabulatedCurve, camera: str = "") -> Path:
    """Write ``curve`` as a ``lens.toml`` (see the module docstring) atomically; returns the path."""
    path = Path(path)
    lines = [
        "# dasha lens calibration: drive → added optical power, measured by `dasha calibrate`",
        f'unit = "{curve.unit}"',
        "drive = [" + ", ".join(_toml_float(v) for v in curve.drive_points) + "]",
        "power_d = [" + ", ".join(_toml_float(v) for v in curve.power_points) + "]",
        "distances_m = [" + ", ".join(_toml_float(v) for v in curve.distances_m) + "]",
        f"camera = {camera!r}".replace("'", '"'),
    ]
    return write_atomic(path, "\n".join(lines) + "\n")  # temp + rename: a failed write keeps the old file


def load_lens_calibration(path: str | Path) -> TabulatedCurve:
    """Read a ``lens.toml``; ConfigError (one line) if it is missing or malformed."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"lens calibration {str(path)!r} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"lens calibration {str(path)!r} is not TOML: {exc}") from None
    try:
        drive, power = tuple(float(v) for v in doc["drive"]), tuple(float(v) for v in doc["power_d"])
        distances = tuple(float(v) for v in doc.get("distances_m", ()))
        return TabulatedCurve(drive, power, str(doc.get("unit", "V")), distances)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"lens calibration {str(path)!r}: missing or bad field ({exc})") from None


def apply_lens_calibration(lens: Lens, path: str | Path) -> TabulatedCurve:
    """Give ``lens`` the measured curve of ``path`` (its unit must be the lens's)."""
    curve = load_lens_calibration(path)
    if curve.unit != lens.unit:
        raise ConfigError(f"lens calibration {str(path)!r} maps {curve.unit}, but the lens is driven in {lens.unit}")
    lens.curve = curve
    return curve


__all__ = ["TabulatedCurve", "apply_lens_calibration", "load_lens_calibration", "monotone_fit", "save_lens_calibration"]
