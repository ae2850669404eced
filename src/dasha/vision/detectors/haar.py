"""Viola–Jones Haar cascades that ship with OpenCV (``cv2.data.haarcascades``): faces, people, cat faces.

Classic, fast, CPU-only and offline: the default detector of the joint task (``haar-face``). Needs
``opencv-python(-headless) < 5`` (OpenCV 5 moved the cascades out of the wheel).

Measured on the simulator (``tests/test_detectors.py``): ``haar-face`` finds the astronaut's face on the
sharp render and loses it once the blur circle is ~17–50 px (faces of ~50–100 px); ``haar-cat`` finds
Chelsea's face when it spans ~75–100 px and loses it at the strong defocus. ``haar-body`` (upper-body
cascade) finds no person in any offline ``skimage.data`` photo, so it is tested on the interface only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dasha.vision.detectors.base import Box, Detector


@dataclass(frozen=True)
class CascadePreset:
    """Defaults of one registered Haar detector.

    Attributes:
        cascade: file name in ``cv2.data.haarcascades`` (or a path to a cascade XML).
        label: class label of the boxes.
        scale_factor: image-pyramid step of ``detectMultiScale`` (> 1; smaller: slower, finds more sizes).
        min_neighbors: overlapping raw hits needed to keep a box (higher: fewer false positives).
        min_size: smallest object (width, height) in px; None = the cascade's training window.
    """

    cascade: str
    label: str
    scale_factor: float
    min_neighbors: int
    min_size: tuple[int, int] | None = None


#: Registered Haar detectors. ``haar-body`` uses the upper-body (head and shoulders) cascade: with the
#: rig's 16 mm lens a standing person at 5 m is ~1000 native px tall, so a 1024×544 region of interest
#: frames the upper body, not the full body (``cascade="haarcascade_fullbody.xml"`` selects pedestrians).
PRESETS: dict[str, CascadePreset] = {
    "haar-face": CascadePreset("haarcascade_frontalface_default.xml", "face", 1.1, 5, (24, 24)),
    "haar-body": CascadePreset("haarcascade_upperbody.xml", "person", 1.05, 3, None),
    "haar-cat": CascadePreset("haarcascade_frontalcatface.xml", "cat-face", 1.05, 3, (24, 24)),
}


def cascade_path(cascade: str | Path) -> Path:
    """Resolve a cascade file name in ``cv2.data.haarcascades``, or an explicit path.

    Raises:
        FileNotFoundError: neither exists (e.g. OpenCV 5, which no longer ships the cascades).
    """
    p = Path(cascade).expanduser()
    if p.is_file():
        return p
    data = getattr(cv2, "data", None)
    root = Path(getattr(data, "haarcascades", "")) if data is not None else None
    if root is not None and (root / str(cascade)).is_file():
        return root / str(cascade)
    raise FileNotFoundError(
        f"Haar cascade {str(cascade)!r} not found (OpenCV {cv2.__version__}; the cascades ship with "
        "opencv-python-headless<5 in cv2.data.haarcascades)"
    )


class HaarDetector(Detector):
    """OpenCV cascade classifier (``detectMultiScale3`` with reject levels as scores).

    Scores are the cascade's last-stage sums (``levelWeights``): higher is more confident, not a
    probability, and comparable only within one cascade.

    Args:
        name: registry name (``"haar-face"``, ``"haar-body"``, ``"haar-cat"``); picks the preset defaults.
        cascade: cascade XML name in ``cv2.data.haarcascades`` or a path; default from the preset.
        label: box label; default from the preset.
        scale_factor: pyramid step (> 1.0).
        min_neighbors: neighbours needed to keep a box (≥ 0).
        min_size: smallest box ``(width, height)`` in px; default the cascade's training window.
        max_size: largest box ``(width, height)`` in px; None = the frame.
    """

    def __init__(
        self,
        name: str = "haar-face",
        *,
        cascade: str | Path | None = None,
        label: str | None = None,
        scale_factor: float | None = None,
        min_neighbors: int | None = None,
        min_size: tuple[int, int] | None = None,
        max_size: tuple[int, int] | None = None,
    ) -> None:
        preset = PRESETS.get(name)
        if preset is None:
            raise ValueError(f"unknown Haar detector {name!r}; valid: {', '.join(PRESETS)}")
        self.name = name
        self.cascade_file = cascade_path(cascade or preset.cascade)
        self.label = label or preset.label
        self.scale_factor = float(preset.scale_factor if scale_factor is None else scale_factor)
        self.min_neighbors = int(preset.min_neighbors if min_neighbors is None else min_neighbors)
        if not self.scale_factor > 1.0:
            raise ValueError(f"scale_factor must be > 1, got {self.scale_factor!r}")
        if self.min_neighbors < 0:
            raise ValueError(f"min_neighbors must be ≥ 0, got {self.min_neighbors!r}")
        self._cascade = cv2.CascadeClassifier(str(self.cascade_file))
        if self._cascade.empty():
            raise ValueError(f"cannot load Haar cascade {str(self.cascade_file)!r}")
        window = tuple(int(v) for v in self._cascade.getOriginalWindowSize())
        self.min_size = tuple(min_size or preset.min_size or window)
        self.max_size = tuple(max_size) if max_size else None

    def _detect(self, image: np.ndarray) -> list[Box]:
        rects, _levels, weights = self._cascade.detectMultiScale3(
            image,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=self.min_size,
            maxSize=self.max_size or (0, 0),
            outputRejectLevels=True,
        )
        if len(rects) == 0:
            return []
        scores = np.ravel(weights) if len(weights) else np.ones(len(rects))
        return [
            Box(float(x), float(y), float(x + w), float(y + h), float(s), self.label)
            for (x, y, w, h), s in zip(rects, scores, strict=True)
        ]

    def __repr__(self) -> str:
        return (
            f"HaarDetector(name={self.name!r}, cascade={self.cascade_file.name!r}, "
            f"scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}, min_size={self.min_size})"
        )
