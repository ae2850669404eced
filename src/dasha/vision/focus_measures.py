"""Focus (sharpness) measures used by the autofocus baselines, vectorised over a batch.

Each function takes one grey image ``H×W`` or a batch ``N×H×W`` (any real dtype; uint8 frames are used as
0–255 grey levels) and returns a float (or a float64 array of N). Families after Pertuz et al. 2013:

* :func:`tenengrad` — mean squared Sobel gradient magnitude (Tenenbaum 1970; the TEN of paper ref [12]).
* :func:`laplacian_variance` — variance of the 3×3 Laplacian (Pech-Pacheco 2000).
* :func:`normalized_variance` — grey-level variance divided by the mean (Groen 1985): exposure-invariant.
* :func:`brenner` — mean squared difference of pixels two apart (Brenner 1976).

Gradient and Laplacian measures peak most sharply at focus but scale with exposure and amplify noise;
normalise (``normalize=True`` divides by the squared mean grey) when exposure changes between frames.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np


def _batch(images: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(images)
    if a.ndim not in (2, 3) or a.shape[-1] < 3 or a.shape[-2] < 3:
        raise ValueError(f"expected a grey image H×W or a batch N×H×W (≥3×3 px), got shape {a.shape}")
    single = a.ndim == 2
    return (a[None] if single else a).astype(np.float32, copy=False), single


def _finish(values: np.ndarray, x: np.ndarray, normalize: bool, single: bool) -> float | np.ndarray:
    v = values.astype(np.float64)
    if normalize:
        v = v / np.maximum(x.mean(axis=(1, 2), dtype=np.float64) ** 2, 1e-12)
    return float(v[0]) if single else v


def tenengrad(images: np.ndarray, normalize: bool = False) -> float | np.ndarray:
    """Mean of Gx² + Gy² with 3×3 Sobel kernels over the valid interior (grey levels²)."""
    x, single = _batch(images)
    # Separable Sobel: smooth [1 2 1] across, difference [-1 0 1] along.
    sy = x[:, :-2, :] + 2 * x[:, 1:-1, :] + x[:, 2:, :]
    gx = sy[:, :, 2:] - sy[:, :, :-2]
    sx = x[:, :, :-2] + 2 * x[:, :, 1:-1] + x[:, :, 2:]
    gy = sx[:, 2:, :] - sx[:, :-2, :]
    return _finish((gx * gx + gy * gy).mean(axis=(1, 2)), x, normalize, single)


def laplacian_variance(images: np.ndarray, normalize: bool = False) -> float | np.ndarray:
    """Variance of the 4-neighbour Laplacian over the valid interior (grey levels²)."""
    x, single = _batch(images)
    lap = x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4 * x[:, 1:-1, 1:-1]
    return _finish(lap.var(axis=(1, 2)), x, normalize, single)


def normalized_variance(images: np.ndarray) -> float | np.ndarray:
    """Grey-level variance divided by the mean grey level (grey levels)."""
    x, single = _batch(images)
    v = x.var(axis=(1, 2), dtype=np.float64) / np.maximum(x.mean(axis=(1, 2), dtype=np.float64), 1e-12)
    return float(v[0]) if single else v


def brenner(images: np.ndarray, normalize: bool = False) -> float | np.ndarray:
    """Mean of the squared horizontal and vertical differences at distance 2 px (grey levels²)."""
    x, single = _batch(images)
    dx = x[:, :, 2:] - x[:, :, :-2]
    dy = x[:, 2:, :] - x[:, :-2, :]
    return _finish((dx * dx).mean(axis=(1, 2)) + (dy * dy).mean(axis=(1, 2)), x, normalize, single)


def af_window(image: np.ndarray) -> np.ndarray:
    """The AF statistics window: the central quarter of the frame's width and height (a view).

    Contrast AF measures the object, not the background, through a central window (libcamera's AF windows,
    camera "spot" AF); dasha's scenes keep the object over this window.
    """
    h, w = image.shape[-2:]
    return image[..., 3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8]


def parabola_peak(xs: list[float], ys: list[float]) -> float:
    """Vertex of the parabola through three (position, focus score) samples — the peak of a focus curve, e.g. in V
    against log-contrast (a Gaussian peak) — clamped to the samples' span; the best sample if not concave, the best
    finite sample where a score is not finite."""
    if not all(math.isfinite(y) for y in ys):
        finite = [(y, x) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
        return float(max(finite)[1] if finite else xs[1])
    (x0, x1, x2), (y0, y1, y2) = xs, ys
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom if denom else 0.0
    if a >= 0:  # not concave: the best sample
        return xs[int(np.argmax(ys))]
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    return float(min(max(-b / (2 * a), min(xs)), max(xs)))


def lorentzian_peak(xs: np.ndarray, ys: np.ndarray, lo: float, hi: float) -> float:
    """Centre of ``y = a / ((x − x0)² + w²) + c`` fitted to the samples (scipy), clamped to [lo, hi].

    Gradient energy of a disc-blurred image falls roughly as 1/blur², and blur ∝ |x − x0|: a Lorentzian in the
    lens voltage. Falls back to the best sample when the fit fails.
    """
    from scipy.optimize import curve_fit

    k = int(np.argmax(ys))
    scale = float(ys.max() - ys.min()) or 1.0
    p0 = (scale * 0.25, float(xs[k]), 0.5, float(ys.min()))
    bounds = ([0.0, lo - 1.0, 0.01, -np.inf], [np.inf, hi + 1.0, 10.0, np.inf])

    def model(x: np.ndarray, a: float, x0: float, w: float, c: float) -> np.ndarray:
        return a / ((x - x0) ** 2 + w * w) + c

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a (nearly) determined fit has no covariance: fine here
            params, _ = curve_fit(model, xs, ys, p0=p0, maxfev=2000, bounds=bounds)
    except (RuntimeError, ValueError):
        return float(xs[k])
    return float(min(max(params[1], lo), hi))


FOCUS_MEASURES: dict[str, Callable[..., float | np.ndarray]] = {
    "tenengrad": tenengrad,
    "laplacian_variance": laplacian_variance,
    "normalized_variance": normalized_variance,
    "brenner": brenner,
}
"""Focus measures by name."""
