"""Camera and lens SPEC strings → camera and lens objects (shared by the CLI and the Python API).

Grammar: ``KIND`` or ``KIND:ARGS``. Cameras (:func:`make_camera`):

=========================  ==================================================================================
``sim``                    simulator with defaults (astronaut on brick at 1.7 m, 100 lx, f/2.8, 256×256 px)
``sim:key=value,...``      keys: ``scene`` (skimage photo name, ``aruco:ID`` or image path), ``background``,
                           ``distance`` (m, ≥ 0.2, or ``inf``), ``lux`` (lx), ``fnumber``, ``seed``, ``size``
                           (``256`` or ``HxW`` px), ``exposure`` (µs), ``lens`` (initial V; default
                           ``lens_low``), ``lens_low`` / ``lens_high`` (the liquid lens's drive limits, V, inside
                           24–70 V; default 24 and 70, e.g. ``lens_low=30,lens_high=60`` for a narrower driver),
                           ``fraction`` (object width / frame width), ``vibration`` (dpt RMS), ``light``
                           (``constant`` | ``paper`` | ``random``)
``replay:FILE.npz``        replays a ``dasha record-grid`` file (nearest recorded exposure and lens voltage)
``basler[:SERIAL][,…]``    Basler / GenICam camera via pypylon (``pip install 'dasha[basler]'``): that serial or
                           the first camera; ``,roi=X:Y:W:H`` (px), ``,pfs=FILE`` (pylon feature file), any other
                           ``,Feature=value`` sets that GenICam feature (e.g. ``Gain=3.0``), after the file and ROI;
                           ``,focal_mm=F,fnumber=N,pitch_um=P`` (also on ``opencv``): the optics it looks through
``twin:key=value,...``     hardware-in-the-loop twin, the ``sim:`` keys: the Basler backend on pylon's camera
                           emulation and the Varioptic driver on a pseudo-terminal to a simulated USB-M board, the
                           simulator rendering every frame (:class:`~dasha.camera.twin.camera.TwinCamera`)
``opencv:INDEX``           UVC webcam: frames via OpenCV ``VideoCapture``, exposure and ``focus_absolute`` (a lens
``opencv:/dev/videoN``     in focus steps) via V4L2 controls (``pip install 'dasha[uvc]'``, linuxpy)
``faults(K=P,…):SPEC``     the camera of any SPEC with faults injected, each key a probability: ``timeout``,
                           ``disconnect``, ``black``, ``saturated``, ``corrupt``, ``shape``, ``stale`` (per
                           capture), ``nack``, ``noreply``, ``stuck``, ``slow`` (per lens command), ``drop``
                           (twin: per serial byte); ``seed``, ``outage`` (captures), ``slow_s`` (s)
                           (:mod:`dasha.camera.faults`), e.g. ``faults(timeout=0.05,black=0.02,seed=1):sim``
=========================  ==================================================================================

Lenses (:func:`make_lens`), to pair with a camera body in :class:`~dasha.camera.compose.CameraWithLens`:

=========================  ==================================================================================
``sim``                    simulated Varioptic liquid lens, 24–70 V at 1 mV (:class:`~dasha.camera.sim.SimLens`)
``sim:key=value,...``      keys: ``low`` / ``high`` (drive limits, V, inside 24–70 V), ``voltage`` (initial V;
                           default ``low``)
``varioptic:PORT[,…]``    Corning Varioptic lens on a USB-M board over a serial port, 24–70 V at 1 mV
                           (``pip install 'dasha[serial]'``); key ``timeout`` (reply time-out, s)
``optotune:PORT[,…]``      Optotune lens on a Lens Driver 4 over a serial port; keys ``mode`` (``current``: mA,
                           the default, | ``power``: the driver's focal-power mode, dpt), ``timeout`` (s)
=========================  ==================================================================================

Every malformed SPEC raises :class:`~dasha.camera.errors.SpecError` (a ConfigError: exit code 2 in the CLI).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dasha.camera.base import Camera, Lens, Limits
from dasha.camera.errors import OutOfRangeError, SpecError
from dasha.camera.spec_syntax import parse_kv, parse_spec

_SIM_LENS_KEYS: dict[str, tuple[Callable[[str], Any], str]] = {
    "low": (float, "drive low limit, V (24–70)"),
    "high": (float, "drive high limit, V (24–70)"),
    "voltage": (float, "initial drive voltage, V"),
}


def _seed(raw: str) -> int:
    """A noise seed: an integer ≥ 0 (ValueError otherwise, which the SPEC parser reports)."""
    value = int(raw)
    if value < 0:
        raise ValueError(f"seed must be ≥ 0, got {value}")
    return value


_SIM_KEYS: dict[str, tuple[Callable[[str], Any], str]] = {
    "scene": (str, "object texture: skimage photo name, aruco:ID or image file"),
    "background": (str, "background texture: skimage photo name or image file"),
    "distance": (float, "object distance, m (≥ 0.2, or inf)"),
    "lux": (float, "illuminance, lx"),
    "fnumber": (float, "f-number"),
    "seed": (_seed, "noise seed (an integer ≥ 0)"),
    "size": (str, "frame size, px (N or HxW)"),
    "exposure": (float, "initial exposure, µs"),
    "lens": (float, "initial lens voltage, V"),
    "lens_low": (float, "lens drive low limit, V (24–70)"),
    "lens_high": (float, "lens drive high limit, V (24–70)"),
    "fraction": (float, "object width / frame width"),
    "vibration": (float, "object vergence jitter, dpt RMS"),
    "light": (str, "constant | paper | random"),
}


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
    lens_limits = _sim_lens_limits(spec, kv.get("lens_low"), kv.get("lens_high"), "lens_low", "lens_high")
    _check_initial_lens(spec, kv.get("lens"), lens_limits, "lens")
    return SimCamera(
        scene,
        size=_size(spec, kv["size"]) if "size" in kv else 256,
        f_number=kv.get("fnumber", 2.8),
        lux=lux,
        light=lights[light_kind],
        exposure_us=kv.get("exposure", 10_000.0),
        lens_v=kv.get("lens"),
        seed=kv.get("seed", 0),
        vibration_d=vibration,
        spec=spec,
        lens_limits=lens_limits,
    )


def _sim_lens_limits(spec: str, low: float | None, high: float | None, low_key: str, high_key: str) -> Limits | None:
    """Drive limits (V) of a simulated lens from a SPEC's ``low`` / ``high`` keys; None for the default 24–70 V."""
    from dasha.camera.calibration import VARIOPTIC_LIMITS

    if low is None and high is None:
        return None
    full = VARIOPTIC_LIMITS
    lo = full.low if low is None else low
    hi = full.high if high is None else high
    if not (math.isfinite(lo) and math.isfinite(hi) and full.low <= lo < hi <= full.high):
        raise SpecError(
            f"spec {spec!r}: {low_key}={lo:g}, {high_key}={hi:g} V must satisfy "
            f"{full.low:g} ≤ {low_key} < {high_key} ≤ {full.high:g} V (the Varioptic drive range)"
        )
    return Limits(lo, hi, "V", resolution=full.resolution)


def _check_initial_lens(spec: str, volts: float | None, limits: Limits | None, key: str) -> None:
    """SpecError unless the initial lens voltage ``volts`` (V) lies inside ``limits`` (default 24–70 V)."""
    from dasha.camera.calibration import VARIOPTIC_LIMITS

    if volts is None:
        return
    try:
        (limits or VARIOPTIC_LIMITS).check(volts, "initial lens voltage")
    except OutOfRangeError as exc:
        raise SpecError(f"spec {spec!r}: {key}={volts:g}: {exc}") from None


def make_lens(spec: str) -> Lens:
    """Open the focus lens described by ``spec`` (see the module docstring for the grammar).

    ``sim[:low=…,high=…,voltage=…]`` is a simulated Varioptic volt lens on a virtual clock of its own;
    ``varioptic:PORT`` and ``optotune:PORT[,mode=current|power]`` open the serial drivers of
    :mod:`dasha.camera.lens`.

    Raises:
        SpecError: malformed spec, unknown key, value out of range.
        CameraDisconnectedError: a serial lens's port does not exist or cannot be opened (the message names it).
        DependencyMissingError: pyserial is not installed for a serial lens.
    """
    kind, args = parse_spec(spec, "lens")
    if kind == "sim":
        from dasha.camera.sim import SimLens

        kv = parse_kv(spec, args, _SIM_LENS_KEYS, "lens")
        limits = _sim_lens_limits(spec, kv.get("low"), kv.get("high"), "low", "high")
        _check_initial_lens(spec, kv.get("voltage"), limits, "voltage")
        lens = SimLens(voltage_v=kv.get("voltage"), limits=limits)
        lens.spec = spec
        return lens
    if kind in ("varioptic", "optotune"):
        from dasha.camera.lens.spec import serial_lens_from_spec

        return serial_lens_from_spec(spec, kind, args)
    raise SpecError(f"lens spec {spec!r}: unknown lens kind {kind!r} (known: sim, varioptic, optotune)")


def make_camera(spec: str) -> Camera:
    """Open the camera described by ``spec`` (see the module docstring for the grammar).

    Raises:
        SpecError: malformed spec, unknown key, value out of range, missing file.
        DependencyMissingError: the backend's optional dependency is not installed.
    """
    if isinstance(spec, str) and spec.strip().lower().startswith("faults("):
        from dasha.camera.faults import faults_from_spec

        return faults_from_spec(spec, make_camera)
    kind, args = parse_spec(spec)
    if kind == "sim":
        return make_sim(spec, args)
    if kind == "replay":
        from dasha.camera.replay import ReplayCamera

        if not args:
            raise SpecError(f"camera spec {spec!r}: replay needs a file, e.g. replay:grid.npz")
        return ReplayCamera(args, spec=spec)
    if kind == "basler":
        from dasha.camera.basler import basler_from_spec

        return basler_from_spec(spec, args)
    if kind == "opencv":
        from dasha.camera.uvc import uvc_from_spec

        return uvc_from_spec(spec, args)
    if kind == "twin":
        from dasha.camera.twin.camera import TwinCamera

        sim = make_sim(spec, args)
        return TwinCamera(sim, spec=spec)  # type: ignore[arg-type]
    raise SpecError(
        f"camera spec {spec!r}: unknown camera kind {kind!r} (known: sim, replay, basler, opencv, twin, faults(…):SPEC)"
    )
