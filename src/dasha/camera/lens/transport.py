"""A small serial transport for the lens drivers: open a port, write, read exact byte counts with a deadline, retry.

:class:`SerialTransport` wraps one pyserial port (imported lazily: a missing pyserial raises
:class:`~dasha.camera.errors.DependencyMissingError` naming the ``serial`` extra). Every error names the device and
the port:

* a port that does not exist or cannot be opened, and a port that goes away (read/write fails) →
  :class:`~dasha.camera.errors.CameraDisconnectedError`;
* no reply within the time-out → :class:`~dasha.camera.errors.CameraTimeoutError`;
* part of a reply (fewer bytes than the protocol needs) → :class:`~dasha.camera.errors.ProtocolError`.

:meth:`SerialTransport.call` runs one request with a bounded retry; the drivers use it only where the protocol makes
a repeat safe (reads, writes of an absolute setting). Before a retry the line is drained until it has been quiet,
so late bytes of the failed attempt are not taken for the next reply.

Every byte sent and received goes to the ``dasha.camera.lens`` logger (DEBUG, hex) and to :attr:`monitor` when set
(``monitor("tx" | "rx", data)``, e.g. to log a run's serial traffic).

Units: time-outs and gaps in s, baud rate in bit/s.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dasha.camera.base import Lens
from dasha.camera.errors import (
    CameraDisconnectedError,
    CameraTimeoutError,
    ConfigError,
    DependencyMissingError,
    ProtocolError,
)

__all__ = ["SerialTransport", "import_serial", "wire_log"]

_LOG = logging.getLogger("dasha.camera.lens")
T = TypeVar("T")

#: How long the line must stay silent before a retry (s), and the longest a drain may take (s).
QUIET_S = 0.01
MAX_DRAIN_S = 0.5


def import_serial() -> Any:
    """The ``serial`` module (pyserial); DependencyMissingError naming the ``serial`` extra when it is missing."""
    try:
        import serial
    except ImportError:
        raise DependencyMissingError("pyserial", "serial", "serial lens drivers") from None
    return serial


def wire_log(device: Any) -> Callable[[str, bytes], None]:
    """A :attr:`SerialTransport.monitor` that records every chunk in ``device``'s command log (``Device.command_log``,
    when it has one set) as ``log_command("serial", tx=hex)`` / ``log_command("serial", rx=hex)``."""

    def monitor(direction: str, data: bytes) -> None:
        if getattr(device, "command_log", None) is not None:
            device.log_command("serial", **{direction: data.hex(" ")})

    return monitor


class SerialTransport:
    """One open serial port, 8 data bits, no parity, 1 stop bit, no flow control.

    Args:
        port: the port's name (``/dev/ttyUSB0``, ``/dev/ttyACM0``, ``COM3``, a pseudo-terminal).
        baudrate: line speed (bit/s).
        timeout_s: how long one reply may take to arrive in full (s, > 0); writes use the same limit.
        device: what is on the port, for error messages (``"Varioptic lens"``).

    Raises:
        DependencyMissingError: pyserial is not installed.
        CameraDisconnectedError: the port does not exist or cannot be opened (the message names it).
    """

    def __init__(self, port: str, *, baudrate: int, timeout_s: float, device: str) -> None:
        if not (isinstance(timeout_s, int | float) and timeout_s > 0 and timeout_s < float("inf")):
            raise ConfigError(f"{device}: timeout_s must be a positive number of s, got {timeout_s!r}")
        serial = import_serial()
        self.port = str(port)
        self.device = device
        self.timeout_s = float(timeout_s)
        #: Called with ``("tx", bytes)`` / ``("rx", bytes)`` for every chunk sent / received; None: nobody.
        self.monitor: Callable[[str, bytes], None] | None = None
        self._errors: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
        self._write_timeout: type[BaseException] = serial.SerialTimeoutException
        options: dict[str, Any] = {"exclusive": True} if os.name == "posix" else {}
        try:
            self._serial = serial.Serial(
                port=self.port,
                baudrate=baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=self.timeout_s,
                write_timeout=self.timeout_s,
                xonxoff=False,
                rtscts=False,
                dsrdtr=False,
                **options,
            )
        except (*self._errors, ValueError) as exc:
            raise CameraDisconnectedError(f"{device}: cannot open serial port {self.port}: {exc}") from None
        self._closed = False

    # -- bytes ----------------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send ``data`` in full (CameraTimeoutError if the port does not take it within the time-out)."""
        self._check_open()
        self._trace("tx", data)
        try:
            self._serial.write(data)
            self._serial.flush()
        except self._write_timeout:
            raise CameraTimeoutError(
                f"{self.device} on {self.port}: the port did not take {len(data)} bytes within {self.timeout_s:g} s"
            ) from None
        except self._errors as exc:
            raise self._gone("write", exc) from None

    def read_upto(self, n: int, timeout_s: float | None = None) -> bytes:
        """Up to ``n`` bytes, returning early only when ``n`` arrived or ``timeout_s`` (default: the port's) passed.

        Never raises on silence: the result may be short or empty.
        """
        self._check_open()
        timeout = self.timeout_s if timeout_s is None else max(float(timeout_s), 0.0)
        try:
            if self._serial.timeout != timeout:
                self._serial.timeout = timeout  # pyserial's read(n) waits for n bytes until one overall deadline
            out = bytes(self._serial.read(n))
        except self._errors as exc:
            raise self._gone("read", exc) from None
        if out:
            self._trace("rx", out)
        return out

    def read_exact(self, n: int, what: str, timeout_s: float | None = None, have: bytes = b"") -> bytes:
        """Exactly ``n`` bytes of the reply to ``what`` (``have``: the first bytes of it, already read).

        Raises:
            CameraTimeoutError: nothing arrived within the time-out (s).
            ProtocolError: fewer than ``n`` bytes arrived (a short reply).
            CameraDisconnectedError: the port went away.
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        data = have + self.read_upto(n - len(have), timeout) if len(have) < n else have
        if not data:
            raise CameraTimeoutError(f"{self.device} on {self.port}: no reply to {what} within {timeout:g} s")
        if len(data) < n:
            raise ProtocolError(
                f"{self.device} on {self.port}: short reply to {what}: {len(data)} of {n} bytes ({data.hex(' ')})"
            )
        return data

    def discard_input(self) -> bytes:
        """Drop whatever already waits in the input buffer (stray bytes of an earlier exchange); returns it."""
        self._check_open()
        try:
            waiting = self._serial.in_waiting
        except self._errors as exc:
            raise self._gone("read", exc) from None
        if not waiting:
            return b""
        stray = self.read_upto(waiting, 0.0)
        if stray:
            _LOG.warning("%s on %s: discarded %d stray bytes: %s", self.device, self.port, len(stray), stray.hex(" "))
        return stray

    def drain(self, quiet_s: float = QUIET_S, max_s: float = MAX_DRAIN_S) -> bytes:
        """Read and drop bytes until the line has been silent for ``quiet_s`` s (at most ``max_s`` s)."""
        out = bytearray()
        end = time.monotonic() + max_s
        while time.monotonic() < end:
            chunk = self.read_upto(256, quiet_s)
            if not chunk:
                break
            out += chunk
        return bytes(out)

    # -- requests -------------------------------------------------------------------------------------------------
    def call(self, request: Callable[[], T], *, what: str, retries: int) -> T:
        """Run ``request`` (one exchange), repeating it at most ``retries`` times after a time-out or a retryable
        :class:`ProtocolError`. Use only for requests that are safe to repeat (reads, absolute settings).

        The last error is raised with the number of attempts added to its message.
        """
        attempts = max(int(retries), 0) + 1
        for attempt in range(1, attempts + 1):
            try:
                return request()
            except (CameraTimeoutError, ProtocolError) as exc:
                if isinstance(exc, ProtocolError) and not exc.retryable:
                    raise
                if attempt == attempts:
                    if attempts == 1:
                        raise
                    raise type(exc)(f"{exc} (after {attempts} attempts)") from exc
                _LOG.warning("%s; retrying %s (%d/%d)", exc, what, attempt, retries)
                self.drain()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the port (idempotent; errors of a port that already went away are ignored)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._serial.close()
        except self._errors:
            pass

    def _check_open(self) -> None:
        if self._closed:
            raise CameraDisconnectedError(f"{self.device} on {self.port}: the serial port is closed")

    def _gone(self, action: str, exc: BaseException) -> CameraDisconnectedError:
        return CameraDisconnectedError(f"{self.device} on {self.port}: serial {action} failed (unplugged?): {exc}")

    def _trace(self, direction: str, data: bytes) -> None:
        if _LOG.isEnabledFor(logging.DEBUG):
            _LOG.debug("%s %s %s", self.port, direction, data.hex(" "))
        if self.monitor is not None:
            self.monitor(direction, data)


class SerialLens(Lens):
    """A lens behind a :class:`SerialTransport` (set ``_t`` in ``__init__``): its port and transport."""

    _t: SerialTransport

    @property
    def port(self) -> str:
        """The serial port this lens is on."""
        return self._t.port

    @property
    def transport(self) -> SerialTransport:
        """The serial transport (its ``monitor`` sees every byte sent and received)."""
        return self._t
