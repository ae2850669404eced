"""Grey-level histograms: the paper's rule (for the paper-faithful agent) and a fixed-range variant.

Paper rule (the authors' published code): ``numpy.histogram(frame, bins=10)`` over the frame's own min–max,
raw counts, 11 edges; the peak ``P`` is the **left edge of the fullest bin** (grey level, 0–255). The
high-level reward and the hand-over test use P (well exposed: P ∈ [50, 150]).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

PAPER_BINS = 10


def _grey(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected a 2-D grey image, got shape {a.shape}")
    return a


def grey_levels(image: np.ndarray) -> np.ndarray:
    """Pixel count of each of the 256 grey levels of a 2-D Mono8 frame (int64; OpenCV's histogram, ≈ 2–3× faster
    than ``numpy.bincount`` and no copy of a cropped view)."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 frame, got {image.dtype} of shape {image.shape}")
    return cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().astype(np.int64)


@lru_cache(maxsize=4096)
def _paper_bins(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram(values, bins=10)`` of the grey levels ``lo … hi``: the bin of each level and the 11 edges
    (each edge's bin holds the levels from it up to the next edge, the last bin closed)."""
    values = np.arange(lo, hi + 1)
    edges = np.histogram_bin_edges(values, bins=PAPER_BINS)
    index = np.minimum(np.searchsorted(edges, values, side="right") - 1, PAPER_BINS - 1)
    return index, edges


def paper_histogram(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The paper's histogram of a grey frame.

    Returns:
        ``(counts, edges, peak)``: int64 counts of 10 bins over the frame's min–max, the 11 bin edges
        (grey levels, float64), and P = the left edge of the fullest bin (first one on ties).
    """
    a = _grey(image)
    if a.dtype == np.uint8:  # the same bins from the 256 level counts: ≈ 50× faster than over every pixel
        return paper_histogram_of_levels(grey_levels(a))
    counts, edges = np.histogram(a, bins=PAPER_BINS)
    return counts, edges, float(edges[int(np.argmax(counts))])


def paper_histogram_of_levels(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`paper_histogram` of a Mono8 frame from its 256 level counts (:func:`grey_levels`)."""
    present = np.flatnonzero(levels)
    lo, hi = int(present[0]), int(present[-1])
    index, edges = _paper_bins(lo, hi)
    counts = np.bincount(index, weights=levels[lo : hi + 1], minlength=PAPER_BINS).astype(np.int64)
    return counts, edges.copy(), float(edges[int(np.argmax(counts))])


def fixed_histogram(image: np.ndarray, bins: int = 16) -> np.ndarray:
    """Fractions of pixels in ``bins`` equal bins over 0–255 (float32, sums to 1). Exposure-comparable."""
    a = _grey(image)
    if a.dtype == np.uint8:
        counts = grey_levels(a).reshape(bins, 256 // bins).sum(axis=1)
    else:
        counts, _ = np.histogram(a, bins=bins, range=(0, 256))
    return (counts / max(a.size, 1)).astype(np.float32)
