"""`dasha calibrate`: the measured lens curve recovers the simulator's, its file round-trips, and perception uses it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dasha.camera import ConfigError, make_camera
from dasha.camera.calibration import VariopticCurve
from dasha.camera.lens_file import (
    TabulatedCurve,
    apply_lens_calibration,
    load_lens_calibration,
    monotone_fit,
    save_lens_calibration,
)
from dasha.cli import main
from dasha.runtime.calibrate import calibrate_lens


def test_calibration_on_the_simulator_recovers_its_lens_curve_within_0_1_dpt() -> None:
    cam = make_camera("sim:scene=camera,lux=200,fnumber=2.8")
    curve, points = calibrate_lens(cam, [0.3, 0.5, 1.0, 2.0, math.inf], cam.set_object_distance)
    true = VariopticCurve()
    assert [p.distance_m for p in points] == [0.3, 0.5, 1.0, 2.0, math.inf]
    volts = np.linspace(47.0, 50.3, 34)  # the span the targets cover (∞ … 0.3 m)
    assert np.max(np.abs(curve.power(volts) - true.power(volts))) < 0.1
    for v in (47.2, 48.7, 50.0):
        assert curve.drive(float(true.power(v))) == pytest.approx(v, abs=0.1)


def test_lens_file_round_trips_and_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    curve = TabulatedCurve((47.0, 48.0, 50.0), (0.0, 1.0, 3.0), "V", (math.inf, 1.0, 0.333))
    path = save_lens_calibration(tmp_path / "lens.toml", curve, "sim")
    again = load_lens_calibration(path)
    assert again == curve and again.distances_m[0] == math.inf
    assert again.power(49.0) == pytest.approx(2.0) and again.power(46.0) == pytest.approx(-1.0)  # extrapolated
    assert again.drive(4.0) == pytest.approx(51.0)
    with pytest.raises(ConfigError, match="not found"):
        load_lens_calibration(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("drive = [1, 2]\n")
    with pytest.raises(ConfigError, match="missing or bad field"):
        load_lens_calibration(tmp_path / "bad.toml")
    (tmp_path / "fold.toml").write_text('unit = "V"\ndrive = [47.0, 48.0, 49.0]\npower_d = [0.0, 2.0, 1.0]\n')
    with pytest.raises(ConfigError, match="monotone"):
        load_lens_calibration(tmp_path / "fold.toml")
    ma = TabulatedCurve((0.0, 100.0), (-2.0, 2.0), "mA")
    save_lens_calibration(tmp_path / "ma.toml", ma)
    with pytest.raises(ConfigError, match="mA, but the lens is driven in V"):
        apply_lens_calibration(make_camera("sim").lens, tmp_path / "ma.toml")


def test_monotone_fit_pools_a_noisy_fold() -> None:
    x, y = monotone_fit([49.0, 47.0, 48.0, 48.5], [2.0, 0.0, 1.2, 1.0])
    assert list(x) == [47.0, pytest.approx(48.25), 49.0] and list(y) == [0.0, pytest.approx(1.1), 2.0]


def test_cli_calibrate_writes_the_curve_and_run_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "lens.toml"
    assert main(["calibrate", "--camera", "sim:scene=camera,lux=200", "--distances", "0.5,1,inf", "--out",
                 str(out)]) == 0  # fmt: skip
    assert out.is_file() and out.with_suffix(".png").is_file()
    curve = load_lens_calibration(out)
    assert curve.unit == "V" and len(curve.drive_points) == 3
    import dasha.envs.perception as perception_module

    seen = []
    real = perception_module.fit_focus

    def spy(volts, log_blur, optics, lens_curve, vergence):  # type: ignore[no-untyped-def]
        seen.append(lens_curve)
        return real(volts, log_blur, optics, lens_curve, vergence)

    monkeypatch.setattr(perception_module, "fit_focus", spy)
    assert main(["run", "--camera", "sim:distance=0.5", "--calibration", str(out)]) == 0
    assert seen and all(c == curve for c in seen)  # the focus model is the measured curve
    assert main(["calibrate", "--camera", "sim", "--distances", "1", "--out", str(out)]) == 2


def test_a_real_camera_spec_states_its_optics() -> None:
    from dasha.camera.basler_spec import parse_basler_args
    from dasha.camera.calibration import Optics, optics_from_spec

    serial, kwargs = parse_basler_args("basler:123,focal_mm=16,fnumber=2.8,pitch_um=5.5,Gain=2", "123,focal_mm=16,"
                                       "fnumber=2.8,pitch_um=5.5,Gain=2")  # fmt: skip
    assert serial == "123" and kwargs["features"] == {"Gain": "2"}
    assert kwargs["optics"] == Optics(focal_length_m=0.016, f_number=2.8, pixel_pitch_m=5.5e-6)
    assert optics_from_spec("x", {}) is None
    with pytest.raises(ConfigError, match="missing: pitch_um"):
        optics_from_spec("x", {"focal_mm": "16", "fnumber": "2.8"})
    with pytest.raises(ConfigError, match="out of range"):
        optics_from_spec("x", {"focal_mm": "16", "fnumber": "2.8", "pitch_um": "5500"})
