"""BRISQUE: no-reference (blind) image quality score of a grey frame, numpy + OpenCV only.

BRISQUE (Blind/Referenceless Image Spatial Quality Evaluator) is due to A. Mittal, A. K. Moorthy and
A. C. Bovik, "No-Reference Image Quality Assessment in the Spatial Domain", IEEE Trans. Image Processing
21(12), 4695–4708, 2012, and their "BRISQUE Software Release" (LIVE, UT Austin, 2011). This module is an
independent implementation of the published algorithm; the trained models are data files
(``dasha/data/brisque_*.npz``), whose origin, copyright notice and licences are in
``dasha/data/BRISQUE_NOTICE.md``.

Units and conventions:

* Input: a grey H×W frame. ``uint8`` (Mono8) is the native type; any other integer type must hold values in
  0–255; a floating-point frame is read **value for value on the same 0–255 grey-level scale** (so
  ``frame.astype(float)`` scores exactly like ``frame``; multiply a [0, 1] float image by 255 first).
  Both sides must be at least ``MIN_SIDE`` = 16 px.
* Features: 36 float64 numbers, 18 per scale (full resolution, then half resolution), in the order
  ``[α, σ²]`` of the MSCN map, then ``[α, η, σ_l², σ_r²]`` of its horizontal, vertical, main-diagonal and
  secondary-diagonal neighbour products. α is a shape parameter, η a mean and σ² variances of MSCN values
  (dimensionless: the MSCN map is the image minus its local mean over its local standard deviation + C,
  with a 7×7 Gaussian window of σ = 7/6 px and C = 1 grey level on the 0–255 scale).
* Score: the ε-SVR output with an RBF kernel (γ = 0.05) on the features scaled to [-1, 1] with the model's
  feature ranges. Roughly 0 (pristine) to 100 (badly distorted); **lower is better**. It is not clamped, so
  very clean images can score below 0 and extreme distortions above 100.

Models (``model=``):

* ``"live"`` (default): the canonical model of the LIVE BRISQUE release (``allmodel``/``allrange``: 774
  support vectors, trained on the LIVE IQA database) with the canonical MATLAB pipeline: zero-padded
  Gaussian window, neighbour products with circular wrap (``circshift``), a GGD fit of the MSCN map and AGGD
  fits of the products with the shape parameter taken from the 0.2:0.001:10 grid (nearest moment ratio), and
  MATLAB ``imresize(·, 0.5)`` (antialiased bicubic, symmetric borders) for the second scale. Agrees with
  ``pyteenybrisque`` 0.1.2 (a numpy port that follows pyiqa) to within 0.06 on test photographs, usually
  within 0.005 (the rest is one 0.001 step of the α grid where its float32 tables round differently).
* ``"paper"``: the model of the PyPI ``brisque`` 0.2.0 package (byte-identical to that of ``image-quality``
  1.2.7, which the DASHA paper's code used; 770 support vectors) with that package's pipeline: neighbour
  products cropped at the border (no wrap), AGGD fits for all five maps with the exact root of the moment
  equation, zeros counted on the right-hand side, σ² of the MSCN map = (σ_l² + σ_r²) / 2, and
  ``cv2.resize(·, fx=0.5, fy=0.5, INTER_CUBIC)`` (no antialiasing) for the second scale. For a grey frame it
  reproduces ``brisque`` 0.2.0 fed the frame stacked to 3 channels to ~1e-5 on frames without flat areas and
  to within 0.07 on blurred frames with flat areas (see "Flat regions").

Flat regions: inside a perfectly flat 7×7 window the MSCN value is 0 in exact arithmetic, but floating-point
filtering leaves ±1e-14 noise whose sign decides which side (left or right) such pixels count on; that moves
scores by up to ~0.5 between ports on frames with flat (e.g. clipped) areas. Here the window weights sum to
1 − 2⁻³⁰, so a flat window gives a deterministic tiny *positive* MSCN value (exactly 0 on black), which is
what ``pyteenybrisque`` (float32 window) does in practice. Scores are therefore reproducible across machines.

Errors, by design: a frame that is not 2-D, is empty, smaller than 16 px on a side, has a non-finite value,
or is **flat** (all pixels equal: BRISQUE is undefined without contrast) raises :class:`ValueError`; so does
an unknown model name. No NaN is ever returned.

Speed: about 3.5 ms per 256×256 frame (~17 ms per 512×512) on one core (``cv2.setNumThreads(1)``; median of
200 calls on a shared 2-core x86 VM, either model). OpenCV does the filtering and resizing, the α inversions
use precomputed lookup tables, and the SVR is one vectorised kernel evaluation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["MIN_SIDE", "MODELS", "brisque_features", "brisque_score"]

MODELS: Final[tuple[str, ...]] = ("live", "paper")
"""Names accepted by ``model=``; the first is the default."""

MIN_SIDE: Final[int] = 16
"""Smallest accepted height and width (px): the half scale must still exceed the 7×7 window."""

_N_FEATURES: Final[int] = 36
_WINDOW: Final[int] = 7  # Gaussian window side (px)
_WINDOW_SIGMA: Final[float] = 7.0 / 6.0  # Gaussian window σ (px)
_C: Final[float] = 1.0  # MSCN stabilising constant (grey levels on the 0–255 scale)
_WINDOW_SUM: Final[float] = 1.0 - 2.0**-31  # sum of the 1-D window weights (see _gaussian_window)
# Shape-parameter grid of the LIVE release: 0.2:0.001:10.
_ALPHA_GRID: Final[npt.NDArray[np.float64]] = np.linspace(0.2, 10.0, 9801)
# Wider log-spaced grid that seeds the exact ("paper") inversion before Newton refinement.
_ALPHA_SEED: Final[npt.NDArray[np.float64]] = np.geomspace(0.05, 100.0, 4001)
_NEWTON_STEPS: Final[int] = 4

FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------------------------------------
# Moment ratios of the (asymmetric) generalised Gaussian and their inverses
# ----------------------------------------------------------------------------------------------------------
def _log_phi(alpha: FloatArray) -> FloatArray:
    """log φ(α) = log Γ(2/α)² / (Γ(1/α) Γ(3/α)), the moment ratio (E|x|)² / E[x²] of a GGD; rises with α."""
    return 2.0 * special.gammaln(2.0 / alpha) - special.gammaln(1.0 / alpha) - special.gammaln(3.0 / alpha)


@functools.cache
def _grid_tables() -> tuple[FloatArray, FloatArray, FloatArray]:
    """Lookup tables, each increasing: φ(α) and −1/φ(α) on the LIVE grid, φ(α) on the seed grid."""
    phi_grid = np.exp(_log_phi(_ALPHA_GRID))
    return phi_grid, -1.0 / phi_grid, np.exp(_log_phi(_ALPHA_SEED))


def _alpha_on_grid(table: FloatArray, target: FloatArray) -> FloatArray:
    """Grid α whose ``table`` entry is nearest to ``target`` (the LIVE release's ``min(abs(·))`` look-up).

    ``table`` must increase along ``_ALPHA_GRID``; on a tie the smaller α wins, as MATLAB's ``min`` returns
    the first index.
    """
    idx = np.clip(np.searchsorted(table, target), 1, table.size - 1)
    below = np.abs(target - table[idx - 1]) <= np.abs(table[idx] - target)
    return _ALPHA_GRID[np.where(below, idx - 1, idx)]


def _alpha_exact(phi_target: FloatArray) -> FloatArray:
    """α with φ(α) = ``phi_target`` (the root ``brisque`` 0.2.0 finds), clipped to [0.05, 100] if none."""
    table = _grid_tables()[2]
    log_alpha = np.interp(phi_target, table, np.log(_ALPHA_SEED))
    log_target = np.log(np.clip(phi_target, table[0], table[-1]))
    for _ in range(_NEWTON_STEPS):  # Newton on log φ(α) = log target in the variable log α
        alpha = np.exp(log_alpha)
        psi = special.digamma(np.stack([1.0 / alpha, 2.0 / alpha, 3.0 / alpha]))
        slope = (psi[0] + 3.0 * psi[2] - 4.0 * psi[1]) / alpha  # d log φ / d log α
        log_alpha = log_alpha - (_log_phi(alpha) - log_target) / slope
        log_alpha = np.clip(log_alpha, np.log(_ALPHA_SEED[0]), np.log(_ALPHA_SEED[-1]))
    return np.exp(log_alpha)


# ----------------------------------------------------------------------------------------------------------
# Feature extraction
# ----------------------------------------------------------------------------------------------------------
@functools.cache
def _gaussian_window() -> FloatArray:
    """1-D factor of the 7×7 Gaussian window (σ = 7/6 px), weights summing to 1 − 2⁻³¹ (2-D: 1 − 2⁻³⁰).

    The deficit makes the MSCN value of a pixel in a flat window a deterministic tiny positive number
    (≈ 1e-9 × grey level, exactly 0 on black) instead of floating-point noise of either sign; elsewhere it
    changes the features by about 1e-9 relative.
    """
    x = np.arange(_WINDOW, dtype=np.float64) - (_WINDOW - 1) / 2
    k = np.exp(-(x * x) / (2.0 * _WINDOW_SIGMA**2))
    return k * (_WINDOW_SUM / k.sum())


@functools.cache
def _imresize_half_kernel() -> FloatArray:
    """MATLAB ``imresize(·, 0.5, 'bicubic')`` taps (antialiased Keys cubic, a = −0.5), outputs at 2s + ½."""
    dist = 0.5 * (np.arange(8, dtype=np.float64) - 3.5)  # input pixels 2s-3 .. 2s+4, distances in output px
    ad = np.abs(dist)
    outer = np.where(ad <= 2, -0.5 * ad**3 + 2.5 * ad**2 - 4.0 * ad + 2.0, 0.0)
    w = np.where(ad <= 1, 1.5 * ad**3 - 2.5 * ad**2 + 1.0, outer)
    return w / w.sum()


def _half_live(img: FloatArray) -> FloatArray:
    """MATLAB ``imresize(img, 0.5)``: antialiased bicubic, symmetric (edge-repeating) borders, ⌈n/2⌉ px."""
    k = _imresize_half_kernel()
    full = cv2.sepFilter2D(img, cv2.CV_64F, k, k, anchor=(3, 3), borderType=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(full[::2, ::2])


def _half_paper(img: FloatArray) -> FloatArray:
    """``cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)``, as ``brisque`` 0.2.0 does."""
    return cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)


def _mscn(img: FloatArray) -> FloatArray:
    """Mean-subtracted contrast-normalised map (zero-padded window; flat areas: see ``_gaussian_window``)."""
    k = _gaussian_window()
    mu = cv2.sepFilter2D(img, cv2.CV_64F, k, k, borderType=cv2.BORDER_CONSTANT)
    sigma = cv2.sepFilter2D(img * img, cv2.CV_64F, k, k, borderType=cv2.BORDER_CONSTANT)
    sigma -= mu * mu  # local variance, in place from here on to spare temporaries
    np.abs(sigma, out=sigma)
    np.sqrt(sigma, out=sigma)
    sigma += _C
    mscn = np.subtract(img, mu, out=mu)
    mscn /= sigma
    return mscn


def _side_moments(x: FloatArray) -> FloatArray:
    """[n, #(x<0), #(x>0), Σx² over x<0, Σx² over x>0, Σ|x|] of a map, as a float64 6-vector."""
    flat = x.reshape(-1)
    neg = np.minimum(flat, 0.0)
    sq_neg = np.einsum("i,i->", neg, neg)  # einsum: a single-threaded reduction, unlike BLAS dot
    sq_all = np.einsum("i,i->", flat, flat)
    n_neg = np.count_nonzero(neg)
    n_pos = np.count_nonzero(flat) - n_neg
    abs_sum = flat.sum() - 2.0 * neg.sum()
    return np.array([flat.size, n_neg, n_pos, sq_neg, sq_all - sq_neg, abs_sum], dtype=np.float64)


def _aggd(mom: FloatArray, zeros_right: bool) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """AGGD moment fit per column of ``mom`` (6 × k, see ``_side_moments``): φ target, σ_l, σ_r, E[x²]."""
    n, n_neg, n_pos, sq_neg, sq_pos, abs_sum = mom
    if not np.all(abs_sum > 0):
        raise ValueError("BRISQUE is undefined for a frame without contrast (a flat MSCN map)")
    n_right = n - n_neg if zeros_right else n_pos
    left = np.sqrt(np.divide(sq_neg, n_neg, out=np.zeros_like(sq_neg), where=n_neg > 0))
    right = np.sqrt(np.divide(sq_pos, n_right, out=np.zeros_like(sq_pos), where=n_right > 0))
    mean_sq = (sq_neg + sq_pos) / n
    rhat = (abs_sum / n) ** 2 / mean_sq
    # rhat (γ³+1)(γ+1)/(γ²+1)² with γ = σ_l/σ_r, written so that either side may be empty
    phi_target = rhat * (left**3 + right**3) * (left + right) / (left**2 + right**2) ** 2
    return phi_target, left, right, mean_sq


def _eta(alpha: FloatArray, left: FloatArray, right: FloatArray) -> FloatArray:
    """AGGD mean η = (σ_r − σ_l) Γ(2/α) / sqrt(Γ(1/α) Γ(3/α))."""
    return (right - left) * np.exp(0.5 * _log_phi(alpha))


def _scale_features_live(img: FloatArray) -> FloatArray:
    """18 canonical (LIVE release) features of one scale."""
    m = _mscn(img)
    h, w = m.shape
    wrapped = np.pad(m, 1, mode="wrap")
    product = np.empty_like(m)
    moments = [_side_moments(m)]
    for dy, dx in ((0, 1), (1, 0), (1, 1), (-1, 1)):  # MATLAB circshift offsets: H, V, D1, D2
        np.multiply(m, wrapped[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w], out=product)  # m · circshift(m)
        moments.append(_side_moments(product))
    mom = np.stack(moments, axis=1)
    phi_target, left, right, mean_sq = _aggd(mom, zeros_right=False)
    n, abs_sum = mom[0, 0], mom[5, 0]
    ggd_ratio = mean_sq[0] / (abs_sum / n) ** 2  # σ² / (E|x|)² of the MSCN map: 1/φ(α) for a GGD
    phi_grid, neg_r_grid, _ = _grid_tables()
    alpha = np.concatenate([_alpha_on_grid(neg_r_grid, -ggd_ratio[None]), _alpha_on_grid(phi_grid, phi_target[1:])])
    out = np.empty(18)
    out[0], out[1] = alpha[0], mean_sq[0]
    prods = np.stack([alpha[1:], _eta(alpha[1:], left[1:], right[1:]), left[1:] ** 2, right[1:] ** 2], axis=1)
    out[2:] = prods.ravel()
    return out


def _scale_features_paper(img: FloatArray) -> FloatArray:
    """18 features of one scale as ``brisque`` 0.2.0 computes them (cropped products, AGGD for all maps)."""
    m = _mscn(img)
    maps = (m, m[:, :-1] * m[:, 1:], m[:-1, :] * m[1:, :], m[:-1, :-1] * m[1:, 1:], m[1:, :-1] * m[:-1, 1:])
    mom = np.stack([_side_moments(x) for x in maps], axis=1)
    phi_target, left, right, _ = _aggd(mom, zeros_right=True)
    alpha = _alpha_exact(phi_target)
    out = np.empty(18)
    out[0], out[1] = alpha[0], (left[0] ** 2 + right[0] ** 2) / 2.0
    prods = np.stack([alpha[1:], _eta(alpha[1:], left[1:], right[1:]), left[1:] ** 2, right[1:] ** 2], axis=1)
    out[2:] = prods.ravel()
    return out


def _as_grey(image: npt.ArrayLike) -> FloatArray:
    """Validate a grey frame and return it as C-contiguous float64 grey levels (0–255 scale)."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"BRISQUE needs a 2-D grey image (H×W); got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"BRISQUE needs a non-empty image; got shape {arr.shape}")
    if min(arr.shape) < MIN_SIDE:
        raise ValueError(f"BRISQUE needs an image of at least {MIN_SIDE}×{MIN_SIDE} px; got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"BRISQUE needs a uint8, integer or floating grey image; got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.uint8 and (arr.min() < 0 or arr.max() > 255):
        raise ValueError("an integer image must hold grey levels 0–255; convert it to uint8 (or float) first")
    grey = np.ascontiguousarray(arr, dtype=np.float64)
    lo, hi = grey.min(), grey.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("BRISQUE needs finite pixel values; the image contains NaN or infinity")
    if lo == hi:
        raise ValueError(f"BRISQUE is undefined for a flat image (every pixel is {lo:g}): it has no contrast")
    return grey


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"unknown BRISQUE model {model!r}; valid models: {', '.join(map(repr, MODELS))}")
    return model


def brisque_features(image: npt.ArrayLike, model: str = "live") -> FloatArray:
    """The 36 BRISQUE natural-scene-statistics features of a grey frame.

    Args:
        image: grey H×W frame, ``uint8`` or float on the 0–255 grey-level scale (see the module docstring),
            at least 16×16 px.
        model: ``"live"`` (canonical MATLAB pipeline, default) or ``"paper"`` (the ``brisque`` 0.2.0
            pipeline); each model was trained on features from its own pipeline.

    Returns:
        float64 array of shape (36,): 18 features at full resolution, then 18 at half resolution.

    Raises:
        ValueError: for a non-2-D, empty, too small, non-finite or flat image, or an unknown model.
    """
    grey = _as_grey(image)
    if _check_model(model) == "live":
        return np.concatenate([_scale_features_live(grey), _scale_features_live(_half_live(grey))])
    return np.concatenate([_scale_features_paper(grey), _scale_features_paper(_half_paper(grey))])


# ----------------------------------------------------------------------------------------------------------
# RBF ε-SVR
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _SVRModel:
    """A libsvm ε-SVR with RBF kernel plus the svm-scale feature ranges it was trained with."""

    support_vectors: FloatArray  # (n_sv, 36), in the scaled feature space
    dual_coef: FloatArray  # (n_sv,)
    rho: float
    gamma: float  # RBF kernel exp(-γ ‖x − sv‖²)
    feature_min: FloatArray  # (36,) raw feature value mapped to scale_lo
    feature_max: FloatArray  # (36,) raw feature value mapped to scale_hi
    scale_lo: float
    scale_hi: float

    def predict(self, features: FloatArray) -> float:
        """Σ coefᵢ exp(−γ ‖x − svᵢ‖²) − ρ for the scaled feature vector x."""
        span = self.feature_max - self.feature_min
        x = self.scale_lo + (self.scale_hi - self.scale_lo) * (features - self.feature_min) / span
        diff = self.support_vectors - x
        kernel = np.exp(-self.gamma * np.einsum("ij,ij->i", diff, diff))
        return float(kernel @ self.dual_coef - self.rho)


@functools.cache
def _load_model(model: str) -> _SVRModel:
    """Load ``dasha/data/brisque_<model>.npz`` once."""
    path = resources.files("dasha") / "data" / f"brisque_{model}.npz"
    with path.open("rb") as fh, np.load(fh) as data:
        arrays = {key: np.array(data[key], dtype=np.float64) for key in data.files}
    for array in arrays.values():
        array.flags.writeable = False  # shared by every caller through the cache
    model_ = _SVRModel(
        support_vectors=arrays["support_vectors"],
        dual_coef=arrays["dual_coef"],
        rho=float(arrays["rho"]),
        gamma=float(arrays["gamma"]),
        feature_min=arrays["feature_min"],
        feature_max=arrays["feature_max"],
        scale_lo=float(arrays["scale_range"][0]),
        scale_hi=float(arrays["scale_range"][1]),
    )
    n_sv = model_.support_vectors.shape[0]
    if model_.support_vectors.shape != (n_sv, _N_FEATURES) or model_.dual_coef.shape != (n_sv,):
        raise ValueError(f"corrupt BRISQUE model file {path}")
    return model_


def brisque_score(image: npt.ArrayLike, model: str = "live") -> float:
    """BRISQUE quality score of a grey frame; lower is better (about 0 pristine to 100 badly distorted).

    Args:
        image: grey H×W frame, ``uint8`` or float on the 0–255 grey-level scale, at least 16×16 px.
        model: ``"live"`` (canonical LIVE model, default) or ``"paper"`` (the model of ``brisque`` 0.2.0 /
            ``image-quality`` 1.2.7 used by the paper). See the module docstring.

    Returns:
        The score as a Python float (not clamped).

    Raises:
        ValueError: for a non-2-D, empty, too small, non-finite or flat image, or an unknown model.
    """
    svr = _load_model(_check_model(model))
    return svr.predict(brisque_features(image, model))
