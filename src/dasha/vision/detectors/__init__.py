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
``NAME:WEIGHTS``          ``yolo:w.pt``, ``faster-rcnn:w.pth``, ``retinanet:w.pth``  as ``NAME``
                          — the detector with that local weights file
``module:callable``       your own Python function frame → boxes                 importable module
                          (:mod:`dasha.vision.detectors.custom`)
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
from dasha.vision.detectors.custom import CallableDetector
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
#: Registered detectors that take a local weights file as ``NAME:WEIGHTS``.
WEIGHTED: tuple[str, ...] = ("faster-rcnn", "retinanet", "yolo")


def is_detector_name(name: str) -> bool:
    """Whether ``name`` names a detector: a registered one, ``NAME:WEIGHTS`` (:data:`WEIGHTED`), or
    ``module:callable`` (nothing is imported or loaded to answer)."""
    if name in _REGISTRY:
        return True
    head, sep, tail = name.partition(":")
    return bool(sep and head and tail)


def make_detector(name: str = DEFAULT_DETECTOR, **kwargs: Any) -> Detector:
    """Build a detector by registry name.

    Args:
        name: one of :data:`DETECTORS`, ``NAME:WEIGHTS`` (a local weights file for :data:`WEIGHTED`), or
            ``module:callable`` (:class:`~dasha.vision.detectors.custom.CallableDetector`).
        **kwargs: passed to the detector's constructor (e.g. ``min_neighbors=3`` for Haar,
            ``dictionary="DICT_6X6_250"`` for ArUco, ``weights="fasterrcnn.pth"`` for torchvision,
            ``weights="yolov8n.pt"`` or ``model_yaml="yolov8n.yaml"`` for YOLO).

    Raises:
        ValueError: unknown name (the message lists the valid names) or bad arguments.
        DependencyMissingError: the detector's optional dependency is not installed.
    """
    factory = _REGISTRY.get(name)
    if factory is not None:
        return factory(**kwargs)
    head, sep, tail = name.partition(":")
    if sep and head in WEIGHTED and tail:
        return _REGISTRY[head](weights=tail, **kwargs)
    if sep and head and tail and head not in _REGISTRY:
        return CallableDetector(name)
    raise ValueError(
        f"unknown detector {name!r}; valid: {', '.join(DETECTORS)}, NAME:WEIGHTS for {', '.join(WEIGHTED)}, "
        "or module:callable"
    )


__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "WEIGHTED",
    "ArucoDetector",
    "Box",
    "CallableDetector",
    "Detector",
    "HaarDetector",
    "TorchvisionDetector",
    "WeightsNotFoundError",
    "YoloDetector",
    "aruco_marker_texture",
    "best_iou",
    "iou",
    "is_detector_name",
    "make_detector",
]
