"""Reading the files of a training run as data: UTF-8, size-capped, JSON objects only, every field checked.

Nothing here unpickles or imports anything a file names. Every reader raises
:class:`~dasha.camera.errors.ConfigError` (exit 2) with one line naming the file and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from dasha.camera.errors import ConfigError

#: Largest JSON / TOML / JSON-lines file dasha reads (bytes): run and policy files are a few kB.
MAX_TEXT_BYTES = 64 << 20
#: The name part of a metric or counter key (RLlib's ``env_runners--num_env_steps_sampled_lifetime``, …).
KEY = re.compile(r"[A-Za-z0-9_./\-]{1,200}")


def read_bytes(path: Path, what: str, max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file; ConfigError if it is missing, a directory, larger than ``max_bytes`` or
    unreadable."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {str(path)!r} not found")
    if path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a directory, not a file")
    if not path.is_file():
        raise ConfigError(f"{what} {str(path)!r} is not a regular file")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError(f"{what} {str(path)!r} is {size} bytes; at most {max_bytes} are read")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None


def read_text(path: Path, what: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """UTF-8 text of a file (:func:`read_bytes`); ConfigError if it is not UTF-8."""
    raw = read_bytes(path, what, max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start})") from None


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that must hold one object; ConfigError otherwise (``NaN`` / ``Infinity`` are refused: dasha
    writes non-finite floats as strings)."""
    text = read_text(path, what)
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{what} {str(path)!r} must hold a JSON object, not {type(doc).__name__}")
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_jsonl(path: Path, what: str, torn_tail: bool = False) -> list[dict[str, Any]]:
    """JSON-lines file of objects; ``torn_tail``: a last line without its newline that does not parse (a write cut
    short by a kill) is dropped instead of refused."""
    text = read_text(path, what)
    lines = text.split("\n")
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError, RecursionError) as exc:
            if torn_tail and number == len(lines):
                break
            raise ConfigError(f"{what} {str(path)!r} line {number} is not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{what} {str(path)!r} line {number} must be a JSON object")
        rows.append(row)
    return rows


def load_toml(path: Path | None) -> dict[str, Any]:
    """A TOML override file (``[ppo]`` / ``[env]`` tables; :func:`dasha.agents.rllib.RunSpec.build` checks every
    key); ConfigError for a missing, unreadable, non-UTF-8 or malformed file, or a section that is not a table."""
    if path is None:
        return {}
    try:
        doc = tomllib.loads(read_text(Path(path), "config file"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    for name, value in doc.items():
        if name in ("ppo", "env") and not isinstance(value, dict):
            raise ConfigError(f"config file {str(path)!r}: {name} must be a [{name}] table, not {_kind(value)}")
    return doc


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip


def expect(doc: dict[str, Any], key: str, kinds: tuple[type, ...], where: str, optional: bool = False) -> Any:
    """``doc[key]`` checked against ``kinds`` (``bool`` is never an ``int`` here; ``float`` accepts an int; None
    only when ``optional``); ConfigError naming ``where`` and the key otherwise."""
    if key not in doc:
        if optional:
            return None
        raise ConfigError(f"{where}: missing key {key!r}")
    value = doc[key]
    if value is None and optional:
        return None
    ok = any(
        (kind is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (kind is int and isinstance(value, int) and not isinstance(value, bool))
        or (kind not in (int, float) and isinstance(value, kind))
        for kind in kinds
    )
    if not ok:
        names = " or ".join(k.__name__ for k in kinds) + (" or null" if optional else "")
        raise ConfigError(f"{where}: {key!r} must be {names}, not {_kind(value)} {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {key!r} must be finite, got {value}")
    return value


def expect_strings(doc: dict[str, Any], key: str, where: str, optional: bool = True) -> list[str] | None:
    """A list of strings (or None when ``optional``)."""
    value = expect(doc, key, (list,), where, optional)
    if value is not None and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key!r} must be a list of strings")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_metrics_rows(rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Iteration records: ``iteration`` 1, 2, …, N with no gap or repeat, ``env_steps`` non-decreasing integers,
    every other value a finite number, a string or null; ConfigError otherwise."""
    steps = 0
    for number, row in enumerate(rows, 1):
        it = expect(row, "iteration", (int,), f"{where} record {number}")
        env_steps = expect(row, "env_steps", (int,), f"{where} record {number}")
        if it != number:
            raise ConfigError(f"{where}: record {number} has iteration {it} (iterations must run 1, 2, …)")
        if env_steps < steps:
            raise ConfigError(f"{where}: env_steps go backwards at iteration {it}")
        steps = env_steps
        for key, value in row.items():
            if not KEY.fullmatch(key):
                raise ConfigError(f"{where}: record {number} has a bad key {_short(key)}")
            if value is not None and not isinstance(value, str):
                expect(row, key, (float,), f"{where} record {number}")
    return rows
