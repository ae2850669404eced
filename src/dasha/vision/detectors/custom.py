"""Bring your own detector: ``--detector module:callable`` — any Python function frame → boxes.

The callable is imported by name (``package.module:function``; the module must be importable, e.g. on
``PYTHONPATH``) and called with each grey frame (uint8 H×W). It returns an iterable of boxes, each a
:class:`~dasha.vision.detectors.base.Box` or a tuple ``(x0, y0, x1, y1[, score[, label]])`` in frame pixels; the
best first or in any order. Importing runs that module's code: name only modules you trust.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from dasha.camera.errors import SpecError
from dasha.vision.detectors.base import Box, Detector


def _to_box(item: Any, name: str) -> Box:
    if isinstance(item, Box):
        return item
    try:
        values = list(item)
        x0, y0, x1, y1 = (float(v) for v in values[:4])
        score = float(values[4]) if len(values) > 4 else 1.0
        label = str(values[5]) if len(values) > 5 else "object"
        return Box(x0, y0, x1, y1, score, label)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"detector {name!r} returned {item!r}, not a box (x0, y0, x1, y1[, score[, label]])") from exc


class CallableDetector(Detector):
    """A detector from a Python callable (see the module docstring).

    Args:
        target: ``module:callable``, or the callable itself.
    """

    def __init__(self, target: str | Callable[[np.ndarray], Iterable[Any]]) -> None:
        if callable(target):
            self.fn, self.name = target, getattr(target, "__qualname__", "callable")
            return
        module, _, attr = str(target).partition(":")
        if not module or not attr:
            raise SpecError(f"detector {target!r}: give module:callable (e.g. mypkg.detect:find_boxes)")
        try:
            obj: Any = importlib.import_module(module)
        except ImportError as exc:
            raise SpecError(f"detector {target!r}: cannot import {module!r} ({exc})") from None
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise SpecError(f"detector {target!r}: {module!r} has no {attr!r}")
            obj = getattr(obj, part)
        if not callable(obj):
            raise SpecError(f"detector {target!r}: {attr!r} is not callable")
        self.fn, self.name = obj, str(target)

    def _detect(self, image: np.ndarray) -> list[Box]:
        return [_to_box(item, self.name) for item in (self.fn(image) or [])]


__all__ = ["CallableDetector"]
