"""SPEC strings of the serial lens drivers: ``varioptic:PORT[,timeout=S]``, ``optotune:PORT[,mode=…][,timeout=S]``.

:func:`serial_lens_from_spec` is what :func:`dasha.camera.make_lens` calls for those kinds. The port comes first
(``/dev/ttyUSB0``, ``COM3``); the keys after it are ``timeout`` (s, the reply time-out) and, for Optotune, ``mode``
(``current``: drive in mA, the default; ``power``: the driver's focal-power mode, in dpt).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dasha.camera.base import Lens
from dasha.camera.errors import SpecError

__all__ = ["SERIAL_LENS_KEYS", "serial_lens_from_spec"]

#: Keys each serial lens kind takes after its port: name → (converter, meaning).
SERIAL_LENS_KEYS: dict[str, dict[str, tuple[Callable[[str], Any], str]]] = {
    "varioptic": {"timeout": (float, "reply time-out, s (> 0)")},
    "optotune": {"timeout": (float, "reply time-out, s (> 0)"), "mode": (str, "mode: current | power")},
}


def serial_lens_from_spec(spec: str, kind: str, args: str) -> Lens:
    """Open the ``varioptic`` or ``optotune`` lens of ``spec`` (``kind`` and ``args`` as :func:`parse_spec` split it).

    Raises:
        SpecError: no port, an unknown key, a bad value.
        CameraDisconnectedError: the port does not exist or cannot be opened (the message names it).
        DependencyMissingError: pyserial is not installed.
    """
    from dasha.camera.spec_syntax import parse_kv

    port, _, rest = args.partition(",")
    port = port.strip()
    if not port or "=" in port:
        raise SpecError(f"lens spec {spec!r}: {kind} needs a serial port first, e.g. {kind}:/dev/ttyUSB0")
    kv = parse_kv(spec, rest.strip(), SERIAL_LENS_KEYS[kind], "lens")
    options: dict[str, Any] = {}
    if "timeout" in kv:
        timeout = kv["timeout"]
        if not (math.isfinite(timeout) and timeout > 0):
            raise SpecError(f"lens spec {spec!r}: timeout={timeout!r} s must be a positive number of seconds")
        options["timeout_s"] = timeout
    if kind == "varioptic":
        from dasha.camera.lens.varioptic import VariopticLens

        lens: Lens = VariopticLens(port, **options)
    else:
        from dasha.camera.lens.optotune import OptotuneLens

        mode = kv.get("mode", "current").lower()
        if mode not in ("current", "power"):
            raise SpecError(f"lens spec {spec!r}: mode={mode!r} must be current or power")
        lens = OptotuneLens(port, mode=mode, **options)
    lens.spec = spec
    return lens
