"""The SPEC grammar's two parsers (``KIND:ARGS`` and ``key=value,…``), shared by camera and lens SPECs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dasha.camera.errors import SpecError


def parse_spec(spec: str, what: str = "camera") -> tuple[str, str]:
    """Split ``KIND:ARGS`` into ``(kind, args)``; kind is lower-cased. ``what`` names the device in errors."""
    if not isinstance(spec, str) or not spec.strip():
        example = "'sim' or 'sim:lux=100,distance=1.5'" if what == "camera" else "'sim' or 'sim:low=30,high=60'"
        raise SpecError(f"empty {what} spec (try {example})")
    kind, _, args = spec.strip().partition(":")
    return kind.strip().lower(), args.strip()


def parse_kv(
    spec: str, args: str, keys: dict[str, tuple[Callable[[str], Any], str]], what: str = "camera"
) -> dict[str, Any]:
    """Parse ``key=value,...`` against ``keys`` (name → (converter, help)); SpecError on anything unknown.

    ``what`` names the device in errors (``camera`` or ``lens``).
    """
    out: dict[str, Any] = {}
    if not args:
        return out
    for item in args.split(","):
        key, eq, raw = item.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if not eq or not key or not raw:
            raise SpecError(f"{what} spec {spec!r}: expected key=value, got {item.strip()!r}")
        if key not in keys:
            raise SpecError(f"{what} spec {spec!r}: unknown key {key!r} (known: {', '.join(keys)})")
        if key in out:
            raise SpecError(f"{what} spec {spec!r}: key {key!r} given twice")
        convert, meaning = keys[key]
        try:
            out[key] = convert(raw)
        except ValueError:
            raise SpecError(f"{what} spec {spec!r}: {key}={raw!r} is not a valid {meaning}") from None
    return out


__all__ = ["parse_kv", "parse_spec"]
