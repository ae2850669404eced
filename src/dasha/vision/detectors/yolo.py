"""Ultralytics YOLO detector, offline: local ``.pt`` weights, or a random-init model from a model YAML.

Optional extra ``pip install 'dasha[yolo]'``. ultralytics is imported lazily, on first construction.
Before that import this module sets, unless already set, ``YOLO_OFFLINE=1`` (no connectivity probe, no
analytics events, no Sentry) and ``YOLO_AUTOINSTALL=0`` (no pip installs at run time). ultralytics still
creates its settings file in ``$YOLO_CONFIG_DIR`` (default ``~/.config/Ultralytics``) on first import; set
that variable to relocate it (the tests point it at a temporary directory).

ultralytics ``.pt`` files are pickles of whole models (loaded by ultralytics with ``weights_only=False``):
load only weights you trust.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dasha.camera.errors import DependencyMissingError
from dasha.vision.detectors.base import Box, Detector, require_file

#: Environment ultralytics reads at import time; set (unless the user set them) before importing it.
OFFLINE_ENV: dict[str, str] = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}
#: ultralytics' network stride: YOLO input sides are multiples of it (px).
STRIDE = 32


def import_ultralytics(what: str) -> Any:
    """Import ultralytics offline (see module docstring), or raise :class:`DependencyMissingError`."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    try:
        import ultralytics
    except ImportError as exc:
        raise DependencyMissingError("ultralytics", "yolo", what) from exc
    return ultralytics


class YoloDetector(Detector):
    """An ultralytics YOLO detection model on CPU.

    Args:
        weights: path to a local ultralytics ``.pt`` checkpoint. Nothing is ever downloaded: a name such as
            ``"yolov8n.pt"`` that is not an existing file raises :class:`WeightsNotFoundError`.
        model_yaml: model definition for a randomly initialised model, e.g. ``"yolov8n.yaml"`` (ultralytics
            ships these); used when ``weights`` is None (tests, timing).
        score_threshold: keep boxes with confidence ≥ this (0–1).
        iou_threshold: non-maximum-suppression IoU (0–1).
        classes: keep only these labels (model class names or integer ids); None = all.
        imgsz: inference size (px, rounded up to a multiple of 32): the frame's longer side is letterboxed to
            it. None = the frame's own longer side.
        max_detections: most boxes per frame.

    Raises:
        DependencyMissingError: ultralytics is not installed.
        WeightsNotFoundError: ``weights`` is not an existing file.
        ValueError: bad arguments or an unknown class name.
    """

    name = "yolo"

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        model_yaml: str | None = None,
        score_threshold: float = 0.25,
        iou_threshold: float = 0.7,
        classes: Sequence[str | int] | None = None,
        imgsz: int | None = 640,
        max_detections: int = 100,
    ) -> None:
        ultralytics = import_ultralytics("YOLO detector")
        if (weights is None) == (model_yaml is None):
            raise ValueError("give exactly one of weights=PATH (a local .pt) or model_yaml='yolov8n.yaml'")
        if not 0.0 <= score_threshold <= 1.0 or not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"thresholds must be in [0, 1], got {score_threshold!r}, {iou_threshold!r}")
        if imgsz is not None and imgsz < STRIDE:
            raise ValueError(f"imgsz must be ≥ {STRIDE} px, got {imgsz!r}")
        if weights is not None:
            source = str(require_file(weights, "YOLO"))
        else:
            source = str(model_yaml)
            if not source.lower().endswith((".yaml", ".yml")):
                raise ValueError(f"model_yaml must be a .yaml model definition, got {model_yaml!r}")
        self._model = ultralytics.YOLO(source, task="detect", verbose=False)
        self.names: dict[int, str] = {int(k): str(v) for k, v in self._model.names.items()}
        self.weights = None if weights is None else Path(source)
        self.model_yaml = model_yaml
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.imgsz = None if imgsz is None else _round_up(imgsz)
        self.max_detections = int(max_detections)
        self.classes = None if classes is None else sorted({self._class_id(c) for c in classes})

    def _class_id(self, cls: str | int) -> int:
        if isinstance(cls, int | np.integer):
            if int(cls) not in self.names:
                raise ValueError(f"class id {cls!r} outside 0…{len(self.names) - 1}")
            return int(cls)
        for k, v in self.names.items():
            if v == cls:
                return k
        raise ValueError(f"unknown class {cls!r}; known: {', '.join(self.names.values())}")

    def _detect(self, image: np.ndarray) -> list[Box]:
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        imgsz = self.imgsz or _round_up(max(image.shape))
        results = self._model.predict(
            bgr,
            imgsz=imgsz,
            conf=self.score_threshold,
            iou=self.iou_threshold,
            classes=self.classes,
            max_det=self.max_detections,
            device="cpu",
            verbose=False,
            save=False,
        )
        det = results[0].boxes
        xyxy = det.xyxy.cpu().numpy()
        conf = det.conf.cpu().numpy()
        cls = det.cls.cpu().numpy().astype(int)
        h, w = image.shape
        return [
            Box(
                float(np.clip(x0, 0, w)),
                float(np.clip(y0, 0, h)),
                float(np.clip(x1, 0, w)),
                float(np.clip(y1, 0, h)),
                float(s),
                self.names.get(int(c), str(int(c))),
            )
            for (x0, y0, x1, y1), s, c in zip(xyxy, conf, cls, strict=True)
        ]

    def __repr__(self) -> str:
        src = str(self.weights) if self.weights else self.model_yaml
        return f"YoloDetector({src!r}, score_threshold={self.score_threshold}, imgsz={self.imgsz})"


def _round_up(px: int) -> int:
    return int(math.ceil(px / STRIDE) * STRIDE)
