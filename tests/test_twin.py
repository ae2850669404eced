"""The hardware-in-the-loop twin: pylon's camera emulation + the Varioptic driver on a pty, rendered by the simulator.

Everything that runs on `sim` runs on `twin` — and, since the drivers carry the same settings, gives the same answers.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pypylon")
pytest.importorskip("serial")

from dasha.agents.evaluate import eval_config, evaluate
from dasha.agents.policy import Policy
from dasha.camera import DependencyMissingError, make_camera
from dasha.camera.calibration import VariopticCurve
from dasha.cli import main
from dasha.runtime.calibrate import calibrate_lens


def test_a_twin_frame_is_the_simulators_frame_through_pylons_grab_path() -> None:
    with make_camera("twin:distance=0.8,lux=150,seed=4") as twin, make_camera("sim:distance=0.8,lux=150,seed=4") as sim:
        for cam in (twin, sim):
            cam.exposure_us = 12_345
            cam.lens.set_setting(48.25)
        a, b = twin.capture(), sim.capture()
        assert np.array_equal(a.image, b.image) and a.truth.blur_px == pytest.approx(b.truth.blur_px)
        assert (a.exposure_us, a.lens_v, a.lens_unit) == (12_345.0, 48.25, "V")
        assert twin.board.volts[-1] == pytest.approx(48.25)  # the board decoded it from the bytes it received
        assert twin.basler.get_feature("ExposureTime") in ("12345", "12345.0")  # the emulated camera's node
        assert twin.basler.get_feature("ImageFileMode") == "On"


def test_run_on_the_twin_ends_in_focus_and_logs_the_grabs_and_the_lens_frames(tmp_path: Path) -> None:
    out, log = tmp_path / "run.json", tmp_path / "run.jsonl"
    spec = "scene=astronaut,distance=0.5,lux=100"
    assert main(["run", "--camera", f"twin:{spec}", "--json", str(out), "--log", str(log)]) == 0
    doc = json.loads(out.read_text())
    assert doc["truth"]["blur_px"] <= 2.0 and doc["lens_unit"] == "V"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    grabs = [e for e in entries if e["event"] == "capture" and e["device"].startswith("basler")]
    focus_writes = [e for e in entries if e["event"] == "serial" and e.get("tx", "").startswith("02 37 00 02")]
    assert len(grabs) == doc["moves"] + 1 and len(focus_writes) >= doc["lens_moves"]
    assert main(["run", "--camera", f"sim:{spec}", "--json", str(tmp_path / "sim.json")]) == 0
    same = json.loads((tmp_path / "sim.json").read_text())
    assert (same["exposure_us"], same["lens_setting"], same["moves"]) == (doc["exposure_us"], doc["lens_setting"],
                                                                          doc["moves"])  # fmt: skip


def test_the_same_episodes_on_sim_and_twin_end_alike() -> None:
    """A test on 6 seeds of the closing note's 50: the joint policy's episodes on the twin end where they end on
    the simulator (the drivers quantise exactly as the simulated devices do)."""
    policy = Policy.shipped("joint")
    sim, rs = evaluate(policy, episodes=6, seed=3, config=eval_config(policy))
    twin, rt = evaluate(policy, episodes=6, seed=3, config=eval_config(policy, camera="twin"))
    assert abs(sim["success_rate"] - twin["success_rate"]) <= 0.02
    assert [(r.steps, r.success) for r in rs] == [(r.steps, r.success) for r in rt]


def test_calibrate_on_the_twin_recovers_the_simulators_lens_curve() -> None:
    with make_camera("twin:scene=camera,lux=200") as twin:
        curve, _ = calibrate_lens(twin, [0.3, 0.5, 1.0, math.inf], twin.set_object_distance)
    volts = np.linspace(47.0, 50.3, 23)
    assert np.max(np.abs(curve.power(volts) - VariopticCurve().power(volts))) < 0.1


def test_without_pypylon_the_twin_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypylon", None)
    with pytest.raises(DependencyMissingError, match=r"dasha\[basler\]"):
        make_camera("twin")


def test_devices_lists_the_emulated_camera(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYLON_CAMEMU", "1")
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "Emulation" in out and "basler:" in out
