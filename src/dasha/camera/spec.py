"""Camera SPEC strings → camera objects (shared by the CLI and the Python API).

Grammar: ``KIND`` or ``KIND:ARGS``.

=========================  ==================================================================================
``sim``                    simulator with defaults (astronaut on brick at 1.7 m, 100 lx, f/2.8, 256×256 px)
``sim:key=value,...``      keys: ``scene`` (skimage photo name, ``aruco:ID`` or image path), ``background``,
                           ``distance`` (m, ≥ 0.2, or ``inf``), ``lux`` (lx), ``fnumber``, ``seed``, ``size``
                           (``256`` or ``HxW`` px), ``exposure`` (µs), ``lens`` (V), ``fraction`` (object width /
                           frame width), ``vibration`` (dpt RMS), ``light`` (``constant`` | ``paper`` | ``random``)
``replay:FILE.npz``        replays a ``dasha record-grid`` file (nearest recorded exposure and lens voltage)
``basler[:SERIAL]``        Basler camera via pypylon (``pip install 'dasha[basler]'``)
``opencv:INDEX``           UVC camera via OpenCV ``VideoCapture``
=========================  ==================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dasha.camera.base import Camera
from dasha.camera.errors import SpecError

_SIM_KEYS: dict[str, tuple[Callable[[str], Any], str]] = {
    "scene": (str, "object texture: skimage photo name, aruco:ID or image file"),
    "background": (str, "background texture: skimage photo name or image file"),
    "distance": (float, "object distance, m (≥ 0.2, or inf)"),
    "lux": (float, "illuminance, lx"),
    "fnumber": (float, "f-number"),
    "seed": (int, "noise seed"),
    "size": (str, "frame size, px (N or HxW)"),
    "exposure": (float, "initial exposure, µs"),
    "lens": (float, "initial lens voltage, V"),
    "fraction": (float, "object width / frame width"),
    "vibration": (float, "object vergence jitter, dpt RMS"),
    "light": (str, "constant | paper | random"),
}


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``KIND:ARGS`` into ``(kind, args)``; kind is lower-cased."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError("empty camera spec (try 'sim' or 'sim:lux=100,distance=1.5')")
    kind, _, args = spec.strip().partition(":")
    return kind.strip().lower(), args.strip()


def parse_kv(spec: str, args: str, keys: dict[str, tuple[Callable[[str], Any], str]]) -> dict[str, Any]:
    """Parse ``key=value,...`` against ``keys`` (name → (converter, help)); SpecError on anything unknown."""
    out: dict[str, Any] = {}
    if not args:
        return out
    for item in args.split(","):
        key, eq, raw = item.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if not eq or not key or not raw:
            raise SpecError(f"camera spec {spec!r}: expected key=value, got {item.strip()!r}")
        if key not in keys:
            raise SpecError(f"camera spec {spec!r}: unknown key {key!r} (known: {', '.join(keys)})")
        if key in out:
            raise SpecError(f"camera spec {spec!r}: key {key!r} given twice")
        convert, what = keys[key]
        try:
            out[key] = convert(raw)
        except ValueError:
            raise SpecError(f"camera spec {spec!r}: {key}={raw!r} is not a valid {what}") from None
    return out


def _size(spec: str, raw: str) -> tuple[int, int]:
    h, sep, w = raw.lower().partition("x")
    try:
        hh = int(h)
        ww = int(w) if sep else hh
    except ValueError:
        raise SpecError(f"camera spec {spec!r}: size={raw!r} is not N or HxW pixels") from None
    return hh, ww


def make_sim(spec: str, args: str) -> Camera:
    """Build a :class:`~dasha.camera.sim.SimCamera` from ``sim:...`` arguments."""
    from dasha.camera.sim import PaperRamp, RandomLight, Scene, SimCamera

    kv = parse_kv(spec, args, _SIM_KEYS)
    distance = kv.get("distance", 1.7)
    if math.isnan(distance) or not (distance >= 0.2):
        raise SpecError(f"camera spec {spec!r}: distance={distance!r} m must be ≥ 0.2 m (or inf)")
    lux = kv.get("lux", 100.0)
    if not (math.isfinite(lux) and 0 < lux <= 1e5):
        raise SpecError(f"camera spec {spec!r}: lux={lux!r} must be in (0, 100000] lx")
    light_kind = kv.get("light", "constant").lower()
    lights = {"constant": None, "paper": PaperRamp(), "random": RandomLight(seed=kv.get("seed", 0))}
    if light_kind not in lights:
        raise SpecError(f"camera spec {spec!r}: light={light_kind!r} must be constant, paper or random")
    scene = Scene.from_names(
        kv.get("scene", "astronaut"),
        kv.get("background", "brick"),
        object_distance_m=distance,
        object_fraction=kv.get("fraction", 0.6),
    )
    vibration = kv.get("vibration", 0.0)
    if not (math.isfinite(vibration) and 0 <= vibration <= 1):
        raise SpecError(f"camera spec {spec!r}: vibration={vibration!r} dpt must be in [0, 1]")
    return SimCamera(
        scene,
        size=_size(spec, kv["size"]) if "size" in kv else 256,
        f_number=kv.get("fnumber", 2.8),
        lux=lux,
        light=lights[light_kind],
        exposure_us=kv.get("exposure", 10_000.0),
        lens_v=kv.get("lens", 24.0),
        seed=kv.get("seed", 0),
        vibration_d=vibration,
        spec=spec,
    )


def make_camera(spec: str) -> Camera:
    """Open the camera described by ``spec`` (see the module docstring for the grammar).

    Raises:
        SpecError: malformed spec, unknown key, value out of range, missing file.
        DependencyMissingError: the backend's optional dependency is not installed.
    """
    kind, args = parse_spec(spec)
    if kind == "sim":
        return make_sim(spec, args)
    if kind == "replay":
        from dasha.camera.replay import ReplayCamera

        if not args:
            raise SpecError(f"camera spec {spec!r}: replay needs a file, e.g. replay:grid.npz")
        return ReplayCamera(args, spec=spec)
    if kind in ("basler", "opencv"):
        raise SpecError(f"camera spec {spec!r}: the {kind} backend is not part of this release yet")
    raise SpecError(f"camera spec {spec!r}: unknown camera kind {kind!r} (known: sim, replay, basler, opencv)")
