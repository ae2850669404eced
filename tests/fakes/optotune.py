"""A fake Optotune Lens Driver 4 (``LENS_PROTOCOLS.md`` §D) on a pseudo-terminal.

It answers the ``Start`` handshake, checks the CRC-16/ARC of every command (``N\\r\\n`` when it is wrong), keeps the
driver's state (mode, current code, focal-power code, Imax, software current limits, temperature limits and the
focal-power range, temperature, status) and records every set it decoded in :attr:`sets` (unit of the command: mA
for ``Aw``, dpt for ``PwDA``), before clamping, so a test sees what reached the wire. Misbehaviour:
``fail("nack" | "error" | "corrupt" | "short" | "silent")``; ``error`` answers ``E`` id 2 (not in this firmware).
"""

from __future__ import annotations

from dasha.camera.lens.optotune import crc16_arc
from dasha.camera.twin.pty_device import PtyDevice

#: Command prefix → number of argument bytes before the CRC.
COMMANDS = {
    b"H": 0, b"CrMA": 2, b"CrUA": 2, b"CrLA": 2, b"MwDA": 0, b"MwCA": 0, b"MMA": 0, b"PwTA": 4, b"Aw": 2,
    b"Ar": 2, b"PwDA": 4, b"PrDA": 4, b"TCA": 0, b"Sr": 0,
}  # fmt: skip
CRLF = b"\r\n"


crc16 = crc16_arc  # the driver's CRC, itself checked against the protocol's test vectors


def framed(payload: bytes) -> bytes:
    return payload + crc16(payload).to_bytes(2, "little") + CRLF


def i16(value: int) -> bytes:
    return int(value).to_bytes(2, "big", signed=True)


def s16(data: bytes) -> int:
    return int.from_bytes(data[:2], "big", signed=True)


class FakeLensDriver4(PtyDevice):
    """Lens Driver 4 with firmware type ``firmware``, Imax ``imax_ma`` mA and focal range ``fp_range_d`` dpt."""

    def __init__(
        self,
        *,
        firmware: str = "A",
        imax_ma: float = 292.84,
        current_limits: tuple[int, int] | None = (-4095, 4095),
        fp_range_d: tuple[float, float] = (-2.0, 3.0),
        temperature_raw: int = 400,
        long_mda: bool = False,
    ) -> None:
        super().__init__()
        self.firmware = firmware
        self.imax_code = round(imax_ma * 100)
        self.current_limits = current_limits
        self.fp_range_d = fp_range_d
        self.temperature_raw = temperature_raw
        self.long_mda = long_mda
        self.mode = 1
        self.current = 0
        self.fp_code = self._fp_code(0.0)
        self.temp_limits: tuple[int, int] | None = None
        self.status = bytearray(4)
        self.sets: list[float] = []
        self.codes: list[int] = []
        self.handshakes = 0

    @property
    def imax_ma(self) -> float:
        return self.imax_code / 100

    def _fp_code(self, dpt: float) -> int:
        return round((dpt + (5 if self.firmware == "A" else 0)) * 200)

    def _fp_dpt(self, code: int) -> float:
        return code / 200 - (5 if self.firmware == "A" else 0)

    def corrupt(self, data: bytes) -> bytes:
        return data[:-3] + bytes([data[-3] ^ 0x5A]) + data[-2:] if data.endswith(CRLF) else super().corrupt(data)

    def process(self) -> None:
        buf = self.buffer
        while buf:
            if buf.startswith(b"Start"):
                del buf[:5]
                self.requests.append(b"Start")
                if self.take_fault(b"Start") != "silent":
                    self.handshakes += 1
                    self.current = 0
                    self.reply(b"Ready\r\n")
                continue
            prefix = next((p for p in sorted(COMMANDS, key=len, reverse=True) if buf.startswith(p)), None)
            if prefix is None and any(p.startswith(bytes(buf)) for p in (b"Start", *COMMANDS)):
                return  # an incomplete prefix: wait for more
            if prefix is None:
                del buf[:]
                self.reply(framed(b"E\x03"))
                return
            size = len(prefix) + COMMANDS[prefix] + 2
            if len(buf) < size:
                return
            request = bytes(buf[:size])
            del buf[:size]
            self.requests.append(request)
            self.handle(prefix, request[len(prefix) : -2], request)

    def handle(self, prefix: bytes, args: bytes, request: bytes) -> None:  # noqa: C901 - one branch per command
        fault = self.take_fault(request)
        if fault == "silent":
            return
        if crc16(request) != 0 or fault == "nack":
            self.reply(b"N\r\n")
            return
        if fault == "error":
            self.reply(framed(b"E\x02"))
            return
        answer: bytes | None = None
        if prefix == b"H":
            answer = b"H" + self.firmware.encode()
        elif prefix == b"CrMA":
            answer = b"CMA" + i16(self.imax_code)
        elif prefix in (b"CrUA", b"CrLA"):
            if self.current_limits is None:
                answer = b"E\x02"
            else:
                answer = b"C" + prefix[2:] + i16(self.current_limits[1 if prefix == b"CrUA" else 0])
        elif prefix == b"MwDA":
            self.mode = 1
            answer = b"MDA" + (b"\x00" + self._fp_range() if self.long_mda else b"")
        elif prefix == b"MwCA":
            self.mode = 5
            answer = b"MCA" + (b"\x00" if self.temp_limits else b"\x04") + self._fp_range()
        elif prefix == b"PwTA":
            self.temp_limits = (s16(args[:2]), s16(args[2:]))
            answer = b"PT\x00" + self._fp_range()
        elif prefix == b"MMA":
            answer = b"MMA" + bytes([self.mode])
        elif prefix == b"Aw":
            code = s16(args)
            self.codes.append(code)
            self.sets.append(code * self.imax_ma / 4095)
            low, high = self.current_limits or (-4095, 4095)
            self.current = min(max(code, low, -4095), high, 4095)
        elif prefix == b"Ar":
            answer = b"A" + i16(self.current)
        elif prefix == b"PwDA":
            code = s16(args[:2])
            self.codes.append(code)
            self.sets.append(self._fp_dpt(code))
            lo, hi = (self._fp_code(d) for d in self.fp_range_d)
            self.fp_code = code  # the set point; one outside the reachable range flags status b1 bit 3
            self.status[3] = self.status[3] & ~0x08 | (0 if lo <= code <= hi else 0x08)
        elif prefix == b"PrDA":
            answer = b"PD" + i16(self.fp_code)
        elif prefix == b"TCA":
            answer = b"TCA" + i16(self.temperature_raw)
        elif prefix == b"Sr":
            answer = b"S" + bytes(self.status)
        if answer is not None:
            self.reply(framed(answer), fault)

    def _fp_range(self) -> bytes:
        low, high = self.fp_range_d
        return i16(self._fp_code(high)) + i16(self._fp_code(low))
