"""torchvision CNN detectors: Faster R-CNN and RetinaNet (ResNet-50 FPN), CPU, eval mode, offline.

Optional extra ``pip install 'dasha[torchvision]'`` (torch 2.14.1 + torchvision 0.29.1; torchvision does not
import next to the default torch 2.13.0). torchvision is imported lazily, on first construction.

Weights never download: give ``weights=PATH`` to a local ``state_dict`` file (as saved by
``torch.save(model.state_dict(), PATH)``; torchvision's released COCO checkpoints are such files), loaded with
``torch.load(weights_only=True)``, or ``weights=None`` for a randomly initialised model (tests, timing).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dasha.camera.errors import DependencyMissingError
from dasha.vision.detectors.base import Box, Detector, require_file

#: Architectures by registry name: (torchvision builder, score-threshold kwarg, max-detections kwarg).
ARCHITECTURES: dict[str, tuple[str, str, str]] = {
    "faster-rcnn": ("fasterrcnn_resnet50_fpn", "box_score_thresh", "box_detections_per_img"),
    "retinanet": ("retinanet_resnet50_fpn", "score_thresh", "detections_per_img"),
}
COCO_NUM_CLASSES = 91
_NOT_CLASSES = ("__background__", "N/A")


def import_torchvision(what: str) -> Any:
    """Import torchvision, or raise :class:`DependencyMissingError` naming the ``torchvision`` extra.

    Also catches a torchvision that is installed but fails to import (e.g. next to torch 2.13.0:
    ``operator torchvision::nms does not exist``).
    """
    try:
        import torchvision
        import torchvision.models.detection  # checks that the compiled ops load
    except ImportError as exc:
        raise DependencyMissingError("torchvision", "torchvision", what) from exc
    except RuntimeError as exc:  # installed, but built for another torch
        raise DependencyMissingError(
            "torchvision", "torchvision", f"{what}; the installed torchvision fails to import: {exc}"
        ) from exc
    return torchvision


def coco_categories() -> list[str]:
    """torchvision's 91 COCO category names (index = label id; ``"N/A"`` for unused ids)."""
    tv = import_torchvision("COCO category names")
    return list(tv.models.detection.FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


class TorchvisionDetector(Detector):
    """Faster R-CNN or RetinaNet with a ResNet-50 FPN backbone from torchvision.

    The grey frame is replicated into three channels (the COCO models expect RGB in [0, 1]); the model
    resizes internally so the shorter side is ``min_size`` px (torchvision default 800) and maps boxes back
    to frame pixels.

    Args:
        name: ``"faster-rcnn"`` or ``"retinanet"``.
        weights: path to a local ``state_dict`` file, or None for random initialisation (no backbone weights).
        num_classes: number of classes including background (91 = torchvision's COCO layout).
        score_threshold: keep boxes with score ≥ this (0–1).
        classes: keep only these labels (names, or integer label ids); None = all.
        class_names: label names by id; default COCO names when ``num_classes`` is 91, else ``"class-<id>"``
            (Faster R-CNN reserves id 0 for the background; RetinaNet uses every id).
        min_size: shorter side (px) the model resizes the frame to; None = torchvision's 800.
        max_size: longer-side cap (px); None = torchvision's 1333.
        max_detections: most boxes per frame.

    Raises:
        DependencyMissingError: torchvision is not installed (or does not import).
        WeightsNotFoundError: ``weights`` names a file that does not exist.
        ValueError: the weights do not fit the architecture, or a bad argument.
    """

    def __init__(
        self,
        name: str = "faster-rcnn",
        *,
        weights: str | Path | None = None,
        num_classes: int = COCO_NUM_CLASSES,
        score_threshold: float = 0.5,
        classes: Sequence[str | int] | None = None,
        class_names: Sequence[str] | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        max_detections: int = 100,
    ) -> None:
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown torchvision detector {name!r}; valid: {', '.join(ARCHITECTURES)}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold!r}")
        if num_classes < 2:
            raise ValueError(f"num_classes counts the background too and must be ≥ 2, got {num_classes!r}")
        path = None if weights is None else require_file(weights, name)  # a missing file is said first
        tv = import_torchvision(name)
        import torch

        self.name = name
        self.score_threshold = float(score_threshold)
        self.num_classes = int(num_classes)
        self.class_names = self._names(class_names)
        self.classes = None if classes is None else frozenset(self._label_id(c) for c in classes)
        builder, thresh_kw, max_kw = ARCHITECTURES[name]
        kwargs: dict[str, Any] = {thresh_kw: self.score_threshold, max_kw: int(max_detections)}
        if min_size is not None:
            kwargs["min_size"] = int(min_size)
        if max_size is not None:
            kwargs["max_size"] = int(max_size)
        model = getattr(tv.models.detection, builder)(
            weights=None, weights_backbone=None, num_classes=self.num_classes, **kwargs
        )
        if path is not None:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as exc:
                raise ValueError(f"cannot load {name} weights from {str(path)!r}: {exc}") from exc
        self.weights = path
        self._model = model.eval().to("cpu")
        self._torch = torch

    def _names(self, class_names: Sequence[str] | None) -> list[str]:
        if class_names is not None:
            names = [str(n) for n in class_names]
            if len(names) != self.num_classes:
                raise ValueError(f"class_names has {len(names)} names, num_classes is {self.num_classes}")
            return names
        if self.num_classes == COCO_NUM_CLASSES:
            return coco_categories()
        return [f"class-{i}" for i in range(self.num_classes)]

    def _label_id(self, cls: str | int) -> int:
        if isinstance(cls, int | np.integer):
            if not 0 <= int(cls) < self.num_classes:
                raise ValueError(f"class id {cls!r} outside 0…{self.num_classes - 1}")
            return int(cls)
        if cls not in self.class_names:
            known = ", ".join(n for n in self.class_names if n not in _NOT_CLASSES)
            raise ValueError(f"unknown class {cls!r}; known: {known}")
        return self.class_names.index(cls)

    def _detect(self, image: np.ndarray) -> list[Box]:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(image).to(torch.float32).div_(255.0)
            out = self._model([x.expand(3, *image.shape)])[0]
        boxes = out["boxes"].numpy()
        scores = out["scores"].numpy()
        labels = out["labels"].numpy()
        result = []
        for (x0, y0, x1, y1), s, lab in zip(boxes, scores, labels, strict=True):
            if s < self.score_threshold or (self.classes is not None and int(lab) not in self.classes):
                continue
            name = self.class_names[int(lab)] if 0 <= int(lab) < len(self.class_names) else str(int(lab))
            result.append(Box(float(x0), float(y0), float(x1), float(y1), float(s), name))
        return result

    def __repr__(self) -> str:
        return (
            f"TorchvisionDetector(name={self.name!r}, weights={self.weights}, "
            f"num_classes={self.num_classes}, score_threshold={self.score_threshold})"
        )
