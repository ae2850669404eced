"""The serial liquid-lens drivers (issue 14 item 3) against byte-level fakes on pseudo-terminals.

* every test vector of ``../shared/reference/LENS_PROTOCOLS.md`` (frames, checksums, CRCs, codes) as pure functions;
* the Lens contract for ``VariopticLens`` and ``OptotuneLens`` (current and focal-power mode) on their fakes;
* NACK, bad checksum / CRC, short reply, silence, device faults, removal and a missing port each raise the
  documented error, naming the port; one transient failure is retried;
* a property test: 10 000 random requests per driver never put a value outside the limits on the wire, and an
  out-of-range request sends no byte at all;
* ``make_lens`` SPECs and ``dasha run --lens`` with a missing port (exit 1, the port named).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dasha.camera import (
    CameraDisconnectedError,
    CameraTimeoutError,
    CommandRejectedError,
    DependencyMissingError,
    DeviceFaultError,
    Lens,
    OutOfRangeError,
    ProtocolError,
    make_lens,
)
from dasha.camera.calibration import VariopticCurve
from dasha.camera.lens import IdentityPowerCurve, LinearCurrentCurve, OptotuneLens, VariopticLens
from dasha.camera.lens import optotune as ot
from dasha.camera.lens import varioptic as vo
from dasha.camera.lens.transport import wire_log
from dasha.camera.twin.pty_device import PtyDevice
from dasha.camera.twin.varioptic_board import FakeVariopticBoard
from tests.conftest import need
from tests.contracts import LensContract
from tests.fakes.optotune import FakeLensDriver4

TIMEOUT_S = 1.0  # s: only a failing exchange waits for it
SHORT_S = 0.1  # s: the time-out of the tests that make the fakes fail (silence waits this long)
MISSING = "/dev/nonexistent-dasha-lens"
H = bytes.fromhex


# -- protocol document test vectors (pure functions) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (vo.write_frame(0x03, b"\xff"), "02 37 03 01 FF 3C"),  # guide §6.2
        (vo.read_frame(0x03, 1), "02 38 03 01 3E"),  # guide §6.3
        (vo.focus_write_frame(24.0), "02 37 00 02 00 00 3B"),
        (vo.focus_write_frame(45.0), "02 37 00 02 08 52 95"),
        (vo.focus_write_frame(70.0), "02 37 00 02 B0 B3 9E"),
        (vo.read_frame(0x0A, 1), "02 38 0A 01 45"),  # Fault
        (vo.read_frame(0x05, 1), "02 38 05 01 40"),  # SW version
        (vo.read_frame(0x00, 2), "02 38 00 02 3C"),  # focus read-back
        (vo.write_frame(0x03, b"\x00"), "02 37 03 01 00 3D"),  # Mode = 0 at init
        (vo.ACK, "02 37 06 3F"),
        (vo.NACK, "02 37 15 4E"),
        (ot.HANDSHAKE, "53 74 61 72 74"),
        (ot.set_current_command(100.0, imax_ma=292.0), "41 77 05 7A 26 95"),  # 100 mA: code 1402 ⇒ Imax 292 mA
        (ot.frame(b"Ar\x00\x00"), "41 72 00 00 B4 27"),
        (ot.frame(b"MwDA"), "4D 77 44 41 54 46"),
        (ot.frame(b"MwCA"), "4D 77 43 41 56 76"),
        (ot.temperature_limits_command(45.0, 20.0), "50 77 54 41 02 D0 01 40 33 C1"),
        (ot.set_power_command(3.0, "A"), "50 77 44 41 06 40 00 00 30 2C"),
        (ot.frame(b"TCA"), "54 43 41 B0 D0"),
        (ot.frame(b"CrMA\x00\x00"), "43 72 4D 41 00 00 71 80"),
        (ot.frame(b"H"), "48 00 36"),
        (ot.frame(H("41 77 04 B2")), "41 77 04 B2 26 93"),  # the manual's CRC example
        (ot.frame(b"MMA"), "4D 4D 41 65 77"),  # computed (the sheet's 58 6B is UNCERTAIN)
        (ot.frame(H("54 41 00 01 B2")), "54 41 00 01 B2 A4 15"),
        (ot.frame(H("41 05 7A")), "41 05 7A D2 A7"),
    ],
)
def test_protocol_document_vectors(frame: bytes, expected: str) -> None:
    assert frame == H(expected)


def test_varioptic_codes_checksums_and_replies() -> None:
    assert vo.checksum(H("02 37 06")) == 0x3F and vo.checksum(H("02 37 15")) == 0x4E
    assert (vo.focus_code(24.0), vo.focus_code(45.0), vo.focus_code(70.0)) == (0, 21000, 0xB3B0)
    assert vo.focus_code(45.1234) == 21123 and vo.focus_volts(21123) == 45.123
    data = vo.parse_read_reply(H("02 38 08 52 94"), 2)  # the 45 V read reply
    assert vo.focus_volts(data[0] | data[1] << 8) == 45.0
    assert vo.parse_read_reply(H("02 38 15 4F"), 1) == b"\x15"  # a 1-register NACK reads as data (UNCERTAIN)
    for bad in (23.9994, 70.0006, math.nan, math.inf, -math.inf):
        with pytest.raises(OutOfRangeError):
            vo.focus_code(bad)
    with pytest.raises(ProtocolError, match="outside"):
        vo.focus_volts(46001)
    vo.parse_write_reply(vo.ACK)
    with pytest.raises(CommandRejectedError, match="NACK"):
        vo.parse_write_reply(vo.NACK)
    with pytest.raises(CommandRejectedError, match="NACK"):
        vo.parse_read_reply(vo.READ_NACK, 2)
    with pytest.raises(ProtocolError, match="bad checksum"):
        vo.parse_read_reply(H("02 38 08 52 95"), 2)
    with pytest.raises(ProtocolError, match="bad reply"):
        vo.parse_read_reply(H("02 38 08 52"), 2)
    with pytest.raises(ProtocolError, match="bad reply"):
        vo.parse_write_reply(H("02 37 06 3E"))
    assert vo.decode_faults(0b101) == ["HV overload (Vh < 70 V)", "thermal shutdown"]


def test_optotune_crc_codes_and_replies() -> None:
    assert ot.crc16_arc(b"Start") == 0xA5EA
    assert ot.crc16_arc(ot.frame(b"any command\x00\x01")) == 0  # CRC over frame + CRC is 0
    assert ot.current_code(100.0, 292.84) == 1398 and ot.current_ma(4095, 292.84) == 292.84
    assert ot.current_code(-292.84, 292.84) == -4095
    with pytest.raises(OutOfRangeError):
        ot.current_code(293.0, 292.84)
    with pytest.raises(OutOfRangeError):
        ot.current_code(math.nan, 292.84)
    assert (ot.power_code(3.0, "A"), ot.power_code(3.0, "B"), ot.power_code(-1.37, "A")) == (1600, 600, 726)
    assert (ot.power_dpt(1600, "A"), ot.power_dpt(600, "C"), ot.power_dpt(726, "A")) == (3.0, 3.0, -1.37)
    assert ot.temperature_c(400) == 25.0 and ot.temperature_c(-80) == -5.0 and ot.temperature_c(4095) is None
    assert ot.parse_reply(ot.frame(b"TCA\x01\x90") + b"\r\n", b"TCA", 2) == b"\x01\x90"
    with pytest.raises(ProtocolError, match="bad CRC"):
        ot.parse_reply(b"TCA\x01\x90\x00\x00\r\n", b"TCA", 2)
    with pytest.raises(ProtocolError, match="bad reply"):
        ot.parse_reply(ot.frame(b"TCA\x01\x90") + b"\n\r", b"TCA", 2)
    for reply, retryable in [(b"N\r\n", True), (ot.frame(b"E\x01") + b"\r\n", True), (ot.frame(b"E1") + b"\r\n", True),
                             (ot.frame(b"E\x02") + b"\r\n", False), (ot.frame(b"E\x03") + b"\r\n", False)]:  # fmt: skip
        with pytest.raises(CommandRejectedError) as caught:
            ot.parse_reply(reply, b"A", 2)
        assert caught.value.retryable is retryable
    with pytest.raises(ProtocolError, match="malformed error reply"):
        ot.parse_error(b"E\x03\x00\x00\r\n")


def test_optotune_curves() -> None:
    curve = LinearCurrentCurve()
    assert curve.unit == "mA" and curve.power(100.0) == pytest.approx(4.0) and curve.drive(4.0) == pytest.approx(100)
    assert LinearCurrentCurve(offset_d=1.0, slope_d_per_ma=-0.02).power(50.0) == pytest.approx(0.0)
    assert IdentityPowerCurve().unit == "dpt" and IdentityPowerCurve().drive(2.5) == 2.5


# -- fakes and lenses --------------------------------------------------------------------------------------------------
class Bench:
    """Starts fakes and opens lenses on them; closes everything at the end of a test."""

    def __init__(self) -> None:
        need("serial")
        self.things: list[Lens | PtyDevice] = []

    def fake(self, fake: PtyDevice) -> PtyDevice:
        self.things.append(fake.start())
        return fake

    def varioptic(self, fake: FakeVariopticBoard | None = None, **options: object) -> tuple[VariopticLens, object]:
        board = self.fake(fake or FakeVariopticBoard())
        lens = VariopticLens(board.port, **{"timeout_s": TIMEOUT_S, "settle_time_s": 0.0, **options})  # type: ignore[arg-type]
        self.things.append(lens)
        return lens, board

    def optotune(self, fake: FakeLensDriver4 | None = None, **options: object) -> tuple[OptotuneLens, object]:
        driver = self.fake(fake or FakeLensDriver4())
        lens = OptotuneLens(driver.port, **{"timeout_s": TIMEOUT_S, "settle_time_s": 0.0, **options})  # type: ignore[arg-type]
        self.things.append(lens)
        return lens, driver

    def close(self) -> None:
        for thing in reversed(self.things):
            thing.close()


@pytest.fixture
def bench() -> Iterator[Bench]:
    b = Bench()
    yield b
    b.close()


class _OnBench:
    @pytest.fixture(autouse=True)
    def _bench(self, bench: Bench) -> None:
        self.bench = bench


class TestVariopticLensContract(_OnBench, LensContract):
    def make_lens(self) -> Lens:
        return self.bench.varioptic()[0]


class TestOptotuneCurrentContract(_OnBench, LensContract):
    def make_lens(self) -> Lens:
        return self.bench.optotune(FakeLensDriver4(current_limits=(-3000, 4000)))[0]


class TestOptotunePowerContract(_OnBench, LensContract):
    def make_lens(self) -> Lens:
        return self.bench.optotune(FakeLensDriver4(firmware="B"), mode="power")[0]


# -- Varioptic on its fake ---------------------------------------------------------------------------------------------
def test_varioptic_starts_in_mode_zero_and_sets_the_focus_in_one_frame(bench: Bench) -> None:
    lens, board = bench.varioptic()
    assert board.requests[0] == H("02 37 03 01 00 3D") and board.regs[0x03] == 0  # analog bit cleared
    assert lens.firmware_version == 0x21 and lens.unit == "V" and isinstance(lens.curve, VariopticCurve)
    assert lens.port == board.port and lens.spec == f"varioptic:{board.port}"
    assert lens.set_setting(45.0) == 45.0
    assert H("02 37 00 02 08 52 95") in board.requests and board.codes[-1] == 21000
    assert board.requests[-1] == H("02 38 0A 01 45")  # each set is followed by a Fault read
    assert lens.setting == 45.0 and board.requests[-1] == H("02 38 00 02 3C")


@pytest.mark.parametrize(
    ("kind", "error", "match"),
    [
        ("nack", CommandRejectedError, "NACK"),
        ("corrupt", ProtocolError, "bad reply|bad checksum"),
        ("short", ProtocolError, "short reply"),
        ("silent", CameraTimeoutError, "no reply"),
    ],
)
def test_varioptic_failures_raise_clear_errors(bench: Bench, kind: str, error: type, match: str) -> None:
    lens, board = bench.varioptic(timeout_s=SHORT_S)
    for call in (lambda: lens.set_setting(50.0), lambda: lens.setting):
        board.fail(kind, times=None)
        sent = len(board.requests)
        start = time.monotonic()
        with pytest.raises(error, match=match) as caught:
            call()
        assert board.port in str(caught.value) and "after 2 attempts" in str(caught.value)
        assert len(board.requests) - sent == 2  # one retry, no more
        assert time.monotonic() - start < 1.0
        board.heal()
    assert lens.set_setting(50.0) == 50.0 and lens.setting == 50.0  # the lens works again


def test_varioptic_retries_one_transient_failure_and_not_with_retries_zero(bench: Bench) -> None:
    lens, board = bench.varioptic(timeout_s=SHORT_S)
    for kind in ("nack", "corrupt", "short", "silent"):
        board.fail(kind, times=1)
        assert lens.set_setting(60.0) == 60.0 and lens.setting == 60.0
    strict, board2 = bench.varioptic(retries=0, timeout_s=SHORT_S)
    board2.fail("nack", times=1)
    with pytest.raises(CommandRejectedError, match=board2.port) as caught:
        strict.set_setting(30.0)
    assert "attempts" not in str(caught.value)


def test_varioptic_fault_register_raises_and_names_the_bits(bench: Bench) -> None:
    lens, board = bench.varioptic()
    board.fault_bits = 0b100
    with pytest.raises(DeviceFaultError, match=r"thermal shutdown") as caught:
        lens.set_setting(40.0)
    assert board.port in str(caught.value)
    faulty = bench.fake(FakeVariopticBoard())
    faulty.fault_bits = 0b011
    with pytest.raises(DeviceFaultError, match=r"overload.*I2C"):
        VariopticLens(faulty.port, timeout_s=TIMEOUT_S)
    faulty.fault_bits = 0
    bench.things.append(VariopticLens(faulty.port, timeout_s=TIMEOUT_S))  # the failed start released the port


def test_a_silent_device_at_start_up_times_out_and_releases_the_port(bench: Bench) -> None:
    for fake, opener in ((FakeVariopticBoard(), VariopticLens), (FakeLensDriver4(), OptotuneLens)):
        bench.fake(fake).fail("silent", times=None)
        with pytest.raises(CameraTimeoutError, match=f"{fake.port}: no reply") as caught:
            opener(fake.port, timeout_s=SHORT_S)
        assert "after 2 attempts" in str(caught.value)
        fake.heal()
        bench.things.append(opener(fake.port, timeout_s=SHORT_S))


def test_missing_port_and_removal_raise_disconnected_with_the_port_named(bench: Bench) -> None:
    for opener in (lambda: VariopticLens(MISSING), lambda: OptotuneLens(MISSING, mode="power")):
        with pytest.raises(CameraDisconnectedError, match=f"cannot open serial port {MISSING}"):
            opener()
    for lens, fake in (bench.varioptic(), bench.optotune()):
        fake.unplug()
        with pytest.raises(CameraDisconnectedError, match=fake.port):
            lens.set_setting(lens.limits.high)
        lens.close()
        assert lens.closed


def test_every_wire_byte_reaches_the_monitor_and_the_command_log(bench: Bench) -> None:
    lens, board = bench.varioptic()
    seen: list[tuple[str, bytes]] = []
    lens.transport.monitor = lambda direction, data: seen.append((direction, data))
    lens.set_setting(45.0)
    assert ("tx", H("02 37 00 02 08 52 95")) in seen and ("rx", vo.ACK) in seen
    assert b"".join(d for k, d in seen if k == "tx") == bytes(
        board.rx[-len(b"".join(d for k, d in seen if k == "tx")) :]
    )

    logged, _ = bench.varioptic()
    events: list[dict] = []
    logged.command_log = events.append  # Device.command_log (dasha run --log)
    logged.set_setting(46.0)
    assert [e["event"] for e in events][:2] == ["lens", "serial"] and events[1]["tx"] == "02 37 00 02 f0 55 80"
    assert {"serial"} == {e["event"] for e in events[1:]} and any(e.get("rx") == "02 37 06 3f" for e in events)

    class Logged:  # what Device.command_log / log_command look like to the transport
        command_log = True
        events: ClassVar[list[tuple[str, dict]]] = []

        def log_command(self, event: str, **fields: str) -> None:
            self.events.append((event, fields))

    wire_log(Logged())("rx", b"\x02\x37")
    assert Logged.events == [("serial", {"rx": "02 37"})]
    wire_log(object())("tx", b"\x00")  # a device without a command log: nothing happens


def test_missing_pyserial_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "serial", None)
    for opener in (lambda: VariopticLens(MISSING), lambda: make_lens(f"optotune:{MISSING}")):
        with pytest.raises(DependencyMissingError, match=r"pyserial.*dasha\[serial\]") as caught:
            opener()
        assert caught.value.extra == "serial" and caught.value.package == "pyserial"


# -- Optotune on its fake ----------------------------------------------------------------------------------------------
def test_optotune_current_mode_reads_imax_and_limits_from_the_device(bench: Bench) -> None:
    lens, driver = bench.optotune(FakeLensDriver4(imax_ma=292.0))
    assert driver.requests[0] == b"Start" and driver.handshakes == 1 and driver.mode == 1
    assert lens.max_current_ma == 292.0 and lens.firmware_type == "A" and lens.unit == "mA"
    assert (lens.limits.low, lens.limits.high, lens.limits.resolution) == (-292.0, 292.0, 292.0 / 4095)
    assert isinstance(lens.curve, LinearCurrentCurve)
    sent = lens.set_setting(100.0)
    assert H("41 77 05 7A 26 95") in driver.requests and driver.codes == [1402]  # the document's 100 mA vector
    assert lens.setting == pytest.approx(sent, abs=1e-9) and sent == pytest.approx(1402 * 292.0 / 4095)
    narrow, _ = bench.optotune(FakeLensDriver4(current_limits=(-1000, 2000)))
    step = 292.84 / 4095
    assert (narrow.limits.low, narrow.limits.high) == (pytest.approx(-1000 * step), pytest.approx(2000 * step))
    plain, _ = bench.optotune(FakeLensDriver4(imax_ma=250.0, current_limits=None, long_mda=True))
    assert (plain.limits.low, plain.limits.high) == (-250.0, 250.0)  # no SW limits in this firmware (E2): ±Imax


def test_optotune_power_mode_sends_temperature_limits_and_uses_the_reported_range(bench: Bench) -> None:
    lens, driver = bench.optotune(FakeLensDriver4(fp_range_d=(-1.5, 3.5)), mode="power")
    assert H("50 77 54 41 02 D0 01 40 33 C1") in driver.requests and driver.mode == 5  # PwTA 20–45 °C, then MwCA
    assert driver.requests.index(ot.frame(b"MwCA")) > driver.requests.index(H("50 77 54 41 02 D0 01 40 33 C1"))
    assert (lens.limits.low, lens.limits.high, lens.unit) == (-1.5, 3.5, "dpt")
    assert isinstance(lens.curve, IdentityPowerCurve) and lens.spec.endswith(",mode=power")
    assert lens.set_setting(3.0) == 3.0 and H("50 77 44 41 06 40 00 00 30 2C") in driver.requests
    assert lens.setting == 3.0 and lens.power_d == 3.0
    driver.fp_range_d = (-1.0, 1.0)  # warmer: 3 dpt is out of reach now
    with pytest.raises(DeviceFaultError, match="focal power unreachable") as caught:
        lens.set_setting(2.0)
    assert driver.port in str(caught.value)
    typed, driver_b = bench.optotune(FakeLensDriver4(firmware="B"), mode="power", temperature_limits_c=(10.0, 30.0))
    typed.set_setting(-1.25)
    assert driver_b.codes[-1] == -250 and driver_b.temp_limits == (30 * 16, 10 * 16)


def test_optotune_temperature(bench: Bench) -> None:
    lens, driver = bench.optotune(FakeLensDriver4(temperature_raw=0x01A8))
    assert lens.temperature_c == pytest.approx(26.5)
    driver.temperature_raw = 4095
    assert lens.temperature_c is None
    lens.close()
    with pytest.raises(CameraDisconnectedError):
        _ = lens.temperature_c


@pytest.mark.parametrize(
    ("kind", "error", "match", "tries"),
    [
        ("nack", CommandRejectedError, r"bad CRC \(N\)", 2),
        ("error", CommandRejectedError, r"error 2 \(command not in this firmware type\)", 1),
        ("corrupt", ProtocolError, "bad CRC in the reply", 2),
        ("short", ProtocolError, "short reply", 2),
        ("silent", CameraTimeoutError, "no reply", 2),
    ],
)
def test_optotune_failures_raise_clear_errors(bench: Bench, kind: str, error: type, match: str, tries: int) -> None:
    lens, driver = bench.optotune(timeout_s=SHORT_S)
    for call, only in ((lambda: lens.setting, b"Ar"), (lambda: lens.temperature_c, b"TCA")):
        driver.fail(kind, times=None, only=only)
        sent = sum(r.startswith(only) for r in driver.requests)
        with pytest.raises(error, match=match) as caught:
            call()
        assert driver.port in str(caught.value)
        assert sum(r.startswith(only) for r in driver.requests) - sent == tries  # retried only when safe
        driver.heal()
    driver.fail(kind, times=None, only=b"Aw" if kind in ("nack", "error") else b"Ar")  # a set has no reply itself
    with pytest.raises(error, match=match):
        lens.set_setting(10.0)
    driver.heal()
    assert lens.set_setting(10.0) == pytest.approx(10.0, abs=lens.limits.resolution) and lens.setting > 9.9


def test_optotune_retries_one_transient_failure_including_a_failed_handshake(bench: Bench) -> None:
    driver = FakeLensDriver4()
    driver.fail("silent", times=1, only=b"Start")
    lens, _ = bench.optotune(driver, timeout_s=SHORT_S)
    assert driver.handshakes == 1 and driver.requests[:2] == [b"Start", b"Start"]
    for kind, only in (("nack", b"Aw"), ("corrupt", b"Ar"), ("short", b"Ar"), ("silent", b"Ar")):
        driver.fail(kind, times=1, only=only)
        value = lens.set_setting(-50.0)
        assert lens.setting == pytest.approx(value, abs=1e-9) and driver.current == ot.current_code(value, 292.84)


# -- nothing outside the limits reaches the wire -----------------------------------------------------------------------
def _requests(low: float, high: float, resolution: float) -> st.SearchStrategy[float]:
    span = high - low
    edges = [
        low,
        high,
        low - resolution,
        high + resolution,
        math.nextafter(low, -math.inf),
        math.nextafter(high, math.inf),
    ]
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=low - 0.25 * span, max_value=high + 0.25 * span),
        st.sampled_from(edges),
        st.integers(min_value=int(low) - 10, max_value=int(high) + 10).map(float),
    )


@pytest.mark.parametrize("driver", ["varioptic", "optotune"])
def test_random_requests_never_put_a_value_outside_the_limits_on_the_wire(bench: Bench, driver: str) -> None:
    lens, fake = (
        bench.varioptic() if driver == "varioptic" else bench.optotune(FakeLensDriver4(current_limits=(-3000, 3500)))
    )
    lim = lens.limits
    counts = {"sent": 0, "refused": 0}

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(_requests(lim.low, lim.high, lim.resolution), min_size=100, max_size=100))
    def check(values: list[float]) -> None:
        for value in values:
            before = len(fake.rx)
            if math.isfinite(value) and lim.low <= value <= lim.high:
                sent = lens.set_setting(value, wait=False)
                assert lim.low <= sent <= lim.high and abs(sent - value) <= lim.resolution / 2 + 1e-9
                counts["sent"] += 1
            else:
                with pytest.raises(OutOfRangeError):
                    lens.set_setting(value, wait=False)
                assert len(fake.rx) == before, "an out-of-range request put bytes on the wire"
                counts["refused"] += 1

    check()
    assert counts["sent"] + counts["refused"] >= 10_000 and counts["sent"] > 1000 and counts["refused"] > 1000
    wire = fake.volts if driver == "varioptic" else fake.sets
    assert len(wire) >= counts["sent"]  # a retried set (a reply late under load) reaches the fake twice
    assert all(lim.low - 1e-9 <= w <= lim.high + 1e-9 for w in wire)


# -- SPECs and the command line ----------------------------------------------------------------------------------------
def test_make_lens_opens_the_serial_drivers(bench: Bench) -> None:
    board = bench.fake(FakeVariopticBoard())
    lens = make_lens(f"varioptic:{board.port},timeout=0.2")
    bench.things.append(lens)
    assert isinstance(lens, VariopticLens) and lens.spec == f"varioptic:{board.port},timeout=0.2"
    assert lens.set_setting(47.5) == 47.5 and board.volts[-1] == pytest.approx(47.5)
    driver = bench.fake(FakeLensDriver4())
    power = make_lens(f"optotune:{driver.port},mode=power")
    bench.things.append(power)
    assert isinstance(power, OptotuneLens) and power.unit == "dpt" and power.mode == "power"
    current = make_lens(f"optotune:{bench.fake(FakeLensDriver4()).port}")
    bench.things.append(current)
    assert current.unit == "mA"


def test_cli_run_with_a_missing_lens_port_exits_1_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    need("serial")
    from dasha.cli import main

    grid = tmp_path / "g.npz"
    args = ["record-grid", "--camera", "sim:size=32", "--out", str(grid), "--exposures", "5000,20000"]
    assert main([*args, "--lens-steps", "3"]) == 0
    capsys.readouterr()
    assert main(["run", "--camera", f"replay:{grid}", "--lens", f"varioptic:{MISSING}"]) == 1
    err = capsys.readouterr().err
    assert MISSING in err and err.count("\n") == 1
