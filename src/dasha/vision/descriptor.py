"""The ``default`` encoder's hand-built no-reference descriptor of exposure and focus (64 features, ≈0.5 ms).

Exposure: a fine histogram, percentiles and clipping fractions. Focus: multi-scale gradient energy and radial
spectral band ratios, normalised by the image's own contrast so that blur size, not brightness, moves them (a disc
blur of diameter c removes spectral power above ≈1.22/c cycles/px).

Layout (all roughly unit-scaled):

======  ======================================================================================
0–31    32-bin grey histogram over 0–255, fractions × 4
32–36   percentiles 1, 10, 50, 90, 99 of the grey level / 255
37–39   mean / 255, std / 128, log10 of the std
40–41   fractions of pixels at ≤ 2 (black-clipped) and ≥ 253 (saturated)
42–45   gradient energy at scales 1, 2, 4, 8 px, log10 of mean |∇I|² / (σ² + 1)
46–57   12 radial spectral bands (log-spaced 1/64 … 0.5 cycles/px) log10 share of the AC power
58–61   band ratios high/mid: log10 of neighbouring-octave power ratios at the 4 highest octaves
62–63   Laplacian energy log10 (mean Δ² / (σ² + 1)) and a noise estimate (median |Δ| / 128)
======  ======================================================================================
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from dasha.vision.histogram import grey_levels

DESCRIPTOR_DIM = 64
FOCUS_FEATURES = slice(42, 64)
"""The focus features (gradient energies, spectral bands and ratios, Laplacian, noise): :func:`describe_focus`."""
N_BANDS = 12
FFT_SIZE = 128
"""Frames are area-resized to at most this size per side for the spectrum (px)."""


@lru_cache(maxsize=16)
def _radial_bins(h: int, w: int, n_bands: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Band index of every rFFT coefficient (log-spaced radial bands, cycles/px 1/64 … 0.5) and the window."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    r = np.sqrt(fy**2 + fx**2)
    edges = np.geomspace(1.0 / 64.0, 0.5, n_bands + 1)
    idx = np.searchsorted(edges, r, side="right") - 1  # -1 below the first edge (DC and lowest frequencies)
    idx[(r > 0.5)] = n_bands - 1  # corners beyond Nyquist radius join the top band
    idx = np.where(idx < 0, n_bands, idx).astype(np.int32)  # n_bands = the discarded lowest band
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    return idx.ravel(), window, n_bands


def describe(img: np.ndarray) -> np.ndarray:
    """The 64 descriptor features of one uint8 grey frame (float32; layout in the module docstring)."""
    out = np.empty(64, np.float32)
    n = img.size
    counts = grey_levels(img).astype(np.float64)
    out[0:32] = counts.reshape(32, 8).sum(axis=1) / n * 4.0
    cdf = np.cumsum(counts) / n
    out[32:37] = np.searchsorted(cdf, [0.01, 0.10, 0.50, 0.90, 0.99]) / 255.0
    mean, var = _moments(counts, n)
    std = math.sqrt(var)
    out[37:40] = (mean / 255.0, std / 128.0, math.log10(std + 1e-3))
    out[40] = cdf[2]
    out[41] = 1.0 - cdf[252]
    out[FOCUS_FEATURES] = _focus(img, mean, var)
    return out


def describe_focus(img: np.ndarray) -> np.ndarray:
    """The descriptor's focus features alone (:data:`FOCUS_FEATURES`, 22 float32 values), for what needs no
    exposure features (the defocus estimate's AF window): ``describe(img)[FOCUS_FEATURES]``, without the rest."""
    counts = grey_levels(img).astype(np.float64)
    return _focus(img, *_moments(counts, img.size))


def _moments(counts: np.ndarray, n: int) -> tuple[float, float]:
    """Mean and variance of the grey level from its 256 counts."""
    levels = np.arange(256.0)
    mean = float(counts @ levels / n)
    return mean, float(counts @ (levels - mean) ** 2 / n)


def _focus(img: np.ndarray, mean: float, var: float) -> np.ndarray:
    """Features 42–63 (gradient energies, spectral bands and ratios, Laplacian, noise) of a frame of that mean and
    variance."""
    out = np.empty(FOCUS_FEATURES.stop - FOCUS_FEATURES.start, np.float32)
    x = img.astype(np.float32)
    norm = var + 1.0
    level = x
    for k in range(4):  # Σ of squared neighbour differences along x and along y
        sq_x = cv2.norm(level[:, 1:], level[:, :-1], cv2.NORM_L2SQR)
        energy = (sq_x + cv2.norm(level[1:, :], level[:-1, :], cv2.NORM_L2SQR)) / level.size
        out[k] = math.log10(energy / norm + 1e-6)
        if k < 3:
            level = cv2.pyrDown(level)
    out[4:20] = _spectrum(x, mean)
    lap = cv2.Laplacian(x, cv2.CV_32F, ksize=1)[1:-1, 1:-1]  # the 4-neighbour Laplacian of the interior pixels
    out[20] = math.log10(cv2.norm(lap, cv2.NORM_L2SQR) / lap.size / norm + 1e-6)
    out[21] = float(np.median(np.abs(lap[::4, ::4]))) / 128.0
    return out


def _spectrum(x: np.ndarray, mean: float) -> np.ndarray:
    h, w = x.shape
    s = max(h, w) / FFT_SIZE
    if s > 1:
        x = cv2.resize(x, (max(16, round(w / s)), max(16, round(h / s))), interpolation=cv2.INTER_AREA)
    h, w = x.shape
    idx, window, nb = _radial_bins(h, w, N_BANDS)
    f = cv2.dft(np.ascontiguousarray((x - mean) * window, np.float32), flags=cv2.DFT_COMPLEX_OUTPUT)
    f = f[:, : w // 2 + 1]  # the rFFT half of the real image's spectrum
    power = (f[..., 0] ** 2 + f[..., 1] ** 2).ravel()
    bands = np.bincount(idx, weights=power, minlength=nb + 1)[:nb]
    total = bands.sum() + 1e-9
    share = np.log10(bands / total + 1e-9)
    top = bands[-8:]  # the highest 8 bands ≈ 4 octaves in pairs
    octaves = top.reshape(4, 2).sum(axis=1) + 1e-9
    ratios = np.log10(np.concatenate([[octaves[0] / (bands[:-8].sum() + 1e-9)], octaves[1:] / octaves[:-1]]))
    return np.concatenate([share / 4.0, ratios / 4.0]).astype(np.float32)
