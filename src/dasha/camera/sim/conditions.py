"""Extreme conditions on the simulated optical image (the paper's future work): rain, dust, glare, motion blur.

A :class:`Conditions` acts on the reflectance image (float32 H×W, 1 = a white diffuse surface) after the scene's
defocus and before the sensor model, so exposure, noise and clipping treat it like any light reaching the sensor:

* ``rain`` — streaks (thin, bright, slanted segments of falling drops, new every frame) and drops on the cover glass
  (discs, out of focus so close to the lens: each shows a strongly blurred, slightly brighter patch of the scene);
* ``dust`` — particles on the optics: soft dark blobs that attenuate the light (static for an episode);
* ``glare`` — veiling light (a uniform added luminance that lowers contrast) and a bright source near an image edge
  (a Gaussian highlight that clips);
* ``motion`` — linear motion blur of the whole image (camera shake or a moving object) along one direction per
  episode.

Darkness is not a condition but an illuminance (``lux`` down to 0.01 lx). ``strength`` ∈ [0, 1] scales each effect
(1: heavy rain, a dusty lens, a low sun, ≈ 15 px of motion). Static elements (dust, the glare source, the motion
direction) are drawn from ``seed`` — the camera reseeds them per episode; rain is drawn from the frame's noise
generator, so a noise-free render shows no streaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

CONDITIONS = ("none", "rain", "dust", "glare", "motion")
"""Names :class:`Conditions` accepts."""


@dataclass(frozen=True)
class Conditions:
    """One condition at a strength (see the module docstring).

    Attributes:
        kind: one of :data:`CONDITIONS`.
        strength: 0 (off) … 1 (heavy).
    """

    kind: str = "none"
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CONDITIONS:
            raise ValueError(f"unknown condition {self.kind!r} (choose from: {', '.join(CONDITIONS)})")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"condition strength must be in [0, 1], got {self.strength!r}")

    def apply(self, image: np.ndarray, seed: int, rng: np.random.Generator | None) -> np.ndarray:
        """The reflectance ``image`` seen through the condition (a new float32 array; ``image`` is not changed).

        Args:
            image: reflectance, float32 H×W.
            seed: the episode's seed (static elements: dust, glare source, motion direction).
            rng: the frame's noise generator (rain streaks); None for a noise-free render (no streaks).
        """
        s = self.strength
        if self.kind == "none" or s <= 0.0:
            return image
        fixed = np.random.default_rng([int(seed), CONDITIONS.index(self.kind)])
        out = image.astype(np.float32, copy=True)
        if self.kind == "rain":
            return _rain(out, s, fixed, rng)
        if self.kind == "dust":
            return _dust(out, s, fixed)
        if self.kind == "glare":
            return _glare(out, s, fixed)
        return _motion(out, s, fixed)


def _rain(img: np.ndarray, s: float, fixed: np.random.Generator, rng: np.random.Generator | None) -> np.ndarray:
    h, w = img.shape
    blurred = cv2.GaussianBlur(img, (0, 0), sigmaX=max(h, w) / 40)
    mask = np.zeros_like(img)
    for _ in range(round(12 * s)):  # drops on the cover glass (they stay for the episode)
        cx, cy, r = fixed.uniform(0, w), fixed.uniform(0, h), fixed.uniform(0.015, 0.05) * max(h, w)
        cv2.circle(mask, (round(cx), round(cy)), max(round(r), 1), 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=2.0)
    img = img * (1 - mask) + 1.1 * blurred * mask
    if rng is not None:  # streaks: new every frame
        streaks = np.zeros_like(img)
        for _ in range(round(60 * s)):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            length, angle = rng.uniform(0.05, 0.15) * h, math.radians(rng.uniform(70, 85))
            x2, y2 = x + length * math.cos(angle), y + length * math.sin(angle)
            cv2.line(streaks, (round(x), round(y)), (round(x2), round(y2)), 1.0, 1)
        streaks = cv2.GaussianBlur(streaks, (0, 0), sigmaX=0.8)
        img = img + 0.35 * s * streaks
    return img.astype(np.float32)


def _dust(img: np.ndarray, s: float, fixed: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    shade = np.zeros_like(img)
    for _ in range(round(30 * s)):
        cx, cy, r = fixed.uniform(0, w), fixed.uniform(0, h), fixed.uniform(0.01, 0.06) * max(h, w)
        cv2.circle(shade, (round(cx), round(cy)), max(round(r), 1), float(fixed.uniform(0.3, 0.7)), -1)
    shade = cv2.GaussianBlur(shade, (0, 0), sigmaX=max(h, w) / 60)
    return (img * (1.0 - np.clip(shade, 0.0, 0.9))).astype(np.float32)


def _glare(img: np.ndarray, s: float, fixed: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    veil = 0.4 * s * float(img.mean())  # veiling light: the same added luminance everywhere
    edge = int(fixed.integers(4))
    cx = fixed.uniform(0, w) if edge in (0, 1) else (0.0 if edge == 2 else float(w))
    cy = fixed.uniform(0, h) if edge in (2, 3) else (0.0 if edge == 0 else float(h))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = 0.18 * max(h, w)
    source = 4.0 * s * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    return (img + veil + source).astype(np.float32)


def _motion(img: np.ndarray, s: float, fixed: np.random.Generator) -> np.ndarray:
    length = max(1, round(15 * s))
    if length <= 1:
        return img
    angle = fixed.uniform(0, math.pi)
    kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    c = length
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT).astype(np.float32)


__all__ = ["CONDITIONS", "Conditions"]
