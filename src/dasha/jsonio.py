"""The JSON documents dasha writes: one converter for what the standard library would not write as standard JSON.

:func:`to_jsonable` is the only place that decides how values become JSON; every JSON file dasha writes (policy
directories, bench and evaluation documents) goes through it. Readers get back what ``float(text)`` understands:
``"inf"``, ``"-inf"`` and ``"nan"`` for the non-finite floats (``json.dumps`` would write ``Infinity`` / ``NaN``,
which are not JSON). This module imports nothing of dasha, so every part of the package may use it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePath
from typing import Any

import numpy as np

__all__ = ["dumps", "to_jsonable", "write_json"]


def to_jsonable(value: Any) -> Any:
    """``value`` with JSON types only, recursively.

    * non-finite floats → ``"inf"`` / ``"-inf"`` / ``"nan"`` (``str(value)``; ``float()`` reads them back);
    * NumPy scalars → Python ``bool`` / ``int`` / ``float`` (then as above); NumPy arrays → nested lists;
    * tuples and lists → lists; dicts → dicts (NumPy scalar keys → Python scalars); paths → strings.

    Anything else is returned as it is, so ``json.dumps`` still refuses what has no JSON form.
    """
    if isinstance(value, dict):
        return {_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, PurePath):
        return str(value)
    return value


def _key(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


def dumps(value: Any, indent: int | None = 2) -> str:
    """``json.dumps`` of :func:`to_jsonable` (strict: a non-finite float left over is an error, not ``NaN``)."""
    return json.dumps(to_jsonable(value), indent=indent, allow_nan=False)


def write_json(path: Path, doc: Any, indent: int | None = 2) -> Path:
    """Write ``doc`` as JSON to ``path`` (parent directories created); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(doc, indent=indent))
    return path
