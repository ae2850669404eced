"""Action decoders: an agent's action → the setting to command, clamped to **the driven device's** limits.

========================  ====================================================================================
paper exposure            ``Discrete(148)``: index into the paper's exposure table (µs)
paper lens                ``MultiDiscrete([47, 100])``: (coarse, fine) → ``24 + coarse + fine/100`` V
ours exposure             ``Discrete(33)``: 0 = stop (hand over); k = 1…32 multiplies the exposure by 2^s,
                          s ∈ ±{⅓, ⅔, …, 3, 4, 5, …, 10} stops; with ``exposure_meter_actions``
                          ``Discrete(35)``: 33 jumps to the exposure that brings the frame's median to 100 grey, 34
                          the AF window's median to ≈ 74 grey (:func:`dasha.vision.metering.metered_jump_ratio`)
ours lens                 ``Discrete(41)``: 0 = stop; k = 1…40 moves the lens by ±δ, δ ∈ 20 geometric steps
                          0.04–12 V; with ``lens_fit_actions`` ``Discrete(43)``: 41 jumps to the focus fit's best
                          voltage, 42 to its best voltage on the other side of the lens (the fit of the phase's
                          frames, :mod:`dasha.envs.focus_fit`)
========================  ====================================================================================

Every decoded exposure lies inside the camera's ``exposure_limits`` (and, for our relative moves, inside
:data:`OURS_EXPOSURE_RANGE_US`); every decoded lens drive inside the lens's ``limits``: a camera stopping at 1 s or a
lens narrower than 24–70 V never receives an out-of-range command from an agent. ``decode`` returns None for our
stop action (nothing to command).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dasha.camera import EXPOSURE_TABLE_US
from dasha.camera.base import Camera, Lens
from dasha.envs.focus_fit import FocusFit
from dasha.vision.metering import metered_jump_ratio

EXPOSURE_TABLE = np.asarray(EXPOSURE_TABLE_US, dtype=np.float64)
_FINE_STOPS = np.arange(1, 10) / 3.0  # ⅓ … 3 stops
_COARSE_STOPS = np.arange(4.0, 11.0)  # 4 … 10 stops
EXPOSURE_STOPS = np.concatenate([-np.concatenate([_FINE_STOPS, _COARSE_STOPS])[::-1], _FINE_STOPS, _COARSE_STOPS])
"""Our relative exposure moves (stops; ×2^s): ⅓-stop steps up to ±3 stops, whole stops from ±4 to ±10, so one
move can cross the whole exposure range once the frame is not clipped."""
LENS_STEPS_V = np.geomspace(0.04, 12.0, 20)
"""Magnitudes of our relative lens moves (V)."""
LENS_MOVES_V = np.concatenate([-LENS_STEPS_V[::-1], LENS_STEPS_V])
"""Our signed relative lens moves (V), action k = 1…40 ↦ LENS_MOVES_V[k − 1]."""
PAPER_LENS_BASE_V = 24.0
"""The paper's absolute lens action starts at the Varioptic lens's lowest drive (V)."""
PAPER_LENS_NVEC = (47, 100)
OURS_EXPOSURE_RANGE_US = (24.0, 4_500_000.0)
"""Our exposure moves span the CMV2000's range (from 24 µs) up to the paper's longest exposure (4.5 s), within what
the driven camera allows."""
STOP = 0
METER_JUMPS = ("frame", "window")
"""The ``exposure_meter_actions`` jumps, actions 33 and 34: the whole frame's median to 100 grey, the AF window's to
≈ 74 grey (one move on a linear sensor; ×/÷ 8 when that median is clipped)."""
FIT_JUMPS = ("fit", "other")
"""The ``lens_fit_actions`` jumps, actions 41 and 42: to :attr:`FocusFit.best_v` and :attr:`FocusFit.other_v` (V)."""


def integer_action(action: Any) -> np.ndarray:
    """``action`` as a flat int64 array; ValueError unless every element is an integer (an int, or a float with no
    fractional part): a float action such as 3.7 is refused, never truncated to 3; NaN, ±inf and booleans too."""
    try:
        a = np.asarray(action)
    except (TypeError, ValueError):
        raise ValueError(f"action {action!r} is not an integer index") from None
    if a.size == 0 or a.dtype.kind not in "iuf":
        raise ValueError(f"action {action!r} is not an integer index (dtype {a.dtype})")
    if a.dtype.kind == "f" and not (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
        raise ValueError(f"action {action!r} is not an integer index (a float action is refused, not truncated)")
    return a.astype(np.int64).ravel()


def checked_action(action: Any, space: gym.spaces.Space) -> np.ndarray:
    """``action`` as an int64 array of ``space``'s shape; ValueError with the reason unless it is an integer action
    inside ``space`` (:func:`integer_action`)."""
    a = integer_action(action)
    shape = space.shape or ()
    if a.size != int(np.prod(shape, dtype=np.int64)) or not space.contains(a.reshape(shape)):
        raise ValueError(f"invalid action {action!r} for {space}")
    return a.reshape(shape)


def _index(action: Any) -> int:
    return int(integer_action(action)[0])


def exposure_range_us(camera: Camera) -> tuple[float, float]:
    """The exposures (µs) our relative moves, the AE baselines and the bracket may command on ``camera``."""
    lim = camera.exposure_limits
    return max(OURS_EXPOSURE_RANGE_US[0], lim.low), min(OURS_EXPOSURE_RANGE_US[1], lim.high)


def paper_lens_voltage(action: Any) -> float:
    """The paper's absolute lens action (coarse, fine) → voltage (V), before the lens's limits: 24 + coarse + fine/100
    (the authors clip at 70 V, the Varioptic lens's top)."""
    coarse, fine = (int(x) for x in integer_action(action)[:2])
    return min(PAPER_LENS_BASE_V + coarse + fine / 100.0, 70.0)


class ExposureActions:
    """Exposure action space and decoder of a mode (``paper`` or ``ours``; ``meter_jumps``: ours with the two
    metered jumps, :data:`METER_JUMPS`)."""

    def __init__(self, mode: str, meter_jumps: bool = False) -> None:
        self.paper_mode = mode == "paper"
        self.meter_jumps = meter_jumps and not self.paper_mode
        n = 1 + len(EXPOSURE_STOPS) + (len(METER_JUMPS) if self.meter_jumps else 0)
        self.space: gym.spaces.Space = gym.spaces.Discrete(len(EXPOSURE_TABLE) if self.paper_mode else n)

    def decode(self, action: Any, camera: Camera, image: np.ndarray | None = None) -> float | None:
        """The exposure (µs) ``action`` commands on ``camera`` (within its limits), or None for our stop; a metered
        jump needs ``image``, the Mono8 frame at the camera's current exposure."""
        a = _index(action)
        if self.paper_mode:
            return camera.exposure_limits.clip(float(EXPOSURE_TABLE[a]))
        if a == STOP:
            return None
        if a > len(EXPOSURE_STOPS):
            if not self.meter_jumps:
                raise ValueError(f"exposure action {a} is a metered jump, but this exposure phase has none")
            if image is None:
                raise ValueError("a metered jump needs the frame at the current exposure")
            factor = metered_jump_ratio(image, centre_weighted=a == len(EXPOSURE_STOPS) + 2)
        else:
            factor = 2.0 ** EXPOSURE_STOPS[a - 1]
        lo, hi = exposure_range_us(camera)
        return float(min(max(camera.exposure_us * factor, lo), hi))


class LensActions:
    """Lens action space and decoder of a mode (``paper`` or ``ours``); volt lenses (the policies' unit)."""

    def __init__(self, mode: str, fit_jumps: bool = False) -> None:
        self.paper_mode = mode == "paper"
        self.fit_jumps = fit_jumps and not self.paper_mode
        n = 1 + len(LENS_MOVES_V) + (len(FIT_JUMPS) if self.fit_jumps else 0)
        self.space: gym.spaces.Space = (
            gym.spaces.MultiDiscrete(PAPER_LENS_NVEC) if self.paper_mode else gym.spaces.Discrete(n)
        )

    def is_jump(self, action: Any) -> bool:
        """Whether ``action`` is one of the fit jumps (its target comes from the focus fit)."""
        return self.fit_jumps and _index(action) > len(LENS_MOVES_V)

    def decode(self, action: Any, lens: Lens, fit: FocusFit | None = None) -> float | None:
        """The drive (V) ``action`` commands on ``lens`` (within its limits), or None for our stop; a fit jump needs
        ``fit`` (a :class:`~dasha.envs.focus_fit.FocusFit` of the phase's frames) and goes to its voltage."""
        if self.paper_mode:
            return lens.limits.clip(paper_lens_voltage(action))
        a = _index(action)
        if a == STOP:
            return None
        if a > len(LENS_MOVES_V):
            if not self.fit_jumps:
                raise ValueError(f"lens action {a} is a fit jump, but this lens phase has none")
            if fit is None:
                raise ValueError("a fit jump needs the focus fit of the phase's frames")
            target = fit.best_v if a == len(LENS_MOVES_V) + 1 else fit.other_v
            return lens.limits.clip(float(target) if np.isfinite(target) else lens.voltage)
        return lens.limits.clip(lens.voltage + float(LENS_MOVES_V[a - 1]))


__all__ = [
    "EXPOSURE_STOPS",
    "EXPOSURE_TABLE",
    "FIT_JUMPS",
    "LENS_MOVES_V",
    "LENS_STEPS_V",
    "METER_JUMPS",
    "OURS_EXPOSURE_RANGE_US",
    "PAPER_LENS_NVEC",
    "STOP",
    "ExposureActions",
    "LensActions",
    "checked_action",
    "exposure_range_us",
    "integer_action",
    "paper_lens_voltage",
]
