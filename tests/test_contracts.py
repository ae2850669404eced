"""Every camera and lens backend against the device contract (``tests/contracts.py``), plus what the contract adds:
unit-neutral lenses, frames that record the lens setting, a camera composed with an external lens, lens SPECs,
capture time-outs and the configuration/device error split."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dasha.camera import (
    CameraError,
    CameraTimeoutError,
    CameraWithLens,
    ConfigError,
    Frame,
    InvalidFrameError,
    Lens,
    LensCurve,
    LensUnitError,
    Limits,
    MissingCalibrationError,
    OutOfRangeError,
    SpecError,
    make_camera,
    make_lens,
)
from dasha.camera.grid import record_grid
from dasha.camera.replay import ReplayCamera
from dasha.camera.sim import Scene, SimCamera, SimLens
from dasha.cli import main
from tests.contracts import CameraContract, LensContract, RecordingLens

NARROW = Limits(30.0, 60.0, "V", 0.001)


# -- an in-test lens driven in mA ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LinearMilliampCurve(LensCurve):
    """``P(I) = offset_d + slope_d_per_ma · I`` (dpt), a current-driven lens (Optotune EL-10-30 class)."""

    unit = "mA"
    offset_d: float = -2.0
    slope_d_per_ma: float = 0.04

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        out = self.offset_d + self.slope_d_per_ma * np.asarray(setting, np.float64)
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        return (diopters - self.offset_d) / self.slope_d_per_ma


class MilliampLens(RecordingLens):
    """A lens driven in mA (0–300 mA at 0.1 mA) with a linear curve; records every command it receives."""

    def __init__(self) -> None:
        super().__init__(Limits(0.0, 300.0, "mA", resolution=0.1), 0.0, LinearMilliampCurve())


def _scene() -> Scene:
    return Scene.from_names("astronaut", "brick", object_distance_m=1.5)


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small recorded grid (2 exposures × 5 lens voltages, 32 px), as ``dasha record-grid`` writes it."""
    cam = make_camera("sim:size=32,seed=3")
    grid = record_grid(cam, [2_000, 20_000], list(np.linspace(24, 70, 5)))
    return grid.save(tmp_path_factory.mktemp("replay") / "grid.npz")


# -- the contract against every backend ----------------------------------------------------------------------------
class TestSimCameraContract(CameraContract):
    def make_camera(self) -> SimCamera:
        return SimCamera(_scene(), size=32, seed=0)


class TestSimCameraNarrowLensContract(CameraContract):
    def make_camera(self) -> SimCamera:
        return SimCamera(_scene(), size=32, seed=0, lens_limits=NARROW)


class TestSimCameraFromSpecContract(CameraContract):
    def make_camera(self) -> SimCamera:
        return make_camera("sim:size=32,lens_low=30,lens_high=60")  # type: ignore[return-value]


class TestReplayCameraContract(CameraContract):
    @pytest.fixture(autouse=True)
    def _grid(self, grid_path: Path) -> None:
        self.grid_path = grid_path

    def make_camera(self) -> ReplayCamera:
        return ReplayCamera(self.grid_path)


class TestCameraWithSimLensContract(CameraContract):
    def make_camera(self) -> CameraWithLens:
        return CameraWithLens(make_camera("sim:size=32"), make_lens("sim:low=30,high=60"))


class TestCameraWithMilliampLensContract(CameraContract):
    def make_camera(self) -> CameraWithLens:
        return CameraWithLens(make_camera("sim:size=32"), MilliampLens())


class TestSimLensContract(LensContract):
    def make_lens(self) -> SimLens:
        return SimLens()


class TestSimLensNarrowContract(LensContract):
    def make_lens(self) -> SimLens:
        return SimLens(limits=NARROW)


class TestSpecLensContract(LensContract):
    def make_lens(self) -> Lens:
        return make_lens("sim:low=30,high=60,voltage=45")


class TestReplayLensContract(LensContract):
    @pytest.fixture(autouse=True)
    def _grid(self, grid_path: Path) -> None:
        self.grid_path = grid_path

    def make_lens(self) -> Lens:
        lens = ReplayCamera(self.grid_path).lens
        assert lens is not None
        return lens


class TestMilliampLensContract(LensContract):
    def make_lens(self) -> MilliampLens:
        return MilliampLens()


# -- unit-neutral lenses ---------------------------------------------------------------------------------------------
def test_milliamp_lens_rejects_volts_and_sends_nothing() -> None:
    lens = MilliampLens()
    with pytest.raises(LensUnitError, match="driven in mA"):
        lens.set_voltage(50.0)
    with pytest.raises(OutOfRangeError, match="lens current"):
        lens.set_setting(300.1)
    assert lens.sent == []
    assert lens.set_setting(123.456) == pytest.approx(123.5) and lens.sent == [pytest.approx(123.5)]
    assert lens.power_d == pytest.approx(-2.0 + 0.04 * 123.5)
    with pytest.raises(LensUnitError):
        lens.curve.voltage(1.0)


def test_volt_lens_keeps_its_old_api() -> None:
    lens = SimLens(limits=NARROW)
    assert lens.voltage == 30.0 and lens.unit == "V"  # starts at the low end of its limits
    assert lens.set_voltage(47.12345, wait=True) == 47.123
    lens.voltage = 50.0
    assert lens.setting == 50.0 and lens.limits is NARROW
    assert lens.curve.voltage(lens.diopters) == pytest.approx(50.0, abs=1e-6)
    assert lens.curve.voltage(3.0) == lens.curve.drive(3.0)
    lens.diopters = 5.0
    assert lens.power_d == pytest.approx(5.0, abs=2e-3)
    with pytest.raises(OutOfRangeError, match="lens voltage"):
        lens.voltage = 61.0
    with pytest.raises(OutOfRangeError, match="optical power"):
        lens.diopters = 14.0  # reachable at 70 V, not inside 30–60 V


def test_lens_without_curve_is_a_clear_error() -> None:
    class Bare(Lens):
        def __init__(self) -> None:
            self.limits = Limits(0.0, 1.0, "dpt")

        def _do_set_setting(self, value: float) -> None:
            pass

        def _do_get_setting(self) -> float:
            return 0.0

    lens = Bare()
    with pytest.raises(MissingCalibrationError, match=r"Bare has no dpt→dpt calibration curve"):
        _ = lens.curve
    assert getattr(lens, "curve", None) is None
    with pytest.raises(ConfigError, match="LensCurve"):
        lens.curve = "linear"  # type: ignore[assignment]


def test_sim_lens_limits_must_be_volts_inside_the_varioptic_range() -> None:
    for bad in (Limits(20.0, 60.0, "V"), Limits(30.0, 80.0, "V"), Limits(30.0, 30.0, "V"), Limits(0, 100, "mA")):
        with pytest.raises(SpecError):
            SimLens(limits=bad)
    with pytest.raises(ConfigError):
        Limits(2.0, 1.0, "V")


def test_sim_camera_with_narrow_lens_focuses_inside_its_limits() -> None:
    cam = SimCamera(_scene(), size=32, lens_limits=NARROW)
    assert cam.lens.limits is NARROW and cam.lens.voltage == 30.0
    v = cam.in_focus_voltage()
    assert 30.0 <= v <= 60.0
    cam.lens.voltage = v
    assert cam.capture().truth.blur_px < 2  # type: ignore[union-attr]
    cam.restart(1, 20_000, 40.0)
    with pytest.raises(OutOfRangeError):
        cam.restart(1, 20_000, 24.0)


# -- frames record the lens setting ----------------------------------------------------------------------------------
def test_frame_positional_construction_still_works_and_fills_the_setting() -> None:
    img = np.zeros((16, 16), np.uint8)
    f = Frame(img, 1000.0, 47.0, 0.5)
    assert f.lens_setting == 47.0 and f.lens_unit == "V" and f.truth is None and f.phase_shift_px is None
    g = Frame(img, 1000.0, None, 0.5, None, 0.3, lens_setting=47.0, lens_unit="V")
    assert g.lens_v == 47.0 and g.phase_shift_px == 0.3
    m = Frame(img, 1000.0, None, 0.5, lens_setting=120.0, lens_unit="mA")
    assert m.lens_v is None and m.lens_setting == 120.0
    none = Frame(img, 1000.0, None, 0.5)
    assert none.lens_setting is None and none.lens_unit is None
    for bad in (
        {"lens_v": 47.0, "lens_setting": 48.0, "lens_unit": "V"},
        {"lens_v": 47.0, "lens_setting": 120.0, "lens_unit": "mA"},
        {"lens_v": None, "lens_setting": 1.0, "lens_unit": "furlong"},
        {"lens_v": None, "lens_setting": None, "lens_unit": "V"},
        {"lens_v": 47.0, "lens_setting": None, "lens_unit": "mA"},
    ):
        with pytest.raises(InvalidFrameError):
            Frame(img, 1000.0, timestamp=0.0, **bad)  # type: ignore[arg-type]
    assert dataclasses.replace(f, truth=None).lens_setting == 47.0


def test_sim_and_replay_frames_fill_both_lens_fields(grid_path: Path) -> None:
    cam = SimCamera(_scene(), size=32)
    cam.lens.voltage = 48.5
    f = cam.capture()
    assert f.lens_v == f.lens_setting == 48.5 and f.lens_unit == "V"
    replay = ReplayCamera(grid_path)
    assert replay.lens is not None
    replay.lens.voltage = 47.0  # nearest recorded column: 47 V
    r = replay.capture()
    assert r.lens_v == r.lens_setting == 47.0 and r.lens_unit == "V"


# -- a camera body and an external lens ------------------------------------------------------------------------------
def test_camera_with_lens_delegates_and_stamps_frames() -> None:
    body = SimCamera(_scene(), size=32, exposure_us=5_000)
    lens = MilliampLens()
    cam = CameraWithLens(body, lens)
    assert cam.lens is lens and cam.camera is body and cam.optics is body.optics
    assert cam.exposure_limits is body.exposure_limits and cam.spec == "sim"
    cam.exposure_us = 20_000
    assert body.exposure_us == 20_000
    lens.setting = 150.0
    f = cam.capture(timeout_s=1.0)
    assert f.lens_setting == 150.0 and f.lens_unit == "mA" and f.lens_v is None and f.exposure_us == 20_000
    assert f.truth is None  # the body's ground truth describes its own lens, not this one
    with cam:
        pass
    assert cam.closed and body.closed and body.lens.closed and lens.closed and lens.closed_calls == 1
    cam.close()
    assert lens.closed_calls == 1
    with pytest.raises(TypeError):
        CameraWithLens(lens, body)  # type: ignore[arg-type]


def test_closing_keeps_going_when_a_device_fails_to_close() -> None:
    class Stubborn(MilliampLens):
        def _do_close(self) -> None:
            raise CameraError("serial port stuck")

    body = SimCamera(_scene(), size=32)
    cam = CameraWithLens(body, Stubborn())
    with pytest.raises(CameraError, match="stuck"):
        cam.close()
    assert cam.closed and body.closed


# -- lens SPECs ---------------------------------------------------------------------------------------------------
def test_make_lens_builds_simulated_volt_lenses() -> None:
    lens = make_lens("sim")
    assert isinstance(lens, SimLens) and lens.limits.low == 24.0 and lens.limits.high == 70.0 and lens.spec == "sim"
    narrow = make_lens("sim:low=30,high=60,voltage=45")
    assert (narrow.limits.low, narrow.limits.high, narrow.limits.unit, narrow.voltage) == (30.0, 60.0, "V", 45.0)
    assert make_lens("sim:high=50").limits.high == 50.0


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("varioptic:", "varioptic needs a serial port first"),
        ("varioptic:timeout=1", "needs a serial port first"),
        ("varioptic:/dev/ttyUSB0,mode=power", "unknown key 'mode'"),
        ("optotune:COM3,mode=fast", "mode='fast' must be current or power"),
        ("optotune:COM3,timeout=0", "timeout=0.0 s must be a positive"),
        ("zoom", "unknown lens kind"),
        ("", "empty lens spec"),
        ("sim:foo=1", "lens spec 'sim:foo=1': unknown key 'foo'"),
        ("sim:low=60,high=30", "low < high"),
        ("sim:low=10", "Varioptic drive range"),
        ("sim:low=30,voltage=25", "voltage=25"),
        ("sim:low=x", "not a valid"),
    ],
)
def test_bad_lens_specs_raise_spec_error(spec: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        make_lens(spec)


def test_sim_camera_spec_takes_lens_limits() -> None:
    cam = make_camera("sim:size=32,lens_low=30,lens_high=60")
    assert cam.lens is not None and (cam.lens.limits.low, cam.lens.limits.high) == (30.0, 60.0)
    assert cam.lens.voltage == 30.0
    assert make_camera("sim:size=32,lens_low=30,lens=45").lens.voltage == 45.0  # type: ignore[union-attr]
    for spec, fragment in [
        ("sim:lens_low=50,lens_high=40", "lens_low < lens_high"),
        ("sim:lens_high=80", "Varioptic drive range"),
        ("sim:lens_low=30,lens=25", "lens=25"),
    ]:
        with pytest.raises(SpecError, match=fragment):
            make_camera(spec)


# -- capture time-outs ----------------------------------------------------------------------------------------------
def test_replay_times_out_when_a_frame_cannot_arrive_in_time(grid_path: Path) -> None:
    replay = ReplayCamera(grid_path)
    replay.exposure_us = 20_000
    with pytest.raises(CameraTimeoutError, match=r"longer than 0\.01 s"):
        replay.capture(timeout_s=0.01)
    assert replay.capture(timeout_s=0.05).exposure_us == 20_000
    replay.grid.captured[1, :] = False  # as if the recording was interrupted before the 20 ms row
    with pytest.raises(CameraTimeoutError, match="interrupted grid"):
        replay.capture()


def test_simulator_never_times_out() -> None:
    cam = SimCamera(_scene(), size=32, exposure_us=1_000_000)
    assert cam.capture(timeout_s=1e-3).exposure_us == 1_000_000


# -- errors: configuration is not a device error ---------------------------------------------------------------------
def test_error_tree_separates_configuration_from_devices() -> None:
    assert issubclass(SpecError, ConfigError) and issubclass(ConfigError, ValueError)
    assert not issubclass(ConfigError, CameraError) and not issubclass(SpecError, CameraError)
    assert issubclass(OutOfRangeError, CameraError) and issubclass(OutOfRangeError, ValueError)
    assert issubclass(LensUnitError, OutOfRangeError) and issubclass(LensUnitError, TypeError)
    assert issubclass(MissingCalibrationError, CameraError) and issubclass(MissingCalibrationError, AttributeError)


def test_cli_maps_configuration_errors_to_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "g.npz"
    assert main(["record-grid", "--camera", "sim:lens_low=50,lens_high=40", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dasha: error: ") and "lens_low" in err[0]
    assert not out.exists()

    def multi_line(spec: str) -> None:
        raise ConfigError("bad config\n  second line")

    monkeypatch.setattr("dasha.camera.make_camera", multi_line)
    assert main(["record-grid", "--camera", "sim", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "dasha: error: bad config second line"


def test_cli_records_a_grid_over_a_narrow_lens(tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    args = ["record-grid", "--camera", "sim:lens_low=30,lens_high=60", "--size", "16", "--lens-steps", "3"]
    assert main([*args, "--exposures", "1000", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert list(z["lens_v"]) == [30.0, 45.0, 60.0]


# -- import laziness ---------------------------------------------------------------------------------------------------
def test_import_dasha_camera_loads_no_rl_stack() -> None:
    code = (
        "import sys, dasha.camera, dasha.camera.compose, dasha.camera.calibration\n"
        "print(sorted(m for m in ('gymnasium', 'torch', 'ray') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
