"""A simulated Corning Varioptic USB-M board (the vendor's published wire protocol) on a pseudo-terminal: the twin's
lens, and the Varioptic driver's test device.

It keeps the register file, answers write and read frames with the sum checksum, ACKs/NACKs, commits the focus
code when the MSB is written (clearing the Analog bit), and records every focus code it decoded (:attr:`codes`,
:attr:`volts`) — whether or not it lies in 0–46 000, so a test can see what reached the wire. ``fault_bits`` is the
Fault register (0x0A). Misbehaviour: ``fail("nack" | "corrupt" | "short" | "silent")``.
"""

from __future__ import annotations

from dasha.camera.twin.pty_device import PtyDevice

STX, WRITE, READ = 0x02, 0x37, 0x38
ACK = bytes([STX, WRITE, 0x06, 0x3F])
NACK = bytes([STX, WRITE, 0x15, 0x4E])
READ_NACK = bytes([STX, READ, 0x15, 0x4F])


def _ck(data: bytes) -> int:
    return sum(data) & 0xFF


class FakeVariopticBoard(PtyDevice):
    """The USB-M board: registers 0x00–0xFF, power-up in analog mode at focus code ``code`` (24 V)."""

    def __init__(self, code: int = 0, sw_version: int = 0x21) -> None:
        super().__init__()
        self.regs = bytearray(256)
        self.regs[0x00], self.regs[0x01] = code & 0xFF, code >> 8
        self.regs[0x03] = 0b10  # Analog mode at power-up
        self.regs[0x05] = sw_version
        self.codes: list[int] = []
        self.writes: list[tuple[int, bytes]] = []

    @property
    def fault_bits(self) -> int:
        return self.regs[0x0A]

    @fault_bits.setter
    def fault_bits(self, value: int) -> None:
        self.regs[0x0A] = value

    @property
    def volts(self) -> list[float]:
        """Every focus voltage decoded from a write (V)."""
        return [24.0 + c / 1000 for c in self.codes]

    @property
    def code(self) -> int:
        return self.regs[0x00] | self.regs[0x01] << 8

    def process(self) -> None:
        buf = self.buffer
        while buf:
            if buf[0] != STX:
                del buf[0]
                continue
            if len(buf) < 2:
                return
            if buf[1] == WRITE:
                if len(buf) < 4:
                    return
                size = 5 + buf[3]
            elif buf[1] == READ:
                size = 5
            else:
                del buf[0]
                continue
            if len(buf) < size:
                return
            request = bytes(buf[:size])
            del buf[:size]
            self.requests.append(request)
            self.handle(request)

    def handle(self, request: bytes) -> None:
        fault = self.take_fault(request)
        cmd, address, count = request[1], request[2], request[3]
        if fault == "silent":
            return
        if _ck(request[:-1]) != request[-1] or fault == "nack":
            self.reply(NACK if cmd == WRITE else READ_NACK, None)
            return
        if cmd == WRITE:
            data = request[4:-1]
            self.writes.append((address, data))
            for i, byte in enumerate(data):
                self.regs[(address + i) & 0xFF] = byte
            if address <= 0x01 < address + len(data):  # the output changes when the MSB is written
                self.codes.append(self.code)
                self.regs[0x03] &= ~0b10
            self.reply(ACK, fault)
            return
        body = bytes([STX, READ, *self.regs[address : address + count]])
        self.reply(body + bytes([_ck(body)]), fault)
