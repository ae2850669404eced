"""Pure helpers of the Basler backend (no pypylon needed): exposure limits from GenICam nodes, ROI checks against
the sensor's increments, and the ``basler:`` SPEC's arguments. :mod:`dasha.camera.basler` uses them.

Units: exposure in µs, ROI in px.
"""

from __future__ import annotations

from typing import Any

from dasha.camera.base import Limits
from dasha.camera.calibration import OPTICS_KEYS, optics_from_spec
from dasha.camera.errors import SpecError

__all__ = ["check_roi", "exposure_limits_from_nodes", "parse_basler_args"]


def exposure_limits_from_nodes(exposure: Any, raw: Any = None, base: Any = None) -> Limits:
    """Exposure :class:`Limits` (µs) from the device's exposure node (``Min``, ``Max``, ``Inc``).

    ``raw`` / ``base`` are ``ExposureTimeRaw`` / ``ExposureTimeBaseAbs`` where the camera has them (SFNC 1 GigE
    models such as the acA2000-50gm, whose exposure is ``Raw × Base`` µs): the resolution is the coarser of the
    node's ``Inc`` and ``Base × Raw.Inc`` (pylon's emulation reports ``Inc`` 0.1 µs on ``ExposureTime`` but keeps
    whole µs, its ``Raw × Base`` grid). A node without an increment and no raw grid is continuous (resolution 0).
    """
    low, high = float(exposure.GetMin()), float(exposure.GetMax())
    resolution = float(exposure.GetInc()) if exposure.HasInc() else 0.0
    if raw is not None and base is not None:
        resolution = max(resolution, float(base.GetValue()) * float(raw.GetInc()))
    return Limits(low, high, "µs", resolution=resolution)


def check_roi(
    roi: tuple[int, int, int, int],
    width: tuple[int, int, int],
    height: tuple[int, int, int],
    offset_inc: tuple[int, int] = (1, 1),
) -> tuple[int, int, int, int]:
    """Validate ``roi = (x, y, w, h)`` (px) against the sensor; return it as ints or raise SpecError.

    Args:
        roi: offset x, offset y, width, height (px).
        width: the camera's ``(Width.Min, full width, Width.Inc)`` (px).
        height: the camera's ``(Height.Min, full height, Height.Inc)`` (px).
        offset_inc: ``(OffsetX.Inc, OffsetY.Inc)`` (px).
    """
    try:
        x, y, w, h = (int(v) for v in roi)
        exact = all(float(v) == int(v) for v in roi)
    except (TypeError, ValueError):
        raise SpecError(f"roi must be 4 integers x, y, w, h (px), got {roi!r}") from None
    if not exact or x < 0 or y < 0:
        raise SpecError(f"roi must be 4 integers x, y, w, h (px) with x, y ≥ 0, got {roi!r}")
    for what, size, off, (lo, full, inc), oinc in (
        ("width", w, x, width, offset_inc[0]),
        ("height", h, y, height, offset_inc[1]),
    ):
        if not lo <= size <= full:
            raise SpecError(f"roi {what} {size} px is outside the camera's [{lo}, {full}] px")
        if (size - lo) % inc:
            near = lo + round((size - lo) / inc) * inc
            raise SpecError(f"roi {what} {size} px is not on the camera's {inc} px increment (nearest: {near} px)")
        if off % oinc:
            raise SpecError(f"roi offset {off} px ({what} axis) is not a multiple of the camera's {oinc} px increment")
        if off + size > full:
            raise SpecError(f"roi offset {off} + {what} {size} px exceeds the sensor's {full} px")
    return x, y, w, h


def parse_basler_args(spec: str, args: str) -> tuple[str | None, dict[str, Any]]:
    """``(serial, kwargs)`` for :class:`~dasha.camera.basler.BaslerCamera` from the ``ARGS`` of ``basler:ARGS``:
    ``[SERIAL][,roi=X:Y:W:H][,pfs=FILE][,focal_mm=F,fnumber=N,pitch_um=P][,Feature=value…]`` (``kwargs``:
    ``roi``, ``pfs``, ``features``, ``optics`` — the lens and sensor the camera looks through, or None)."""
    serial: str | None = None
    kwargs: dict[str, Any] = {}
    features: dict[str, str] = {}
    optics: dict[str, str] = {}
    items = [item.strip() for item in args.split(",")] if args else []
    for i, item in enumerate(items):
        key, eq, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq:
            if i or not item:
                raise SpecError(f"camera spec {spec!r}: expected key=value, got {item!r} (the serial comes first)")
            serial = item
            continue
        if not key or not raw:
            raise SpecError(f"camera spec {spec!r}: expected key=value, got {item!r}")
        if key.lower() in kwargs or key in features:
            raise SpecError(f"camera spec {spec!r}: key {key!r} given twice")
        if key.lower() == "roi":
            parts = raw.split(":")
            if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
                raise SpecError(f"camera spec {spec!r}: roi={raw!r} must be X:Y:W:H in px, e.g. roi=0:0:640:480")
            kwargs["roi"] = tuple(int(p) for p in parts)
        elif key.lower() == "pfs":
            kwargs["pfs"] = raw
        elif key in OPTICS_KEYS:
            optics[key] = raw
        else:
            features[key] = raw
    kwargs["features"] = features
    kwargs["optics"] = optics_from_spec(spec, optics)
    return serial, kwargs
