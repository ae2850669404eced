"""The detector interface: :class:`Box`, :class:`Detector`, IoU helpers and image validation.

Every detector takes a grey frame (uint8 H×W, Mono8 as every dasha camera delivers; H×W×3 uint8 is
converted to grey) and returns boxes in frame pixels, best score first. What "detected" means for the
joint task (IoU ≥ 0.5 with the reference box) is built on :func:`iou` / :func:`best_iou`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dasha.camera.errors import SpecError

#: Smallest frame side (px) a detector accepts.
MIN_SIDE_PX = 8


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned detection box in frame pixels.

    Attributes:
        x0: left edge (px, inclusive).
        y0: top edge (px, inclusive).
        x1: right edge (px, exclusive), ≥ ``x0``.
        y1: bottom edge (px, exclusive), ≥ ``y0``.
        score: detector confidence; higher is more confident. Its scale depends on the detector
            (a probability for the CNN detectors, a cascade stage sum for Haar, 1.0 for ArUco).
        label: class name (``"face"``, ``"aruco-7"``, ``"person"``, …).
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    label: str

    def __post_init__(self) -> None:
        coords = (self.x0, self.y0, self.x1, self.y1)
        if not all(np.isfinite(c) for c in coords):
            raise ValueError(f"box coordinates must be finite, got {coords}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"box must have x1 ≥ x0 and y1 ≥ y0, got {coords}")

    @property
    def width(self) -> float:
        """Width (px)."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """Height (px)."""
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        """Area (px²)."""
        return self.width * self.height

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` in px."""
        return (self.x0, self.y0, self.x1, self.y1)


BoxLike = Box | Sequence[float]
"""A :class:`Box` or an ``(x0, y0, x1, y1)`` sequence in px (x1, y1 exclusive)."""


def _coords(box: BoxLike) -> tuple[float, float, float, float]:
    if isinstance(box, Box):
        return box.as_tuple()
    if len(box) != 4:
        raise ValueError(f"a box is (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    return x0, y0, x1, y1


def iou(a: BoxLike, b: BoxLike) -> float:
    """Intersection over union of two boxes (0 … 1); 0 when both are empty.

    Args:
        a: a :class:`Box` or ``(x0, y0, x1, y1)`` in px.
        b: same.
    """
    ax0, ay0, ax1, ay1 = _coords(a)
    bx0, by0, bx1, by1 = _coords(b)
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = max(0.0, ax1 - ax0) * max(0.0, ay1 - ay0) + max(0.0, bx1 - bx0) * max(0.0, by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def best_iou(boxes: Iterable[BoxLike], ref: BoxLike) -> float:
    """Largest IoU between any of ``boxes`` and ``ref``; 0.0 when there are no boxes."""
    return max((iou(b, ref) for b in boxes), default=0.0)


def as_grey_u8(image: object) -> np.ndarray:
    """Validate a frame and return it as a C-contiguous uint8 H×W array.

    Accepts uint8 H×W (grey, Mono8), H×W×1, and H×W×3 (converted with OpenCV's BGR→grey weights; for
    an RGB array the red/blue weights swap, which barely matters for detection).

    Raises:
        ValueError: not an array, not uint8, wrong number of dimensions or channels, or smaller than 8×8 px.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype must be uint8 (Mono8), got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)
    elif image.ndim != 2:
        raise ValueError(f"image must be H×W grey or H×W×3, got shape {image.shape}")
    if image.shape[0] < MIN_SIDE_PX or image.shape[1] < MIN_SIDE_PX:
        raise ValueError(
            f"image must be at least {MIN_SIDE_PX}×{MIN_SIDE_PX} px, got {image.shape[0]}×{image.shape[1]}"
        )
    return np.ascontiguousarray(image)


class WeightsNotFoundError(SpecError, FileNotFoundError):
    """A model weights file does not exist. dasha never downloads weights: give a local file."""


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`Path` if it is an existing file; else raise :class:`WeightsNotFoundError`."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsNotFoundError(
            f"{what} weights file {str(p)!r} not found (dasha never downloads weights; give a local file)"
        )
    return p


class Detector(ABC):
    """An object detector on grey frames.

    Subclasses set :attr:`name` and implement :meth:`_detect`; :meth:`detect` validates the frame and
    sorts the result. Detectors are not thread-safe (OpenCV and torch models keep internal state).
    """

    #: Registry name (``"haar-face"``, ``"aruco"``, …).
    name: str = ""

    def detect(self, image: np.ndarray) -> list[Box]:
        """Detect objects in one frame.

        Args:
            image: uint8 H×W grey frame (H×W×3 uint8 is converted to grey), at least 8×8 px.

        Returns:
            Boxes in frame pixels, highest score first (empty list when nothing is found).

        Raises:
            ValueError: the image is not a uint8 grey or 3-channel array of at least 8×8 px.
        """
        grey = as_grey_u8(image)
        boxes = self._detect(grey)
        return sorted(boxes, key=lambda b: b.score, reverse=True)

    @abstractmethod
    def _detect(self, image: np.ndarray) -> list[Box]:
        """Detect on a validated C-contiguous uint8 H×W frame; any order."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
