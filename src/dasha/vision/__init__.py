"""Perception: everything the agents see and are rewarded by.

Histogram (paper rule), BRISQUE (no-reference quality), focus measures, encoders and object detectors.
Imports only :mod:`dasha.camera`; knows nothing of environments or RL. Heavy pieces load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "paper_histogram": "dasha.vision.histogram",
    "fixed_histogram": "dasha.vision.histogram",
    "brisque_score": "dasha.vision.brisque",
    "brisque_features": "dasha.vision.brisque",
    "tenengrad": "dasha.vision.focus_measures",
    "laplacian_variance": "dasha.vision.focus_measures",
    "normalized_variance": "dasha.vision.focus_measures",
    "brenner": "dasha.vision.focus_measures",
    "FOCUS_MEASURES": "dasha.vision.focus_measures",
    "make_encoder": "dasha.vision.encoders",
    "Encoder": "dasha.vision.encoders",
    "make_detector": "dasha.vision.detectors",
    "Detector": "dasha.vision.detectors",
    "Box": "dasha.vision.detectors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dasha.vision' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
