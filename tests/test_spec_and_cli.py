"""Camera SPEC parsing, the record-grid file format and the CLI's error contract."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dasha.camera import OutOfRangeError, SpecError, make_camera
from dasha.camera.grid import Grid, record_grid
from dasha.camera.sim import SimCamera
from dasha.cli import main


def test_sim_spec_sets_every_documented_key() -> None:
    cam = make_camera(
        "sim:scene=camera,background=grass,distance=inf,lux=250,fnumber=4,seed=9,size=48x64,"
        "exposure=5000,lens=50,fraction=0.5,vibration=0.01,light=paper"
    )
    assert isinstance(cam, SimCamera)
    assert cam.scene.name == "camera" and math.isinf(cam.scene.object_distance_m)
    assert cam.optics.f_number == 4 and cam.seed == 9 and cam.size == (48, 64)
    assert cam.exposure_us == 5000 and cam.lens.voltage == 50 and cam.vibration_d == 0.01
    assert cam.light.lux_at(0) == 13  # paper ramp starts at 13 lx
    assert cam.capture().image.shape == (48, 64)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("sim:foo=1", "unknown key 'foo'"),
        ("sim:lux=-1", "lux"),
        ("sim:lux=abc", "not a valid"),
        ("sim:distance=0.05", "distance"),
        ("sim:scene=/no/such/file.png", "not found"),
        ("sim:scene=aruco:99", "aruco:ID"),
        ("sim:scene=aruco:x", "aruco:ID"),
        ("sim:lux", "expected key=value"),
        ("sim:lux=1,lux=2", "twice"),
        ("sim:size=12x", "size"),
        ("sim:light=disco", "light"),
        ("sim:fnumber=0.2", "f-number"),
        ("warp9", "unknown camera kind"),
        ("", "empty"),
        ("replay:", "needs a file"),
        ("replay:/no/such.npz", "not found"),
    ],
)
def test_bad_specs_raise_spec_error(spec: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        make_camera(spec)


def test_record_grid_and_replay_roundtrip(tmp_path: Path) -> None:
    cam = make_camera("sim:size=32,seed=3")
    volts = list(np.linspace(24, 70, 5))
    grid = record_grid(cam, [2_000, 20_000, 200_000], volts)
    assert grid.frames.shape == (3, 5, 32, 32) and grid.captured.all() and grid.meta["complete"]
    truth = grid.meta["truth"]
    assert len(truth["blur_px"]) == 5 and truth["in_focus_v"] == pytest.approx(cam.in_focus_voltage())
    path = grid.save(tmp_path / "g.npz")
    loaded = Grid.load(path)
    assert np.array_equal(loaded.frames, grid.frames)
    replay = make_camera(f"replay:{path}")
    replay.exposure_us = 19_000  # snaps to the nearest recorded exposure
    replay.lens.voltage = 47.0  # nearest recorded column: 47 V
    f = replay.capture()
    assert np.array_equal(f.image, grid.frames[1, 2]) and f.exposure_us == 20_000
    assert f.truth is not None and f.truth.blur_px == pytest.approx(truth["blur_px"][2])
    with pytest.raises(OutOfRangeError):
        replay.exposure_us = 500_000


def test_interrupted_grid_keeps_captured_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    cam = make_camera("sim:size=32")
    calls = {"n": 0}
    real = cam._do_capture

    def flaky(timeout_s: float | None = None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(timeout_s)

    monkeypatch.setattr(cam, "_do_capture", flaky)
    grid = record_grid(cam, [1_000, 2_000], [30.0, 40.0, 50.0])
    assert isinstance(grid.interrupted, KeyboardInterrupt)  # type: ignore[attr-defined]
    assert grid.captured.sum() == 3 and not grid.meta["complete"]


def test_cli_record_grid_writes_the_contract_fields(tmp_path: Path) -> None:
    out = tmp_path / "grid.npz"
    rc = main(
        [
            "record-grid",
            "--camera",
            "sim:seed=4",
            "--out",
            str(out),
            "--size",
            "128",
            "--lens-steps",
            "4",
            "--exposures",
            "1000,30000",
        ]
    )
    assert rc == 0
    with np.load(out) as z:
        assert z["frames"].shape == (2, 4, 128, 128) and z["frames"].dtype == np.uint8
        assert list(z["exposure_us"]) == [1000, 30000]
        assert np.allclose(z["lens_v"], np.linspace(24, 70, 4))
        meta = json.loads(str(z["meta"]))
    assert meta["camera"] == "sim:seed=4,size=128" and meta["seed"] == 4 and "in_focus_v" in meta["truth"]


def test_cli_record_grid_defaults_are_the_paper_table_and_47_lens_steps(tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    assert main(["record-grid", "--camera", "sim", "--out", str(out), "--size", "16"]) == 0
    with np.load(out) as z:
        assert z["frames"].shape == (148, 47, 16, 16)


@pytest.mark.parametrize(
    "args",
    [
        ["record-grid", "--camera", "sim:foo=1", "--out", "x.npz"],
        ["record-grid", "--camera", "sim:lux=-1", "--out", "x.npz"],
        ["record-grid", "--camera", "sim:scene=/missing.png", "--out", "x.npz"],
        ["record-grid", "--camera", "sim", "--exposures", "5", "--out", "x.npz"],
        ["record-grid", "--camera", "sim", "--exposures", "fast", "--out", "x.npz"],
        ["record-grid", "--camera", "sim", "--lens-steps", "-1", "--out", "x.npz"],
        ["record-grid", "--out", "x.npz"],
        ["no-such-command"],
        ["run", "--camera", "sim", "--detector", "nope"],
        ["eval", str(Path(__file__).resolve().parents[1] / "policies" / "joint"), "--episodes", "1", "--detector", "x"],
        ["eval", str(Path(__file__).resolve().parents[1] / "policies" / "focus"), "--domain", "moon"],
        [
            "eval",
            str(Path(__file__).resolve().parents[1] / "policies" / "focus"),
            "--background",
            "/missing.png",
            "--episodes",
            "1",
        ],
        ["train", "focus", "--domain", "moon"],
        ["train", "focus", "--timesteps", "0"],
        ["train", "joint", "--preset", "paper", "--init-from", "/missing", "--timesteps", "0"],
        ["bench", "af", "--background", "/missing.png", "--episodes", "1", "--methods", "brent"],
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dasha.cli", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dasha: error:"), proc.stderr
    assert not (tmp_path / "x.npz").exists()


def test_cli_demo_runs_the_shipped_joint_policy(tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path), "--episodes", "3"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == 3 and len(summary["per_episode"]) == 3
    assert {"success_rate", "mean_steps", "rig_seconds"} <= set(summary["methods"]["dasha"])
    for name in ("before_after.png", "focus_sweep.png", "exposure_sweep.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
