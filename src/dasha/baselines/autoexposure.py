"""Classical auto-exposure baselines as bounded state machines with a pure ``step``.

Each method sees the free first frame's statistics at the start exposure and returns exposure commands (µs)
until it decides it has converged. Measurements are the frame's mean and median grey level (0–255), its clipped
fractions and the paper histogram's peak; no ground truth. Exposures are clamped to ``[min_us, max_us]`` (the
paper's table range by default). A measurement that is not finite (NaN, ±inf: a broken frame) ends the method
at the last good exposure — it never commands a non-finite exposure.

==================  ===========================================================================================
``basler_once``     pylon ExposureAuto "Once": brute-force loop towards AutoTargetBrightness (0.5 → mean 128),
                    each frame scaling by target/mean limited to ×/÷ 2, stop within ±6 grey levels, ≤ 30 frames
``mean_luminance``  one multiplicative update to the target mean per frame (×/÷ 8 when clipped), stop within
                    ±10 %
``agc``             libcamera-like AGC: exposure filtered towards target/mean × exposure with speed 0.2, stop when
                    the mean is within 10 % of the target
``metered_jump``    the ablation of the exposure agent's metered jump (no learning): stop when the paper's
                    histogram rule holds (peak P ∈ [50, 150]), else jump to the exposure that brings the frame's
                    median to 100 grey (×/÷ 8 when the median is clipped)
==================  ===========================================================================================
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from dasha.envs.rewards import well_exposed
from dasha.vision.histogram import grey_levels, paper_histogram_of_levels
from dasha.vision.metering import jump_ratio, median_of_levels


@dataclass(frozen=True)
class Measurement:
    """Frame statistics an AE method may use."""

    mean: float
    """Mean grey level (0–255)."""
    dark_fraction: float
    """Fraction of pixels ≤ 2."""
    bright_fraction: float
    """Fraction of pixels ≥ 253."""
    median: float = math.nan
    """Median grey level (0–255; NaN: not measured)."""
    peak: float = math.nan
    """The paper histogram's peak P (grey level; NaN: not measured)."""

    @classmethod
    def of(cls, image: np.ndarray) -> Measurement:
        """Statistics of a Mono8 frame, all from one count of its grey levels."""
        levels = grey_levels(image)
        n = image.size
        mean = float(levels @ np.arange(256.0)) / n
        dark, bright = float(levels[:3].sum()) / n, float(levels[253:].sum()) / n
        return cls(mean, dark, bright, median_of_levels(levels), paper_histogram_of_levels(levels)[2])


@dataclass(frozen=True)
class ExposureCommand:
    """Next exposure (µs) or None, and whether the method has finished."""

    exposure_us: float | None
    done: bool = False


@dataclass
class AeParams:
    """Tunables (units in the names)."""

    target_mean: float = 110.0
    """Target mean grey level (0–255)."""
    min_us: float = 1_000.0
    """Shortest exposure (µs)."""
    max_us: float = 4_500_000.0
    """Longest exposure (µs)."""
    max_frames: int = 30
    """Hard cap on exposure commands."""


class AutoExposureMethod(ABC):
    """Base class: clamps commands, counts moves, enforces the frame cap."""

    name: str = ""

    def __init__(self, params: AeParams | None = None) -> None:
        self.params = params or AeParams()
        self.moves = 0
        self.exposure_us = 0.0

    def start(self, exposure_us: float, m: Measurement) -> ExposureCommand:
        """First frame (free) at ``exposure_us`` measured ``m``."""
        self.moves, self.exposure_us = 0, exposure_us
        return self._command(self._decide(m))

    def step(self, m: Measurement) -> ExposureCommand:
        """Measurement of the frame at the last commanded exposure → next command."""
        return self._command(self._decide(m))

    def _decide(self, m: Measurement) -> float | None:
        """:meth:`decide`, or None (hold the last good exposure) for a measurement or exposure that is not finite."""
        values = (m.mean, m.dark_fraction, m.bright_fraction, self.exposure_us)
        if not all(isinstance(v, int | float | np.floating) and math.isfinite(v) for v in values):
            return None
        return self.decide(m)

    def _command(self, target: float | None) -> ExposureCommand:
        p = self.params
        if target is None or not math.isfinite(target):
            return ExposureCommand(None, done=True)
        target = float(min(max(target, p.min_us), p.max_us))
        if abs(target - self.exposure_us) < 1.0 or self.moves >= p.max_frames:
            return ExposureCommand(None, done=True)
        self.moves += 1
        self.exposure_us = target
        return ExposureCommand(target)

    @abstractmethod
    def decide(self, m: Measurement) -> float | None:
        """Next exposure (µs) from the current one and the measurement, or None when converged."""


def _ratio(m: Measurement, target: float, clip_step: float) -> float:
    """Multiplicative correction towards ``target``; a fixed big step when the frame is clipped."""
    if m.bright_fraction > 0.5 or m.mean > 250:
        return 1.0 / clip_step
    if m.dark_fraction > 0.5 or m.mean < 2:
        return clip_step
    return target / max(m.mean, 1.0)


class BaslerOnce(AutoExposureMethod):
    """pylon ExposureAuto "Once" brute-force loop (≤ 30 frames)."""

    name = "basler_once"

    def __init__(self, params: AeParams | None = None) -> None:
        super().__init__(params or AeParams(target_mean=128.0))

    def decide(self, m: Measurement) -> float | None:
        if abs(m.mean - self.params.target_mean) <= 6.0:
            return None
        r = min(max(_ratio(m, self.params.target_mean, 2.0), 0.5), 2.0)
        return self.exposure_us * r


class MeanLuminance(AutoExposureMethod):
    """Multiplicative update to the target mean (×/÷ 8 when clipped)."""

    name = "mean_luminance"

    def decide(self, m: Measurement) -> float | None:
        r = _ratio(m, self.params.target_mean, 8.0)
        if abs(math.log(r)) < math.log(1.1):
            return None
        return self.exposure_us * r


class Agc(AutoExposureMethod):
    """libcamera-like AGC: first-order filter towards the ideal exposure, speed 0.2."""

    name = "agc"
    speed = 0.2

    def decide(self, m: Measurement) -> float | None:
        r = _ratio(m, self.params.target_mean, 8.0)
        if abs(r - 1.0) < 0.1:  # mean within 10 % of the target: converged
            return None
        return self.exposure_us * (1.0 + self.speed * (r - 1.0))


class MeteredJump(AutoExposureMethod):
    """The exposure agent's metered jump without the agent: jump until the paper's histogram rule holds."""

    name = "metered_jump"

    def decide(self, m: Measurement) -> float | None:
        if not (math.isfinite(m.peak) and math.isfinite(m.median)):
            return None  # not measured: hold
        if well_exposed(m.peak):
            return None
        return self.exposure_us * jump_ratio(m.median)


AUTOEXPOSURE_METHODS: dict[str, type[AutoExposureMethod]] = {
    m.name: m for m in (BaslerOnce, MeanLuminance, Agc, MeteredJump)
}


def make_autoexposure(name: str, params: AeParams | None = None) -> AutoExposureMethod:
    """An AE baseline by name."""
    if name not in AUTOEXPOSURE_METHODS:
        raise ValueError(f"unknown AE method {name!r} (choose from: {', '.join(AUTOEXPOSURE_METHODS)})")
    return AUTOEXPOSURE_METHODS[name](params)
