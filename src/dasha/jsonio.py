"""The JSON documents dasha writes: one converter for what the standard library would not write as standard JSON.

:func:`to_jsonable` is the only place that decides how values become JSON; every JSON file dasha writes (policy
directories, bench and evaluation documents) goes through it. Readers get back what ``float(text)`` understands:
``"inf"``, ``"-inf"`` and ``"nan"`` for the non-finite floats (``json.dumps`` would write ``Infinity`` / ``NaN``,
which are not JSON). This module imports nothing of dasha, so every part of the package may use it.

Files are written atomically (:func:`write_atomic`, :func:`replacing`): into a temporary file beside the target, then
renamed over it, so an interrupted or failed write (Ctrl-C, a full disk) never leaves a half-written or empty file and
the old file stays as it was. A failed write raises :class:`OutputError` (one line: which file, why).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any

import numpy as np

__all__ = ["OutputError", "dumps", "replacing", "to_jsonable", "write_atomic", "write_json"]


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
    """Write ``doc`` as JSON to ``path`` atomically (parent directories created); returns ``path``.

    The document is serialised before anything is written, so a value with no JSON form leaves no file behind."""
    return write_atomic(path, dumps(doc, indent=indent))


class OutputError(OSError):
    """An output file could not be written (a full disk, no permission, not a directory); the old file, if any,
    is intact. ``str()`` is one line naming the file."""

    def __init__(self, path: str | Path, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror or str(exc), str(path))

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


@contextlib.contextmanager
def replacing(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write the new file into; on success it is renamed over ``path``
    (atomic), on any error it is removed and ``path`` is untouched. ``OSError`` becomes :class:`OutputError`.

    A symlink is written through (its target is replaced); an existing non-regular file (``/dev/stdout``, a FIFO)
    cannot be renamed over and is yielded as it is, written in place."""
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    try:
        if target.exists() and not stat.S_ISREG(target.stat().st_mode):
            yield target
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a component of the directory path is a file
            raise OSError(errno.ENOTDIR, f"{target.parent} is not a directory") from None
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(path, exc) from None
    tmp = Path(name)
    try:
        yield tmp
        if target.exists():  # keep the old file's permissions (mkstemp makes 0600)
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (:func:`replacing`); returns ``path``."""
    raw = data.encode() if isinstance(data, str) else data
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()
        if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            os.fsync(fh.fileno())
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
