"""Object detectors behind one interface: ``make_detector(name).detect(image) -> list[Box]``.

========================  =====================================================  ==========================
name                      what                                                   needs
========================  =====================================================  ==========================
``haar-face`` (default)   OpenCV frontal-face Haar cascade                       opencv (core install)
``haar-body``             OpenCV upper-body (head and shoulders) cascade         opencv (core install)
``haar-cat``              OpenCV frontal cat-face cascade                        opencv (core install)
``aruco``                 ArUco markers (``DICT_4X4_50`` by default)             opencv (core install)
``faster-rcnn``           torchvision Faster R-CNN ResNet-50 FPN                 ``dasha[torchvision]``
``retinanet``             torchvision RetinaNet ResNet-50 FPN                    ``dasha[torchvision]``
``yolo``                  ultralytics YOLO (local ``.pt`` or a model YAML)       ``dasha[yolo]``
========================  =====================================================  ==========================

Nothing downloads: the CNN detectors take a local weights file (or build a random-init model for tests).
Boxes are in frame pixels (``x1``, ``y1`` exclusive), best score first.

Example:
    >>> import numpy as np
    >>> from dasha.vision.detectors import make_detector
    >>> make_detector("haar-face").detect(np.zeros((64, 64), np.uint8))
    []
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dasha.vision.detectors.aruco import ArucoDetector, aruco_marker_texture
from dasha.vision.detectors.base import Box, Detector, WeightsNotFoundError, best_iou, iou
from dasha.vision.detectors.haar import HaarDetector
from dasha.vision.detectors.torchvision_models import TorchvisionDetector
from dasha.vision.detectors.yolo import YoloDetector

_REGISTRY: dict[str, Callable[..., Detector]] = {
    "haar-face": lambda **kw: HaarDetector("haar-face", **kw),
    "haar-body": lambda **kw: HaarDetector("haar-body", **kw),
    "haar-cat": lambda **kw: HaarDetector("haar-cat", **kw),
    "aruco": lambda **kw: ArucoDetector(**kw),
    "faster-rcnn": lambda **kw: TorchvisionDetector("faster-rcnn", **kw),
    "retinanet": lambda **kw: TorchvisionDetector("retinanet", **kw),
    "yolo": lambda **kw: YoloDetector(**kw),
}

#: Registered detector names, in the order of the table above.
DETECTORS: tuple[str, ...] = tuple(_REGISTRY)
#: The detector that defines success of the joint task unless ``--detector`` says otherwise.
DEFAULT_DETECTOR = "haar-face"


def make_detector(name: str = DEFAULT_DETECTOR, **kwargs: Any) -> Detector:
    """Build a detector by registry name.

    Args:
        name: one of :data:`DETECTORS`.
        **kwargs: passed to the detector's constructor (e.g. ``min_neighbors=3`` for Haar,
            ``dictionary="DICT_6X6_250"`` for ArUco, ``weights="fasterrcnn.pth"`` for torchvision,
            ``weights="yolov8n.pt"`` or ``model_yaml="yolov8n.yaml"`` for YOLO).

    Raises:
        ValueError: unknown name (the message lists the valid names) or bad arguments.
        DependencyMissingError: the detector's optional dependency is not installed.
    """
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ValueError(f"unknown detector {name!r}; valid: {', '.join(DETECTORS)}")
    return factory(**kwargs)


__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "ArucoDetector",
    "Box",
    "Detector",
    "HaarDetector",
    "TorchvisionDetector",
    "WeightsNotFoundError",
    "YoloDetector",
    "aruco_marker_texture",
    "best_iou",
    "iou",
    "make_detector",
]
