"""Where is focus? A least-squares fit of the episode's blur estimates against the thin-lens defocus model.

Each frame ``i`` of a focus episode gives the lens voltage ``V_i`` (known) and an estimated object blur ``b̂_i``
(px, :func:`dasha.vision.blur_estimator.defocus_estimate`). The thin-lens model predicts the blur of an object at
vergence ``O`` (dpt) as ``b_i(O) = |F(V_i) − O| · px_per_diopter``, with ``F(V)`` the focus vergence of the lens
at ``V`` (:class:`~dasha.camera.calibration.Optics`, the lens curve). Over a grid of object vergences inside the
configured distance range, the fit minimises the mean squared log error

    cost(O) = mean_i (log(1 + b̂_i) − log(1 + b_i(O)))²

which is depth from defocus by triangulation (Subbarao & Surya 1994 do the same with two frames and a Gaussian
PSF). One frame leaves two mirror-image answers, one either side of the lens; two frames at different voltages
usually pick one. The fit reports the best answer and the best one on the *other* side of the current voltage,
with their RMS log errors, so a policy can tell a sure fit from an ambiguous one. Cost: ≈ 50 µs per call
(the grid's voltages are computed once per focus model, lens curve and range, whatever the f-number).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dasha.camera.base import LensCurve
from dasha.camera.calibration import Optics

GRID_STEP_D = 0.005
"""Object-vergence grid step (dpt): 0.08 px of blur at f/2.8, far below the estimator's error."""
MAX_RMS = 2.0
"""RMS log error reported when no answer exists on the other side (the prior range excludes it)."""


@dataclass(frozen=True)
class FocusFit:
    """Result of :func:`fit_focus` (voltages in V, errors as RMS of log(1 + px))."""

    best_v: float
    """Lens voltage (V) that focuses the best-fitting object distance."""
    best_rms: float
    """RMS log error of the best fit."""
    other_v: float
    """Best-fitting voltage (V) on the other side of the current voltage (= ``best_v`` if there is none)."""
    other_rms: float
    """Its RMS log error (:data:`MAX_RMS` if there is none)."""


def fit_focus(
    lens_v: Sequence[float],
    log_blur: Sequence[float],
    optics: Optics,
    curve: LensCurve,
    vergence_d: tuple[float, float],
) -> FocusFit:
    """Fit the object's vergence to frames taken at ``lens_v`` (V) with estimated ``log(1 + blur_px)``.

    Args:
        lens_v: lens voltage of each frame (V); the last one is the current voltage.
        log_blur: ``log(1 + estimated object blur in px)`` of each frame.
        optics: the camera optics (focal length, f-number, pixel pitch; :attr:`Optics.px_per_diopter`).
        curve: the liquid lens's voltage → power curve.
        vergence_d: prior range of the object's vergence (dpt): ``(1 / far, 1 / near)``.
    """
    if len(lens_v) != len(log_blur) or not lens_v:
        raise ValueError("fit_focus needs one log blur per lens voltage, at least one frame")
    grid, grid_v = _grid(vergence_d, optics.base_focus_d, optics.kappa, curve)  # not the f-number: one grid per lens
    focus = optics.base_focus_d + optics.kappa * np.asarray(curve.power(np.asarray(lens_v, float)), float)
    predicted = np.log1p(np.abs(focus[None, :] - grid[:, None]) * optics.px_per_diopter)
    cost = np.mean((predicted - np.asarray(log_blur, float)[None, :]) ** 2, axis=1)
    best = int(np.argmin(cost))
    best_v, best_rms = float(grid_v[best]), min(math.sqrt(cost[best]), MAX_RMS)
    other_side = (grid > focus[-1]) != (grid[best] > focus[-1])
    if not other_side.any():
        return FocusFit(best_v, best_rms, best_v, MAX_RMS)
    other = int(np.flatnonzero(other_side)[np.argmin(cost[other_side])])
    return FocusFit(best_v, best_rms, float(grid_v[other]), min(math.sqrt(cost[other]), MAX_RMS))


@lru_cache(maxsize=32)
def _grid(vergence_d: tuple[float, float], base_focus_d: float, kappa: float, curve: LensCurve) -> tuple[
        np.ndarray, np.ndarray]:  # fmt: skip
    """Object vergences (dpt) of the fit and the lens voltage (V) that focuses each: it depends on the optics'
    focus model (``base_focus_d``, ``kappa``), not on the f-number, so an episode's aperture reuses it."""
    lo, hi = vergence_d
    grid = np.linspace(lo, hi, max(2, math.ceil((hi - lo) / GRID_STEP_D) + 1))
    optics = Optics(base_focus_d=base_focus_d, kappa=kappa)
    volts = np.asarray([curve.drive(optics.in_focus_power(float(o))) for o in grid])  # in the lens's drive unit
    return grid, volts
