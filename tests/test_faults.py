"""Fault injection (``faults(…):SPEC``) and how the engine copes: one test per row of the README's fault table.

Transient faults are retried where that is safe — a grab commands nothing, an absolute lens setting is idempotent —
a bounded number of times with a doubling back-off (:mod:`dasha.camera.resilient`); what is left is a clear error of
the fault's own type, an episode reported as faulted (not failed), and `dasha run` exiting 1 with one line.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from dasha.agents.evaluate import EpisodeResult, run_episode, summarise
from dasha.agents.export import random_policy
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import Measurement, make_autoexposure
from dasha.bench.runner import AutofocusPlayer
from dasha.camera import (
    CameraDisconnectedError,
    CameraTimeoutError,
    CommandRejectedError,
    DeviceFaultError,
    InvalidFrameError,
    SpecError,
    make_camera,
)
from dasha.camera.faults import FaultPlan, FaultyCamera, parse_faults
from dasha.camera.resilient import Recovery, RetryPolicy, capture, set_lens
from dasha.camera.sim import Scene, SimCamera
from dasha.cli import main
from dasha.envs import EnvConfig
from dasha.envs.focus import FocusEnv
from dasha.envs.perception import Perception

SMALL = {"size": 64, "scenes": ("astronaut",), "backgrounds": ("grass",), "lux": (50.0, 200.0),
         "distance_m": (0.5, 3.0), "detector": "estimated-focus"}  # fmt: skip


def faulty(**rates: float) -> FaultyCamera:
    """A 64 px simulator behind the fault wrapper (nothing injected unless scheduled or given a rate)."""
    sim = SimCamera(Scene.from_names("astronaut", "grass", object_distance_m=1.0), size=64, exposure_us=20_000)
    return FaultyCamera(sim, FaultPlan(dict(rates), seed=1))


# -- the grammar ---------------------------------------------------------------------------------------------------
def test_the_faults_spec_wraps_any_camera_spec() -> None:
    cam = make_camera("faults(timeout=0.05,black=0.02,stuck=0.1,seed=3,outage=4,slow_s=0.001):sim:size=64")
    assert isinstance(cam, FaultyCamera) and cam.inner.size == (64, 64)
    assert cam.plan.rate("timeout") == 0.05 and cam.plan.seed == 3 and cam.plan.outage == 4
    assert cam.lens is not None and cam.lens.limits == cam.inner.lens.limits and cam.optics == cam.inner.optics
    assert cam.capture().image.shape == (64, 64)
    plan, inner = parse_faults("faults():replay:grid.npz")
    assert plan.rates == {} and inner == "replay:grid.npz"


@pytest.mark.parametrize("spec", ["faults(timeout=2):sim", "faults(bogus=0.1):sim", "faults(timeout=0.1)sim",
                                  "faults(timeout=0.1", "faults(timeout=x):sim", "faults(outage=0):sim",
                                  "faults(timeout=0.1,timeout=0.2):sim", "faults(drop=0.1):sim"])  # fmt: skip
def test_bad_fault_specs_are_spec_errors(spec: str) -> None:
    with pytest.raises(SpecError):
        make_camera(spec)


def test_the_env_world_can_drive_a_faulty_simulator() -> None:
    env = FocusEnv(EnvConfig(camera="faults(timeout=0.05,seed=2):sim", **SMALL))
    assert isinstance(env.world.camera, FaultyCamera)
    env.reset(seed=0)
    with pytest.raises(SpecError, match="faults"):
        EnvConfig(camera="faults(timeout=0.05):basler")


# -- camera faults: retried --------------------------------------------------------------------------------------
def _capture(cam: FaultyCamera, previous=None, shape=None) -> tuple:  # type: ignore[no-untyped-def]
    waits: list[float] = []
    rec = Recovery()
    frame = capture(cam, previous, shape=shape, recovery=rec, sleep=waits.append)
    return frame, rec, waits


def test_a_grab_timeout_is_retried_with_a_doubling_backoff() -> None:
    cam = faulty()
    cam.schedule("timeout", 3)
    frame, rec, waits = _capture(cam)
    assert frame.image.shape == (64, 64) and rec.retries["CameraTimeoutError"] == 3 and rec.recovered == 1
    assert waits == [0.005, 0.01, 0.02]
    cam.schedule("timeout", 4)
    with pytest.raises(CameraTimeoutError, match="gave up after 4 tries"):
        _capture(cam)


def test_a_disconnect_is_retried_until_the_device_is_back() -> None:
    cam = FaultyCamera(faulty().inner, FaultPlan({}, outage=3))
    cam.schedule("disconnect")
    frame, rec, _ = _capture(cam)
    assert rec.retries["CameraDisconnectedError"] == 3 and frame.image.ndim == 2
    long = FaultyCamera(faulty().inner, FaultPlan({}, outage=50))
    long.schedule("disconnect")
    with pytest.raises(CameraDisconnectedError, match="gave up after 4 tries"):
        _capture(long)
    long.close()
    with pytest.raises(CameraDisconnectedError, match="closed"):  # a closed camera is not retried
        capture(long, sleep=lambda s: pytest.fail("retried a closed camera"))


@pytest.mark.parametrize("times", [1, 2, 3])
def test_a_corrupt_frame_is_retried(times: int) -> None:
    cam = faulty()
    cam.schedule("corrupt", times)  # float32, then a 3-D array, then bytes
    frame, rec, _ = _capture(cam)
    assert frame.image.dtype == np.uint8 and frame.image.shape == (64, 64)
    assert rec.retries["InvalidFrameError"] == times
    cam.schedule("corrupt", 4)
    with pytest.raises(InvalidFrameError, match="gave up"):
        _capture(cam)


def test_a_truncated_frame_is_retried_and_a_confirmed_new_size_accepted() -> None:
    cam = faulty()
    cam.schedule("shape")
    frame, rec, _ = _capture(cam, shape=(64, 64))
    assert frame.image.shape == (64, 64) and rec.retries["shape"] == 1
    cam.schedule("shape", 4)  # every try agrees: the camera's frame size changed
    frame, _, _ = _capture(cam, shape=(64, 64))
    assert frame.image.shape == (32, 64)


def test_a_stale_frame_after_a_lens_move_is_dropped() -> None:
    cam = faulty()
    p = Perception(SMALL, cam)
    first = p.capture()
    cam.schedule("stale")
    p.move_lens(50.0)
    shot = p.capture()
    assert cam.injected["stale"] == 1 and p.recovery.retries["stale"] == 1
    assert shot.frame.timestamp > first.frame.timestamp and shot.frame.lens_v == pytest.approx(50.0)


def test_black_and_saturated_frames_are_measurements_the_controllers_meter() -> None:
    """A lights-off scene looks like a black glitch: no retry; the AE baselines step out of it, never NaN."""
    cam = faulty()
    p = Perception(SMALL, cam)
    for kind, direction in (("black", 1), ("saturated", -1)):
        cam.schedule(kind)
        shot = p.capture()
        assert np.all(shot.frame.image == (0 if kind == "black" else 255)) and not p.recovery.retries
        for name in ("basler_once", "mean_luminance", "agc"):
            command = make_autoexposure(name).start(20_000.0, Measurement.of(shot.frame.image))
            assert command.exposure_us is not None and math.isfinite(command.exposure_us)
            assert (command.exposure_us - 20_000.0) * direction > 0


# -- lens faults: the absolute setting is sent again ----------------------------------------------------------------
@pytest.mark.parametrize(("kind", "error"), [("nack", CommandRejectedError), ("noreply", CameraTimeoutError),
                                             ("stuck", DeviceFaultError)])  # fmt: skip
def test_a_failed_lens_command_is_sent_again(kind: str, error: type) -> None:
    cam = faulty()
    lens = cam.lens
    assert lens is not None
    cam.schedule(kind, 3)
    rec = Recovery()
    assert set_lens(lens, 51.234, recovery=rec, sleep=lambda s: None) == pytest.approx(51.234)
    assert lens.setting == pytest.approx(51.234) and sum(rec.retries.values()) == 3 and cam.injected[kind] == 3
    cam.schedule(kind, 4)
    with pytest.raises(error, match="gave up after 4 tries"):
        set_lens(lens, 49.0, sleep=lambda s: None)


def test_a_slow_lens_is_waited_for() -> None:
    cam = FaultyCamera(faulty().inner, FaultPlan({}, slow_s=0.05))
    cam.schedule("slow")
    t0 = time.monotonic()
    assert Perception(SMALL, cam).move_lens(48.0) == pytest.approx(48.0)
    assert time.monotonic() - t0 >= 0.05 and cam.injected["slow"] == 1


def test_serial_bytes_dropped_on_the_line_are_survived() -> None:
    """The Varioptic driver on the simulated USB-M board, 2 % of the request bytes lost: the board forgets a cut
    request after a quiet line and the engine re-sends the absolute setting (the driver's own retry is off here)."""
    pytest.importorskip("serial")
    from dasha.camera.lens import VariopticLens
    from dasha.camera.twin.varioptic_board import FakeVariopticBoard

    with FakeVariopticBoard() as board:
        board.drop_rate, board.drop_seed = 0.02, 5
        lens = VariopticLens(board.port, timeout_s=0.1, settle_time_s=0.0, retries=0)  # the engine re-sends
        try:
            rec = Recovery()
            targets = np.linspace(30.0, 65.0, 25)
            for v in targets:
                set_lens(lens, float(v), recovery=rec, sleep=lambda s: None)
            assert board.dropped > 0 and rec.retries["CameraTimeoutError"] > 0 and rec.unrecovered == 0
            assert board.volts[-1] == pytest.approx(targets[-1]) and lens.setting == pytest.approx(targets[-1])
        finally:
            lens.close()


# -- unrecovered faults: reported, not blamed on the agent ---------------------------------------------------------
def test_an_unrecovered_fault_is_a_faulted_episode_not_a_failure(tmp_path: Path) -> None:
    cfg = EnvConfig(camera="faults(seed=0):sim", lens_fallback_moves=6, **SMALL)  # type: ignore[arg-type]
    policy = Policy.load(random_policy("focus", cfg, tmp_path / "focus"))
    env = FocusEnv(cfg)
    env.perception.retry = RetryPolicy(backoff_s=0.0)
    ok = run_episode(policy, env, 0, 0)
    env.world.camera.schedule("timeout", 4)  # the episode start's frame never comes
    lost = run_episode(policy, env, 1, 1)
    env.world.camera.schedule("nack", 1000)  # the lens refuses every command
    refused = run_episode(policy, env, 2, 2)
    assert ok.fault is None
    assert lost.fault is not None and "gave up after 4 tries" in lost.fault and not lost.success
    assert refused.fault is not None and "refused" in refused.fault
    env.world.camera.schedule("nack", -1000)
    assert run_episode(policy, env, 3, 3).fault is None  # the env goes on after a faulted episode
    summary = summarise([ok, lost, refused])
    assert summary["fault_rate"] == pytest.approx(2 / 3)
    assert summary["success_rate"] == float(ok.success)  # over the episodes that ran to their end
    assert json.loads(json.dumps(lost.as_dict()))["fault"] == lost.fault


def test_summarise_leaves_faulted_episodes_out_of_the_rates() -> None:
    def result(success: bool, fault: str | None = None) -> EpisodeResult:
        return EpisodeResult(0, "s", 1.0, 100.0, success, 3, 1, 2, 1e4, 50.0, 100.0, 1.0, 1.0,
                             {"paper": 4.5, "fast": 0.1}, fault=fault)  # fmt: skip

    s = summarise([result(True), result(False), result(False, "timeout"), result(False, "nack")])
    assert s["success_rate"] == 0.5 and s["fault_rate"] == 0.5 and s["mean_steps"] == 3
    assert summarise([result(False, "x")])["success_rate"] == 0.0 and summarise([])["fault_rate"] == 0.0


def test_a_bench_player_reports_a_faulted_episode() -> None:
    env = FocusEnv(EnvConfig(camera="faults(seed=0):sim", **SMALL))
    env.perception.retry = RetryPolicy(backoff_s=0.0)
    env.world.camera.schedule("stuck", 1000)
    result = AutofocusPlayer("brent", "brent").play(env, 0, 0)
    assert result.fault is not None and "stuck" in result.fault and not result.success


def test_run_exits_1_with_one_line_on_an_unrecovered_fault(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    spec = "faults(timeout=0.05,black=0.02,corrupt=0.02,stale=0.3,nack=0.05,stuck=0.05,seed=4):sim:size=128"
    assert main(["run", "--camera", spec, "--method", "brent", "--continuous", "--frames", "40", "--json",
                 str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["lens_unit"] == "V"
    capsys.readouterr()
    assert main(["run", "--camera", "faults(disconnect=0.2,outage=100,seed=1):sim:size=64", "--method", "brent",
                 "--continuous", "--frames", "200"]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gave up after 4 tries" in err[0] and err[0].startswith("dasha: error:")


def test_faults_wrap_a_replay_and_the_twin_and_the_engine_copes(tmp_path: Path) -> None:
    """The wrapper works on any SPEC: a replayed grid with grab faults, the twin with bytes lost on its serial line."""
    from dasha.camera.grid import record_grid
    from dasha.runtime.live import ClassicalTuner

    sim = make_camera("sim:size=64,distance=1.0")
    record_grid(sim, [10_000.0, 20_000.0, 40_000.0], list(np.linspace(46.0, 53.0, 15))).save(tmp_path / "g.npz")
    replay = make_camera(f"faults(timeout=0.1,corrupt=0.1,stale=0.5,nack=0.1,seed=3):replay:{tmp_path / 'g.npz'}")
    result = ClassicalTuner(replay, "brent").tune()
    assert sum(replay.injected.values()) > 0 and 46.0 <= result.lens_setting <= 53.0
    pytest.importorskip("pypylon")
    twin = make_camera("faults(drop=0.03,timeout=0.05,seed=2):twin:size=64,distance=1.0")
    try:
        tuner = ClassicalTuner(twin, "brent")
        result = tuner.tune()
        assert twin.injected["drop"] > 0
        assert twin.inner.board.volts and abs(twin.inner.board.volts[-1] - result.lens_setting) < 1e-6
        assert tuner.perception.recovery.unrecovered == 0
    finally:
        twin.close()
