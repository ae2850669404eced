"""Liquid-lens drivers over a serial port, from the vendors' published wire protocols.

* :class:`~dasha.camera.lens.varioptic.VariopticLens` — Corning Varioptic lens on a USB-M board (V, 24–70 V).
* :class:`~dasha.camera.lens.optotune.OptotuneLens` — Optotune lens on a Lens Driver 4 (mA or dpt).
* :class:`~dasha.camera.lens.transport.SerialTransport` — the pyserial port both use (time-outs, bounded retry).

pyserial is optional (``pip install 'dasha[serial]'``) and imported only when a port is opened. Open a lens with
:func:`dasha.camera.make_lens` (``varioptic:PORT``, ``optotune:PORT[,mode=current|power]``).
"""

from dasha.camera.lens.curves import IdentityPowerCurve, LinearCurrentCurve
from dasha.camera.lens.optotune import OptotuneLens
from dasha.camera.lens.transport import SerialTransport
from dasha.camera.lens.varioptic import VariopticLens

__all__ = ["IdentityPowerCurve", "LinearCurrentCurve", "OptotuneLens", "SerialTransport", "VariopticLens"]
