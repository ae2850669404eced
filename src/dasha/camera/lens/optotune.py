"""Optotune Lens Driver 4 / 4i (EL-10-30, EL-16-40, …) over its USB-CDC serial port, in current or focal-power mode.

Wire format (after Optotune's Lens Driver 4 manual and its protocol sheet): 115 200 baud, 8N1.

* handshake: ``Start`` (5 bytes, no CRC, no terminator) → ``Ready\\r\\n`` (sets the current to 0);
* a command is an ASCII prefix + big-endian binary fields + CRC-16/ARC (reflected poly 0xA001, init 0, no final
  XOR) sent low byte first; a reply is payload + CRC(payload) (LE) + ``\\r\\n``;
* set-current (``Aw``) and set-focal-power (``PwDA``) get no reply on success; a request whose CRC the driver
  rejects gets ``N\\r\\n``; other errors ``E`` + id + CRC + ``\\r\\n`` (1 CRC, 2 not in this firmware type,
  3 unknown command, 4 lens incompatible);
* current i = I·4095/Imax (±4095), Imax read with ``CrMA`` (mA × 100); focal power code = (dpt + 5)·200 for
  firmware type A, dpt·200 for B/C/E/F; temperature (``TCA``) °C = i·0.0625, 4095 = no sensor.

:class:`OptotuneLens` runs the handshake, reads the firmware type and Imax, switches the mode (``MwDA`` current,
``MwCA`` focal power after ``PwTA`` temperature limits) and checks it with ``MMA``. Limits come from the device:
in current mode the software current limits (``CrUA``/``CrLA``, ±Imax when the firmware has none), in focal-power
mode the range ``MwCA`` reports. Every command is checked against the limits before a byte is sent; since a set gets
no reply, each set is followed by a read-back of the same quantity, which must return the code just sent (and, in
focal-power mode, by a status read that must not flag an unreachable power). Every exchange is a read or an absolute
setting, so a time-out, a CRC error (``N`` / ``E1``) or a malformed reply is retried a bounded number of times.

Decisions where the document leaves a choice (UNCERTAIN):

* Codes are rounded to the nearest integer ([S12b] truncates); values reach the driver already on the code grid.
* ``MwDA`` is answered by ``MDA`` alone ([S12b]); the longer ``MDA`` status FPmax FPmin form is accepted too.
* ``E`` + ``1`` (ASCII or 0x01) and ``N\\r\\n`` both mean the driver saw a bad CRC (retried); ids 2–4 are not.
* The read-back of ``PrDA`` returns the commanded focal power, not a measured one.
* Status byte b1 bit 3 (focal power unreachable) or bit 2 (no temperature limits) after a focal-power set is a
  :class:`DeviceFaultError`; bit 7 (temperature outside the user range) is only logged.
* Temperature limits default to 20–45 °C (the document's ``PwTA`` example); the current is left as it is on close.

Units: mA for current, dpt for focal power, °C for temperature, s for time-outs.
"""

from __future__ import annotations

import logging
import math

from dasha.camera.base import LensCurve, Limits
from dasha.camera.errors import CommandRejectedError, ConfigError, DeviceFaultError, OutOfRangeError, ProtocolError
from dasha.camera.lens.curves import IdentityPowerCurve, LinearCurrentCurve
from dasha.camera.lens.transport import SerialLens, SerialTransport, wire_log

__all__ = [
    "BAUDRATE",
    "ERROR_IDS",
    "HANDSHAKE",
    "READY",
    "OptotuneLens",
    "crc16_arc",
    "current_code",
    "current_ma",
    "frame",
    "parse_error",
    "parse_reply",
    "power_code",
    "power_dpt",
    "set_current_command",
    "set_power_command",
    "temperature_c",
    "temperature_limits_command",
]

_LOG = logging.getLogger("dasha.camera.lens")
BAUDRATE = 115_200
HANDSHAKE, READY, CRC_NACK, CRLF = b"Start", b"Ready\r\n", b"N\r\n", b"\r\n"
DAC_FULL = 4095
FP_SCALE, FP_OFFSET_A = 200, 5.0
NO_SENSOR = 4095
ERROR_IDS = {1: "CRC error", 2: "command not in this firmware type", 3: "unknown command", 4: "lens incompatible"}
MODES = {"current": (b"MwDA", b"MDA", (0, 5), 1), "power": (b"MwCA", b"MCA", (5,), 5)}
_STATUS_FAULTS = {2: "no temperature limits set", 3: "focal power unreachable at this temperature"}


# -- frames (pure functions) ---------------------------------------------------------------------------------------
def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC of ``data``: reflected polynomial 0xA001, initial value 0, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(payload: bytes) -> bytes:
    """``payload`` + its CRC-16/ARC, low byte first (a command, or a reply without its ``\\r\\n``)."""
    return payload + crc16_arc(payload).to_bytes(2, "little")


def _i16(value: int) -> bytes:
    return int(value).to_bytes(2, "big", signed=True)


def _finite(value: float, what: str) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise OutOfRangeError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def current_code(milliamps: float, imax_ma: float) -> int:
    """Current code i = round(I·4095/Imax) of ``milliamps`` mA; OutOfRangeError beyond ±4095 (nothing to send)."""
    code = round(_finite(milliamps, "Optotune current (mA)") * DAC_FULL / imax_ma)
    if abs(code) > DAC_FULL:
        raise OutOfRangeError(f"Optotune current {milliamps:g} mA is outside ±{imax_ma:g} mA (Imax)")
    return code


def current_ma(code: int, imax_ma: float) -> float:
    """Current (mA) of current code ``code``: i·Imax/4095 (rounded to 1e-9 mA)."""
    return round(code * (imax_ma / DAC_FULL), 9)


def power_code(diopters: float, firmware_type: str) -> int:
    """Focal-power code of ``diopters`` dpt: (dpt + 5)·200 for firmware type A, dpt·200 otherwise (int16)."""
    shift = FP_OFFSET_A if firmware_type == "A" else 0.0
    code = round((_finite(diopters, "Optotune focal power (dpt)") + shift) * FP_SCALE)
    if not -0x8000 <= code <= 0x7FFF:
        raise OutOfRangeError(f"Optotune focal power {diopters:g} dpt does not fit the driver's int16 code")
    return code


def power_dpt(code: int, firmware_type: str) -> float:
    """Focal power (dpt) of focal-power code ``code`` (see :func:`power_code`)."""
    shift = FP_OFFSET_A if firmware_type == "A" else 0.0
    return round(code / FP_SCALE - shift, 9)


def set_current_command(milliamps: float, imax_ma: float) -> bytes:
    """``Aw`` i16 + CRC: set the current to ``milliamps`` mA."""
    return frame(b"Aw" + _i16(current_code(milliamps, imax_ma)))


def set_power_command(diopters: float, firmware_type: str) -> bytes:
    """``PwDA`` i16 00 00 + CRC: set the focal power to ``diopters`` dpt."""
    return frame(b"PwDA" + _i16(power_code(diopters, firmware_type)) + b"\x00\x00")


def temperature_limits_command(tmax_c: float, tmin_c: float) -> bytes:
    """``PwTA`` i16(Tmax·16) i16(Tmin·16) + CRC: the temperature range (°C) focal-power mode compensates over."""
    return frame(b"PwTA" + _i16(round(tmax_c * 16)) + _i16(round(tmin_c * 16)))


def temperature_c(code: int) -> float | None:
    """Temperature (°C) of a ``TCA`` reading: i·0.0625; None for 4095 (no sensor)."""
    return None if code == NO_SENSOR else code * 0.0625


def parse_error(reply: bytes, what: str = "request") -> None:
    """Raise for an error reply: ``N\\r\\n`` or ``E`` id CRC ``\\r\\n`` → CommandRejectedError (retryable only for a
    CRC error); a malformed ``E`` frame → ProtocolError. Any other reply passes."""
    if reply == CRC_NACK:
        raise CommandRejectedError(f"the driver rejected {what}: bad CRC (N)")
    if reply[:1] != b"E":
        return
    if len(reply) != 6 or reply[-2:] != CRLF or crc16_arc(reply[:-2]) != 0:
        raise ProtocolError(f"malformed error reply to {what}: {reply.hex(' ')}")
    ident = reply[1] - 0x30 if 0x31 <= reply[1] <= 0x34 else reply[1]
    meaning = ERROR_IDS.get(ident, f"unknown error id {ident}")
    raise CommandRejectedError(f"the driver rejected {what}: error {ident} ({meaning})", retryable=ident == 1)


def parse_reply(reply: bytes, prefix: bytes, size: int, what: str = "request") -> bytes:
    """The ``size`` data bytes after ``prefix`` of a reply ``prefix data CRC \\r\\n`` (CRC over prefix + data).

    Raises:
        CommandRejectedError: an error reply (see :func:`parse_error`).
        ProtocolError: wrong length, prefix or terminator, or a bad CRC.
    """
    parse_error(reply, what)
    if len(reply) != len(prefix) + size + 4 or reply[: len(prefix)] != prefix or reply[-2:] != CRLF:
        raise ProtocolError(f"bad reply to {what}: {reply.hex(' ')} (expected {prefix!r} + {size} bytes + CRC + CRLF)")
    body, crc = reply[:-4], int.from_bytes(reply[-4:-2], "little")
    if crc16_arc(body) != crc:
        raise ProtocolError(f"bad CRC in the reply to {what}: {reply.hex(' ')} (expected {crc16_arc(body):04x})")
    return body[len(prefix) :]


def _s16(data: bytes) -> int:
    return int.from_bytes(data[:2], "big", signed=True)


# -- the lens ------------------------------------------------------------------------------------------------------
class OptotuneLens(SerialLens):
    """An Optotune lens on a Lens Driver 4 at ``port``, driven in mA (``mode="current"``) or dpt (``"power"``).

    Args:
        port: the driver's serial port (``/dev/ttyACM0``, ``COM5``).
        mode: ``"current"`` (drive in mA within the software current limits, at Imax/4095 mA steps) or ``"power"``
            (the driver's temperature-compensated focal-power mode, in dpt at 0.005 dpt steps, within the range it
            reports).
        timeout_s: how long one reply may take (s).
        curve: drive → added optical power; default :class:`LinearCurrentCurve` (mA) or :class:`IdentityPowerCurve`
            (dpt). Its unit must be the mode's.
        retries: how many times a failed exchange is repeated (≥ 0).
        settle_time_s: how long a command waits for the optics (s; UNCERTAIN: ≈ 25 ms settling assumed).
        temperature_limits_c: ``(low, high)`` °C sent with ``PwTA`` before focal-power mode.

    Raises:
        CameraDisconnectedError: the port does not exist or cannot be opened (named in the message).
        CameraTimeoutError / ProtocolError: the driver does not complete the start-up exchange.
        DeviceFaultError: the driver reports an unusable Imax, empty limits or does not enter the mode.
        DependencyMissingError: pyserial is not installed (``pip install 'dasha[serial]'``).
    """

    def __init__(
        self,
        port: str,
        *,
        mode: str = "current",
        timeout_s: float = 0.5,
        curve: LensCurve | None = None,
        retries: int = 1,
        settle_time_s: float = 0.025,
        temperature_limits_c: tuple[float, float] = (20.0, 45.0),
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"Optotune mode must be 'current' or 'power', got {mode!r}")
        self.mode = mode
        unit = "mA" if mode == "current" else "dpt"
        self.curve = (LinearCurrentCurve() if unit == "mA" else IdentityPowerCurve()) if curve is None else curve
        if self.curve.unit != unit:
            raise ConfigError(f"an Optotune lens in {mode} mode needs a {unit}→dpt curve, got one in {self.curve.unit}")
        low_c, high_c = (float(t) for t in temperature_limits_c)
        if not (math.isfinite(low_c) and math.isfinite(high_c) and low_c < high_c):
            raise ConfigError(f"Optotune temperature limits need low < high °C, got {temperature_limits_c!r}")
        self.settle_time_s = float(settle_time_s)
        self.retries = int(retries)
        self.spec = f"optotune:{port}" + ("" if mode == "current" else f",mode={mode}")
        self._t = SerialTransport(port, baudrate=BAUDRATE, timeout_s=timeout_s, device="Optotune lens driver")
        self._t.monitor = wire_log(self)
        try:
            self._start((low_c, high_c))
        except BaseException:
            self._t.close()
            raise

    def _start(self, temperature_limits_c: tuple[float, float]) -> None:
        def handshake() -> None:
            self._t.discard_input()
            self._t.write(HANDSHAKE)
            reply = self._t.read_exact(len(READY), "the Start handshake")
            if reply != READY:
                raise ProtocolError(f"{self._who}: bad handshake reply {reply!r} (expected {READY!r})")

        self._t.call(handshake, what="the Start handshake", retries=self.retries)
        self.firmware_type: str = chr(self._query(b"H", b"H", 1, "the firmware type")[0])
        self.max_current_ma: float = _s16(self._query(b"CrMA\x00\x00", b"CMA", 2, "Imax (CrMA)")) / 100
        if not self.max_current_ma > 0:
            raise DeviceFaultError(f"{self._who} reports Imax = {self.max_current_ma:g} mA")
        command, prefix, sizes, number = MODES[self.mode]
        if self.mode == "current":
            self._query(command, prefix, sizes, "current mode (MwDA)")
            low, high = self._current_limits()
            step = self.max_current_ma / DAC_FULL
            self.limits = Limits(
                current_ma(low, self.max_current_ma), current_ma(high, self.max_current_ma), "mA", step
            )
        else:
            low_c, high_c = temperature_limits_c
            self._status_range(temperature_limits_command(high_c, low_c), b"PT", "temperature limits (PwTA)")
            fp_max, fp_min = self._status_range(frame(command), prefix, "focal-power mode (MwCA)")
            if not fp_min < fp_max:
                raise DeviceFaultError(f"{self._who} reports an empty focal-power range [{fp_min:g}, {fp_max:g}] dpt")
            self.limits = Limits(fp_min, fp_max, "dpt", 1 / FP_SCALE)
        active = self._query(b"MMA", b"MMA", 1, "the active mode (MMA)")[0]
        if active != number:
            raise DeviceFaultError(f"{self._who} did not enter {self.mode} mode (MMA reports mode {active})")

    def _current_limits(self) -> tuple[int, int]:
        """Software current limits (±4095 codes), or ±4095 when the firmware has none (error 2 or 3)."""
        try:
            high = _s16(self._query(b"CrUA\x00\x00", b"CUA", 2, "the upper current limit (CrUA)"))
            low = _s16(self._query(b"CrLA\x00\x00", b"CLA", 2, "the lower current limit (CrLA)"))
        except CommandRejectedError as exc:
            if exc.retryable:
                raise
            _LOG.info("%s: no software current limits (%s); using ±Imax", self._who, exc)
            return -DAC_FULL, DAC_FULL
        low, high = max(low, -DAC_FULL), min(high, DAC_FULL)
        if not low < high:
            raise DeviceFaultError(f"{self._who} reports empty software current limits [{low}, {high}] (±4095 scale)")
        return low, high

    def _status_range(self, request: bytes, prefix: bytes, what: str) -> tuple[float, float]:
        """Send a request answered with status, FPmax, FPmin; the range (dpt); DeviceFaultError on a status."""
        data = self._exchange(request, prefix, (5,), what)
        if data[0]:
            raise DeviceFaultError(f"{self._who}: {what} failed with status {data[0]}")
        return power_dpt(_s16(data[1:3]), self.firmware_type), power_dpt(_s16(data[3:5]), self.firmware_type)

    # -- public extras ---------------------------------------------------------------------------------------------
    @property
    def temperature_c(self) -> float | None:
        """The lens temperature (°C) the driver reads (``TCA``); None when the lens has no sensor."""
        self._check_open()
        return temperature_c(_s16(self._query(b"TCA", b"TCA", 2, "the temperature (TCA)")))

    # -- hooks -----------------------------------------------------------------------------------------------------
    def _do_set_setting(self, value: float) -> None:
        """Send the current (mA) or focal power (dpt) ``value``, then read it back (it must be the code sent)."""
        if self.mode == "current":
            code = current_code(value, self.max_current_ma)
            command = frame(b"Aw" + _i16(code))
        else:
            code = power_code(value, self.firmware_type)
            command = frame(b"PwDA" + _i16(code) + b"\x00\x00")
        what = f"setting {value:g} {self.unit}"

        request, prefix = command + frame(self._readback[0]), self._readback[1]

        def once() -> None:  # a set gets no reply: its read-back's reply (or the set's error reply) comes instead
            self._t.discard_input()
            self._t.write(request)
            got = _s16(self._read_reply(prefix, (2,), what))
            if got != code:
                raise ProtocolError(f"{self._who}: read back code {got} after {what} (code {code})")

        self._t.call(once, what=what, retries=self.retries)
        if self.mode == "power":
            self._check_status(what)

    def _do_get_setting(self) -> float:
        """Read the current (mA) or focal power (dpt) back."""
        code = _s16(self._query(self._readback[0], self._readback[1], 2, f"the {self.mode} read-back"))
        return current_ma(code, self.max_current_ma) if self.mode == "current" else power_dpt(code, self.firmware_type)

    def _do_close(self) -> None:
        self._t.close()

    # -- exchanges -------------------------------------------------------------------------------------------------
    @property
    def _who(self) -> str:
        return f"Optotune lens driver on {self._t.port}"

    @property
    def _readback(self) -> tuple[bytes, bytes]:
        return (b"Ar\x00\x00", b"A") if self.mode == "current" else (b"PrDA\x00\x00\x00\x00", b"PD")

    def _check_status(self, what: str) -> None:
        b1 = self._query(b"Sr", b"S", 4, "the status (Sr)")[3]
        faults = [meaning for bit, meaning in _STATUS_FAULTS.items() if b1 >> bit & 1]
        if faults:
            raise DeviceFaultError(f"{self._who} after {what}: " + "; ".join(faults) + f" (status b1 = 0x{b1:02X})")
        if b1 & 0x80:
            _LOG.warning("%s: lens temperature outside the user range", self._who)

    def _query(self, payload: bytes, prefix: bytes, sizes: int | tuple[int, ...], what: str) -> bytes:
        """Send ``payload`` (+ CRC) and return the data of its reply (retried: every query is safe to repeat)."""
        sizes = (sizes,) if isinstance(sizes, int) else sizes
        return self._exchange(frame(payload), prefix, sizes, what)

    def _exchange(self, request: bytes, prefix: bytes, sizes: tuple[int, ...], what: str) -> bytes:
        """Send ``request`` (a whole frame) and return the data of its reply, retried a bounded number of times."""

        def once() -> bytes:
            self._t.discard_input()
            self._t.write(request)
            return self._read_reply(prefix, sizes, what)

        return self._t.call(once, what=what, retries=self.retries)

    def _read_reply(self, prefix: bytes, sizes: tuple[int, ...], what: str) -> bytes:
        """Read one reply: an error frame (``N\\r\\n``, ``E``…) or ``prefix`` + one of ``sizes`` data bytes."""
        reply = self._t.read_exact(1, what)
        try:
            if reply == b"N":
                parse_error(self._t.read_exact(len(CRC_NACK), what, have=reply), what)
            elif reply == b"E":
                parse_error(self._t.read_exact(6, what, have=reply), what)
            for i, size in enumerate(sizes):
                reply = self._t.read_exact(len(prefix) + size + 4, what, have=reply)
                try:
                    return parse_reply(reply, prefix, size, what)
                except ProtocolError:
                    if i == len(sizes) - 1:
                        raise
        except ProtocolError as exc:
            if self._who in str(exc):
                raise
            raise type(exc)(f"{self._who}: {exc}", retryable=exc.retryable) from None
        raise ProtocolError(f"{self._who}: malformed reply to {what}: {reply.hex(' ')}")
