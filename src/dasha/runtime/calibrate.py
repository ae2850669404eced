"""Measure a lens's drive → dioptre curve on a rig (``dasha calibrate``): one sharpness sweep per target distance.

For each target distance d the target (a textured, planar object filling the AF window) is placed at d — by the
operator on a real rig (``move_target`` prompts), by the simulator or the twin themselves — and the lens is swept
over its whole drive range (coarse, :data:`COARSE_STEPS` frames), then finely around the sharpest frame
(:data:`FINE_STEPS` frames over ±2 coarse steps); the vertex of the parabola through the three best log-contrast
samples is the drive that focuses d. There, the lens adds the power that focuses vergence 1/d
(:meth:`~dasha.camera.calibration.Optics.in_focus_power`; ``inf`` → 0 dpt). A monotone (isotonic) fit through the
points (:func:`~dasha.camera.lens_file.monotone_fit`) is the curve, written as ``lens.toml``. Before each sweep a
classical AE baseline (``mean_luminance``) exposes the target. Needs the camera's optics (focal length, f-number,
pitch); the drive unit is the lens's own (V, mA or dpt).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dasha.baselines.loops import exposure_method
from dasha.camera.base import Camera
from dasha.camera.errors import ConfigError
from dasha.camera.lens_file import TabulatedCurve, monotone_fit
from dasha.envs.config import EnvConfig
from dasha.envs.perception import Perception
from dasha.vision.focus_measures import af_window, parabola_peak, tenengrad

COARSE_STEPS = 47
"""Frames of the coarse sweep over the lens's whole range (1 V steps on a 24–70 V Varioptic lens, as the paper's)."""
FINE_STEPS = 41
"""Frames of the fine sweep over ±2 coarse steps around the sharpest coarse frame (0.1 V steps on that lens)."""


@dataclass
class CalibrationPoint:
    """One target distance's measurement."""

    distance_m: float
    drive: float
    """The drive (lens unit) that focuses the target best."""
    power_d: float
    """The power (dpt) the lens adds there: the in-focus power of vergence 1/distance."""
    frames: int


def _log_contrast(camera: Camera) -> float:
    return math.log10(float(tenengrad(af_window(camera.capture().image), normalize=True)) + 1e-9)


def _sweep(camera: Camera, drives: np.ndarray) -> list[tuple[float, float]]:
    lens = camera.lens
    assert lens is not None
    out = []
    for d in drives:
        lens.set_setting(float(lens.limits.clip(float(d))))
        out.append((lens.setting, _log_contrast(camera)))
    return out


def sharpest_drive(camera: Camera) -> tuple[float, int]:
    """The drive (lens unit) of the sharpest AF window over the lens's range, and the frames it took."""
    lens = camera.lens
    if lens is None:
        raise ConfigError("calibration needs a camera with a lens (give --lens SPEC)")
    lo, hi = lens.limits.low, lens.limits.high
    coarse = _sweep(camera, np.linspace(lo, hi, COARSE_STEPS))
    step = (hi - lo) / (COARSE_STEPS - 1)
    best = max(coarse, key=lambda p: p[1])[0]
    fine = _sweep(camera, np.linspace(max(lo, best - 2 * step), min(hi, best + 2 * step), FINE_STEPS))
    samples = sorted(coarse + fine)
    k = int(np.argmax([c for _, c in samples]))
    k = min(max(k, 1), len(samples) - 2)
    (x0, y0), (x1, y1), (x2, y2) = samples[k - 1 : k + 2]
    return float(parabola_peak([x0, x1, x2], [y0, y1, y2])), len(samples)


def calibrate_lens(
    camera: Camera,
    distances_m: Sequence[float],
    move_target: Callable[[float], None],
    on_point: Callable[[CalibrationPoint], None] | None = None,
) -> tuple[TabulatedCurve, list[CalibrationPoint]]:
    """Measure the lens curve of ``camera`` at ``distances_m`` (m; ``inf`` allowed); see the module docstring.

    Args:
        camera: a camera with a lens and optics calibration (focal length, f-number, pixel pitch).
        distances_m: at least two distinct target distances.
        move_target: puts the target at a distance (m) before its sweep (a prompt on a real rig).
        on_point: called with each measured point (progress).
    """
    if len(set(distances_m)) < 2:
        raise ConfigError("calibration needs at least two distinct target distances (m)")
    if any(not (d >= 0.05) for d in distances_m):
        raise ConfigError(f"target distances must be ≥ 0.05 m (or inf), got {list(distances_m)}")
    if camera.optics is None:
        raise ConfigError(f"camera {camera.spec!r} reports no optics (focal length, f-number, pixel pitch)")
    if camera.lens is None:
        raise ConfigError("calibration needs a camera with a lens (give --lens SPEC)")
    perception = Perception(EnvConfig(detector="estimated-focus"), camera)
    points = []
    for d in distances_m:
        move_target(float(d))
        perception.start_episode()
        lens = camera.lens
        lens.set_setting(0.5 * (lens.limits.low + lens.limits.high))  # expose the target at mid-range focus
        exposure_method(perception, "mean_luminance", perception.capture())
        drive, frames = sharpest_drive(camera)
        vergence = 0.0 if math.isinf(d) else 1.0 / d
        points.append(CalibrationPoint(float(d), drive, camera.optics.in_focus_power(vergence), frames))
        if on_point is not None:
            on_point(points[-1])
    x, y = monotone_fit([p.drive for p in points], [p.power_d for p in points])
    if len(x) < 2:
        raise ConfigError("the sweeps found the same focus drive at every distance: is the target textured and lit?")
    by_drive = [p.distance_m for p in sorted(points, key=lambda p: p.drive)]
    distances = tuple(by_drive) if len(by_drive) == len(x) else ()  # pooled points have no single distance
    return TabulatedCurve(tuple(x), tuple(y), camera.lens.unit, distances), points


__all__ = ["COARSE_STEPS", "FINE_STEPS", "CalibrationPoint", "calibrate_lens", "sharpest_drive"]
