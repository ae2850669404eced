"""Geometric optics of the simulated camera: thin lens + liquid lens, disc (pillbox) defocus PSF.

Model (thin lens, geometric defocus, a smooth monotone liquid-lens power curve):

* Main lens: thin lens, focal length ``f`` = 16 mm, f-number ``N`` (aperture diameter ``A = f/N``),
  focused at ``1/s0`` diopters (default 0: infinity).
* Liquid lens in front of it adds optical power ``P(V)`` (diopters); the in-focus object vergence is
  ``D_focus = 1/s0 + κ·P(V)`` with κ = 1 (front-mounted).
* An object at distance ``d`` has vergence ``D = 1/d`` (0 at infinity). Its defocus is ``ΔD = D_focus − D`` and
  its blur-circle diameter on the sensor is ``c = f²·|ΔD| / N`` (thin lens, ``v_s ≈ f``), i.e. 16.6 px per
  diopter at f/2.8 with 5.5 µm pixels.
* The PSF is a uniform disc of diameter ``c`` rendered with anti-aliased coverage at native pixel pitch
  (:class:`PyramidBlur` keeps large blurs cheap without changing their size).

:class:`VariopticCurve` (V → dpt) and :data:`VARIOPTIC_LIMITS` (24–70 V) are calibration, defined in
:mod:`dasha.camera.calibration` and re-exported here (old imports keep working).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import lru_cache

import cv2
import numpy as np

from dasha.camera.calibration import VARIOPTIC_LIMITS, Optics, VariopticCurve

__all__ = ["VARIOPTIC_LIMITS", "Optics", "PyramidBlur", "VariopticCurve", "blur_disc", "disc_kernel"]


@lru_cache(maxsize=512)
def disc_kernel(diameter_px: float, supersample: int = 8) -> np.ndarray:
    """Anti-aliased uniform disc of ``diameter_px`` (native px), normalised to sum 1 (float32).

    Each kernel pixel holds the fraction of its area inside the disc (``supersample``² sub-samples),
    so the second radial moment matches that of the continuous disc, ``E[r²] = c²/8``.
    """
    if diameter_px <= 0:
        return np.ones((1, 1), np.float32)
    r = diameter_px / 2.0
    half = math.ceil(r + 0.5)
    n = 2 * half + 1
    sub = (np.arange(n * supersample) + 0.5) / supersample - half - 0.5
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    inside = (xx**2 + yy**2 <= r * r).astype(np.float32)
    k = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    if k.sum() == 0:  # disc smaller than one sub-sample: a point
        k[half, half] = 1.0
    return (k / k.sum()).astype(np.float32)


def blur_disc(image: np.ndarray, diameter_px: float) -> np.ndarray:
    """Convolve ``image`` (float32, H×W or H×W×C) with a disc PSF of ``diameter_px``; reflective borders."""
    if diameter_px < 0.05:
        return image
    return cv2.filter2D(image, -1, disc_kernel(round(diameter_px, 3)), borderType=cv2.BORDER_REFLECT101)


#: Largest disc diameter (px) blurred directly; larger blurs run on a 2^k-downsampled copy (kernel ≤ 11 px).
DIRECT_MAX_DIAMETER_PX = 8.0


class PyramidBlur:
    """Disc-PSF blur of one fixed float32 layer stack at any diameter, fast on one core.

    Small diameters (≤ 8 px) are convolved directly at native resolution. A larger diameter ``c`` runs on a
    copy area-downsampled by ``s = 2^k`` (so that ``c/s ≤ 8``) with a disc of diameter
    ``c' = sqrt(c² − 4s²)`` and is upsampled bilinearly: the box (s²/12) and bilinear (s²/6) per-axis variances
    plus the disc's ``c'²/16`` add up to the exact disc variance ``c²/16``. The blurred output is smooth at
    that scale, so nothing visible is lost, and every blur costs a kernel of ≤ 11×11 taps.

    Results are cached (LRU) by diameter rounded to 0.01 px, so sweeps and grids re-use them.
    """

    def __init__(self, layer: np.ndarray, max_cached: int = 64) -> None:
        self.layer = np.ascontiguousarray(layer, dtype=np.float32)
        self.shape = self.layer.shape[:2]
        self.max_cached = max_cached
        self._pyramid: dict[int, np.ndarray] = {1: self.layer}
        self._cache: OrderedDict[float, np.ndarray] = OrderedDict()

    def _down(self, s: int) -> np.ndarray:
        if s not in self._pyramid:
            h, w = self.shape
            size = (max(1, math.ceil(w / s)), max(1, math.ceil(h / s)))
            self._pyramid[s] = cv2.resize(self.layer, size, interpolation=cv2.INTER_AREA)
        return self._pyramid[s]

    def at(self, diameter_px: float) -> np.ndarray:
        """The layer blurred by a disc of ``diameter_px`` native px (float32; do not modify in place)."""
        c = round(max(float(diameter_px), 0.0), 2)
        hit = self._cache.get(c)
        if hit is not None:
            self._cache.move_to_end(c)
            return hit
        if c <= DIRECT_MAX_DIAMETER_PX:
            out = blur_disc(self.layer, c)
        else:
            s = 2 ** math.ceil(math.log2(c / DIRECT_MAX_DIAMETER_PX))
            small = blur_disc(self._down(s), math.sqrt(c * c - 4.0 * s * s) / s)
            h, w = self.shape
            out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        self._cache[c] = out
        if len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return out
