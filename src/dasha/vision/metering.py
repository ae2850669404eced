"""Exposure metering of Mono8 frames: median grey, brightness statistics and the error in stops.

Whole-frame metering aims the frame's median at :data:`TARGET_GREY`; centre-weighted metering looks at the AF window
(the object) and accepts its median anywhere inside :data:`WINDOW_GOOD_GREY`, where detectors keep the object's
detail. Grey levels are 0–255 (Mono8); errors are in stops (factors of 2 of exposure).
"""

from __future__ import annotations

import math

import numpy as np

from dasha.vision.focus_measures import af_window
from dasha.vision.histogram import grey_levels

TARGET_GREY = 100.0
"""Grey level the oracle exposure aims the frame's median at (Mono8)."""
WINDOW_GOOD_GREY = (55.0, 100.0)
"""AF-window medians (Mono8) centre-weighted metering accepts: faces and bright objects keep their detail (on the
astronaut photo, haar-face detection stays ≥ 95 % for window medians 50–100, while a frame median of 120 already
loses it). Inside this range there is nothing to gain from another exposure move."""
CLIPPED_STOPS = 8.0
"""Error (stops) reported for a frame whose median is clipped (≤ 1 or ≥ 254 grey)."""
WINDOW_TARGET_GREY = math.sqrt(WINDOW_GOOD_GREY[0] * WINDOW_GOOD_GREY[1])
"""AF-window median (≈ 74 grey, the geometric middle of :data:`WINDOW_GOOD_GREY`) a centre-weighted jump aims at."""
CLIPPED_JUMP = 8.0
"""Exposure factor of a metered jump from a frame whose metered median is clipped: ÷ 8 when bright, × 8 when dark
(the frame says only which way to go)."""


def median_grey(image: np.ndarray) -> float:
    """Median grey level of a Mono8 frame (0–255)."""
    return median_of_levels(grey_levels(image))


def median_of_levels(levels: np.ndarray) -> float:
    """Median grey level (0–255) of a Mono8 frame from its 256 level counts (:func:`grey_levels`)."""
    return float(np.searchsorted(np.cumsum(levels), levels.sum() / 2))


def _clipped(median: float) -> bool:
    """A median grey level that says only which way to go (≤ 1 or ≥ 254 grey)."""
    return median <= 1 or median >= 254


def exposure_stats(image: np.ndarray) -> np.ndarray:
    """Nine brightness statistics of a Mono8 frame: percentiles 1/10/50/90/99 and mean (/255), std (/128),
    fractions of pixels ≤ 2 and ≥ 253."""
    return exposure_stats_of_levels(grey_levels(image))


def exposure_stats_of_levels(levels: np.ndarray) -> np.ndarray:
    """:func:`exposure_stats` of a Mono8 frame from its 256 level counts (:func:`grey_levels`)."""
    n = float(levels.sum())
    cdf = np.cumsum(levels) / n
    pct = np.searchsorted(cdf, [0.01, 0.10, 0.50, 0.90, 0.99]) / 255.0
    grey = np.arange(256.0)
    mean = float(levels @ grey) / n
    std = math.sqrt(max(float(levels @ (grey - mean) ** 2) / n, 0.0))
    return np.asarray([*pct, mean / 255.0, std / 128.0, cdf[2], 1.0 - cdf[252]], np.float32)


def exposure_error_stops(image: np.ndarray, centre_weighted: bool = False) -> float:
    """How far the frame is from a good exposure, in stops (clipped frames count :data:`CLIPPED_STOPS`).

    Whole frame: |log2(median / :data:`TARGET_GREY`)|. ``centre_weighted`` meters the AF window (the object)
    instead: how far its median lies outside :data:`WINDOW_GOOD_GREY` (0 inside) — detectors need the object,
    not the background, exposed.
    """
    m = median_grey(af_window(image) if centre_weighted else image)
    if _clipped(m):
        return CLIPPED_STOPS
    if centre_weighted:
        lo, hi = WINDOW_GOOD_GREY
        return max(math.log2(lo / m), math.log2(m / hi), 0.0)
    return abs(math.log2(m / TARGET_GREY))


def jump_ratio(median: float, target: float = TARGET_GREY) -> float:
    """The exposure factor that, on a linear sensor, moves a median grey level ``median`` (0–255) to ``target``:
    target / median, or ×/÷ :data:`CLIPPED_JUMP` towards the range when the median is clipped (≤ 1 or ≥ 254 grey;
    the frame then says only which way to go). Dimensionless (multiply the exposure in µs by it)."""
    if _clipped(median):
        return 1.0 / CLIPPED_JUMP if median >= 254 else CLIPPED_JUMP
    return target / median


def metered_jump_ratio(image: np.ndarray, centre_weighted: bool = False) -> float:
    """The metered jump of a Mono8 frame (:func:`jump_ratio`): the frame's median to :data:`TARGET_GREY` (100 grey),
    or with ``centre_weighted`` the AF window's median to :data:`WINDOW_TARGET_GREY` (≈ 74 grey). Grey scales with
    exposure time while the pixels around the median do not clip, so one move lands there."""
    if centre_weighted:
        return jump_ratio(median_grey(af_window(image)), WINDOW_TARGET_GREY)
    return jump_ratio(median_grey(image))


__all__ = [
    "CLIPPED_JUMP",
    "TARGET_GREY",
    "WINDOW_GOOD_GREY",
    "WINDOW_TARGET_GREY",
    "exposure_error_stops",
    "exposure_stats",
    "jump_ratio",
    "median_grey",
    "median_of_levels",
    "metered_jump_ratio",
]
