"""Corning Varioptic liquid lens on a USB-M (Flexiboard / "Caspian") driver board, over its serial port.

Wire format (after Corning's USB-M Flexiboard User Guide and two open implementations): 57 600 baud, 8N1, no
flow control.

* write ``02 37 ADD N D1..Dn CK`` → ACK ``02 37 06 3F`` or NACK ``02 37 15 4E``;
* read ``02 38 ADD N CK`` → ``02 38 D1..Dn CK`` (no ADD/N echo) or the read NACK ``02 38 15 4F``;
* ``CK`` = (sum of every preceding byte of the frame) & 0xFF — also for replies, whose checksum is checked
  against the reply's own bytes (the approach [S2]/[S5] take; UNCERTAIN in the guide);
* registers: 0x00/0x01 Focus LSB/MSB, 0x03 Mode (bit0 standby, bit1 analog), 0x05 SW version, 0x0A Fault
  (bit0 overload / Vh < 70 V, bit1 HV driver not answering on I²C, bit2 thermal shutdown);
* focus code N = round((V − 24)·1000), 0…46 000 (0xB3B0): 24.000–70.000 V RMS in 1 mV steps, written LSB+MSB in
  one frame (the output changes when the MSB is written).

:class:`VariopticLens` writes Mode = 0 at start-up (the board powers up in analog mode), reads the SW version and the
Fault register, then drives the focus voltage (V): every command is checked against the limits before a byte is sent,
acknowledged by the board and followed by a Fault read (a set fault raises :class:`DeviceFaultError`). Reads and
focus writes are absolute, so a time-out or a malformed reply is retried a bounded number of times.

Decisions where the document leaves a choice (UNCERTAIN):

* A read NACK for a 1-register read (``02 38 15 4F``) is byte-for-byte a reply carrying 0x15; it is decoded as data.
  For the 2-register focus read a 4-byte ``02 38 15 4F`` followed by silence (:data:`NACK_GAP_S`) is a NACK.
* The write NACK is ``02 37 15 4E`` ([S3]); the guide's ``... 06`` is taken as a typo.
* A NACK is retried like a corrupted reply (the board refuses a frame it received garbled; the write is absolute).
* The lens is left at its last setting on close (nothing is written).

Units: V (RMS) for the focus drive, dpt for optical power, s for time-outs.
"""

from __future__ import annotations

from dasha.camera.base import LensCurve, Limits
from dasha.camera.calibration import VARIOPTIC_LIMITS, VariopticCurve
from dasha.camera.errors import CommandRejectedError, ConfigError, DeviceFaultError, OutOfRangeError, ProtocolError
from dasha.camera.lens.transport import SerialLens, SerialTransport, wire_log

__all__ = [
    "ACK",
    "BAUDRATE",
    "FAULT_BITS",
    "NACK",
    "READ_NACK",
    "VariopticLens",
    "checksum",
    "decode_faults",
    "focus_code",
    "focus_volts",
    "focus_write_frame",
    "parse_read_reply",
    "parse_write_reply",
    "read_frame",
    "write_frame",
]

BAUDRATE = 57_600
STX, WRITE, READ = 0x02, 0x37, 0x38
ACK = bytes([STX, WRITE, 0x06, 0x3F])
NACK = bytes([STX, WRITE, 0x15, 0x4E])
READ_NACK = bytes([STX, READ, 0x15, 0x4F])
REG_FOCUS, REG_CONTROL, REG_MODE, REG_VERSION, REG_FAULT = 0x00, 0x02, 0x03, 0x05, 0x0A
#: Largest focus code (70 V) and the voltage of code 0 (V).
MAX_CODE, V_ZERO = 46_000, 24.0
#: Fault register bits → what they mean (USB-M guide §5).
FAULT_BITS = {0: "HV overload (Vh < 70 V)", 1: "HV driver not answering on I2C", 2: "thermal shutdown"}
#: How long a 4-byte ``02 38 15 4F`` waits for a fifth byte before it counts as a read NACK (s).
NACK_GAP_S = 0.05


# -- frames (pure functions) ---------------------------------------------------------------------------------------
def checksum(data: bytes) -> int:
    """The USB-M checksum of ``data``: the sum of its bytes, & 0xFF."""
    return sum(data) & 0xFF


def _with_checksum(body: bytes) -> bytes:
    return body + bytes([checksum(body)])


def write_frame(address: int, data: bytes) -> bytes:
    """``02 37 ADD N D1..Dn CK``: write ``data`` (1–12 bytes) to consecutive registers from ``address``."""
    if not (0 <= address <= 0xFF) or not (1 <= len(data) <= 12):
        raise ValueError(f"a USB-M write needs a register 0–255 and 1–12 data bytes, got {address}, {len(data)}")
    return _with_checksum(bytes([STX, WRITE, address, len(data), *data]))


def read_frame(address: int, count: int) -> bytes:
    """``02 38 ADD N CK``: read ``count`` (1–12) consecutive registers from ``address``."""
    if not (0 <= address <= 0xFF) or not (1 <= count <= 12):
        raise ValueError(f"a USB-M read needs a register 0–255 and 1–12 registers, got {address}, {count}")
    return _with_checksum(bytes([STX, READ, address, count]))


def focus_code(volts: float) -> int:
    """Focus code N = round((V − 24)·1000) of ``volts`` (V); OutOfRangeError outside 24–70 V (nothing to send)."""
    if not isinstance(volts, int | float) or not (V_ZERO <= volts <= V_ZERO + MAX_CODE / 1000):
        raise OutOfRangeError(f"Varioptic focus voltage {volts!r} V is outside 24–70 V")
    return min(max(round((float(volts) - V_ZERO) * 1000), 0), MAX_CODE)


def focus_volts(code: int) -> float:
    """Focus voltage (V) of focus code ``code`` (0–46 000)."""
    if not 0 <= code <= MAX_CODE:
        raise ProtocolError(f"focus code {code} (0x{code:04X}) is outside 0–{MAX_CODE} (24–70 V)")
    return (V_ZERO * 1000 + code) / 1000


def focus_write_frame(volts: float) -> bytes:
    """The one frame that sets the focus to ``volts`` (V): ``02 37 00 02 LSB MSB CK``."""
    code = focus_code(volts)
    return write_frame(REG_FOCUS, bytes([code & 0xFF, code >> 8]))


def parse_write_reply(reply: bytes, what: str = "write") -> None:
    """Check a write reply: ACK passes; NACK → CommandRejectedError; anything else → ProtocolError."""
    if reply == ACK:
        return
    if reply == NACK:
        raise CommandRejectedError(f"NACK: the board refused {what} (reply {reply.hex(' ')})")
    raise ProtocolError(f"bad reply to {what}: {reply.hex(' ')} (expected ACK {ACK.hex(' ')} or NACK)")


def parse_read_reply(reply: bytes, count: int, what: str = "read") -> bytes:
    """The ``count`` data bytes of a read reply ``02 38 D1..Dn CK``.

    Raises:
        CommandRejectedError: the read NACK ``02 38 15 4F`` (only when ``count`` ≥ 2; see the module docstring).
        ProtocolError: wrong length or header, or a checksum that is not the sum of the reply's bytes.
    """
    if count >= 2 and reply == READ_NACK:
        raise CommandRejectedError(f"NACK: the board refused {what} (reply {reply.hex(' ')})")
    if len(reply) != count + 3 or reply[:2] != bytes([STX, READ]):
        raise ProtocolError(f"bad reply to {what}: {reply.hex(' ')} (expected 02 38 + {count} data bytes + checksum)")
    if checksum(reply[:-1]) != reply[-1]:
        raise ProtocolError(
            f"bad checksum in the reply to {what}: {reply.hex(' ')} (expected {checksum(reply[:-1]):02x})"
        )
    return reply[2:-1]


def decode_faults(bits: int) -> list[str]:
    """What the set bits of a Fault register value mean (unknown bits by number)."""
    return [FAULT_BITS.get(b, f"unknown fault bit {b}") for b in range(8) if bits >> b & 1]


# -- the lens ------------------------------------------------------------------------------------------------------
class VariopticLens(SerialLens):
    """A Varioptic (Corning) liquid lens on a USB-M board at ``port``, driven in V RMS (24–70 V at 1 mV).

    Args:
        port: the board's serial port (a cp210x VCP: ``/dev/ttyUSB0``, ``COM3``).
        timeout_s: how long one reply may take (s).
        curve: voltage (V) → added optical power (dpt); default :class:`~dasha.camera.calibration.VariopticCurve`
            (an assumed curve: calibrate a real lens with ``dasha calibrate``).
        limits: drive limits (V) inside 24–70 V at 1 mV; default the full range.
        retries: how many times a failed read or focus write is repeated (≥ 0).
        settle_time_s: how long a command waits for the optics to settle (s; the A-39N0's settling time was not
            found, "tens of ms" is assumed: 0.05 s).

    Raises:
        CameraDisconnectedError: the port does not exist or cannot be opened (named in the message).
        CameraTimeoutError: the board does not answer the start-up exchange.
        DeviceFaultError: the board reports a fault at start-up.
        DependencyMissingError: pyserial is not installed (``pip install 'dasha[serial]'``).
    """

    def __init__(
        self,
        port: str,
        *,
        timeout_s: float = 0.5,
        curve: LensCurve | None = None,
        limits: Limits | None = None,
        retries: int = 1,
        settle_time_s: float = 0.05,
    ) -> None:
        full = VARIOPTIC_LIMITS
        limits = full if limits is None else limits
        if limits.unit != "V" or limits.low < full.low or limits.high > full.high or limits.resolution < 0.001:
            raise ConfigError(f"Varioptic limits must be volts inside 24–70 V at ≥ 1 mV steps, got {limits}")
        self.limits = limits
        self.curve = VariopticCurve() if curve is None else curve
        if self.curve.unit != "V":
            raise ConfigError(f"a Varioptic lens needs a V→dpt curve, got one in {self.curve.unit}")
        self.settle_time_s = float(settle_time_s)
        self.retries = int(retries)
        self.spec = f"varioptic:{port}"
        self._t = SerialTransport(port, baudrate=BAUDRATE, timeout_s=timeout_s, device="Varioptic lens")
        self._t.monitor = wire_log(self)
        try:
            self._write(REG_MODE, b"\x00", "Mode = 0 (leave analog/standby)")
            self.firmware_version: int = self._read(REG_VERSION, 1, "the SW version register")[0]
            self.check_faults()
        except BaseException:
            self._t.close()
            raise

    def check_faults(self) -> None:
        """Read the Fault register; DeviceFaultError naming each set bit (and the port) when it is not 0."""
        self._check_open()
        bits = self._read(REG_FAULT, 1, "the Fault register")[0]
        if bits:
            raise DeviceFaultError(
                f"Varioptic lens on {self.port} reports a fault (register 0x0A = 0x{bits:02X}): "
                + "; ".join(decode_faults(bits))
            )

    # -- hooks -----------------------------------------------------------------------------------------------------
    def _do_set_setting(self, value: float) -> None:
        """Write the focus voltage ``value`` (V) as LSB+MSB in one frame, then check the Fault register."""
        code = focus_code(value)
        self._write(REG_FOCUS, bytes([code & 0xFF, code >> 8]), f"focus {value:.3f} V")
        self.check_faults()

    def _do_get_setting(self) -> float:
        """Read the focus code back (registers 0x00–0x01) as a voltage (V)."""
        data = self._read(REG_FOCUS, 2, "the focus registers")
        try:
            return focus_volts(data[0] | data[1] << 8)
        except ProtocolError as exc:
            raise ProtocolError(f"Varioptic lens on {self.port}: {exc}") from None

    def _do_close(self) -> None:
        self._t.close()

    # -- exchanges -------------------------------------------------------------------------------------------------
    def _write(self, address: int, data: bytes, what: str) -> None:
        frame = write_frame(address, data)

        def once() -> None:
            self._t.discard_input()
            self._t.write(frame)
            self._named(parse_write_reply, self._t.read_exact(len(ACK), what), what)

        self._t.call(once, what=what, retries=self.retries)

    def _read(self, address: int, count: int, what: str) -> bytes:
        frame = read_frame(address, count)

        def once() -> bytes:
            self._t.discard_input()
            self._t.write(frame)
            size = count + 3
            reply = self._t.read_exact(len(READ_NACK), what)
            if size > len(reply) and reply == READ_NACK:  # a NACK, unless more bytes follow at once
                reply += self._t.read_upto(size - len(reply), min(NACK_GAP_S, self._t.timeout_s))
            if size > len(reply) and reply != READ_NACK:
                reply = self._t.read_exact(size, what, have=reply)
            return self._named(parse_read_reply, reply, count, what)

        return self._t.call(once, what=what, retries=self.retries)

    def _named(self, parse, *args):  # type: ignore[no-untyped-def]
        """Run a reply parser, naming the lens and port in its errors."""
        try:
            return parse(*args)
        except ProtocolError as exc:
            raise type(exc)(f"Varioptic lens on {self.port}: {exc}") from None
