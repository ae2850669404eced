"""The one episode engine: the live tuner plays the env's episode, the driven device's calibration and limits rule,
and `dasha run` runs every controller on any camera."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dasha.agents.evaluate import eval_config, run_episode
from dasha.agents.export import random_policy
from dasha.agents.policy import Policy
from dasha.baselines.loops import EXPOSURE_METHODS, FOCUS_METHODS
from dasha.bench.runner import AutofocusPlayer, JointBaselinePlayer, OraclePlayer
from dasha.camera.base import Lens, Limits
from dasha.camera.sim import Scene, SimCamera, SimLens
from dasha.cli import main
from dasha.envs import EnvConfig
from dasha.envs.focus import FocusEnv
from dasha.envs.hierarchical import HierarchicalCameraEpisode
from dasha.envs.world import SimWorld
from dasha.runtime.live import ClassicalTuner, LiveTuner


def _commands(frames: list) -> list[tuple[float, float | None]]:
    return [(f.exposure_us, f.lens_v) for f in frames]


@pytest.mark.parametrize("task", ["joint", "focus"])
def test_live_tuner_plays_the_same_commands_as_the_env_episode(task: str) -> None:
    """Parity: on a simulated camera in the same state, LiveTuner (perception + phases + policy, no world) sends
    exactly the commands the evaluation env's episode sends, nets included (6 seeds each)."""
    policy = Policy.shipped(task)
    cfg = eval_config(policy)
    env = HierarchicalCameraEpisode(cfg) if task == "joint" else FocusEnv(cfg)
    long_episodes = 0
    for seed in range(6):
        run_episode(policy, env, seed, 0)
        played = _commands(env.perception.frames)
        world = SimWorld(cfg)
        tuner = LiveTuner(world.camera, policy, detector=cfg.detector if task == "joint" else None)
        needs = tuner.perception.detector is not None
        first = world.reset(np.random.default_rng(seed), tuner.perception, needs_detection=needs,
                            oracle_exposure=task == "focus")  # fmt: skip
        result = tuner.tune(start=first)
        assert _commands(tuner.perception.frames) == played, seed
        assert result.exposure_moves + result.lens_moves == len(played) - 1
        long_episodes += len(played) > 3
    assert long_episodes >= 2  # the comparison covers real lens phases (≥ 3 moves), not only a jump and a stop


def test_run_on_an_f56_camera_focuses_with_the_f56_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`dasha run --camera "sim:fnumber=5.6,distance=0.5"`: the focus fit uses the driven camera's f/5.6 optics."""
    import dasha.envs.perception as perception_module

    seen: list[float] = []
    real = perception_module.fit_focus

    def spy(volts, log_blur, optics, curve, vergence):  # type: ignore[no-untyped-def]
        seen.append(optics.f_number)
        return real(volts, log_blur, optics, curve, vergence)

    monkeypatch.setattr(perception_module, "fit_focus", spy)
    out = tmp_path / "run.json"
    assert main(["run", "--camera", "sim:fnumber=5.6,distance=0.5", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert seen and set(seen) == {5.6}
    assert doc["truth"]["blur_px"] <= 2.0 and doc["lens_unit"] == "V" and doc["lens_setting"] == doc["lens_v"]
    assert doc["moves"] == doc["exposure_moves"] + doc["lens_moves"] and doc["exposure_us"] > 0


NARROW = Limits(47.0, 51.0, "V", 0.001)
"""Narrower than the agents' start range (46–53 V) and than the 24–70 V every action space assumes."""


def _narrow_camera(commands: list[float], monkeypatch: pytest.MonkeyPatch, size: int = 128) -> SimCamera:
    real = SimLens._do_set_setting

    def record(self: SimLens, value: float) -> None:
        commands.append(value)
        real(self, value)

    monkeypatch.setattr(SimLens, "_do_set_setting", record)
    return SimCamera(Scene.from_names("astronaut", "grass"), size=size, lens_limits=NARROW)


def test_a_narrow_lens_never_gets_an_out_of_range_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Policies (ours and paper mode), every AF baseline and dfd, the safety nets and the oracle all stay inside
    the driven lens's limits (the public layer would raise OutOfRangeError otherwise)."""
    commands: list[float] = []
    small = {
        "size": 128,
        "scenes": ("astronaut",),
        "backgrounds": ("grass",),
        "lux": (20.0, 500.0),
        "distance_m": (0.4, 5.0),
    }  # focusable inside 47–51 V
    # ours and paper agents, random-init, through the envs (the nets on)
    for mode in ("ours", "paper"):
        cfg = EnvConfig(mode=mode, detector="estimated-focus", lens_fallback_moves=6, **small)  # type: ignore[arg-type]
        policy = Policy.load(random_policy("focus", cfg, tmp_path / f"focus-{mode}"))
        env = FocusEnv(cfg, camera=_narrow_camera(commands, monkeypatch))
        for seed in range(3):
            run_episode(policy, env, seed, 0)
    joint_cfg = EnvConfig(detector="haar-face", lens_fallback_moves=6, bracket_moves=3, **{**small, "size": 256})
    joint = Policy.load(random_policy("joint", joint_cfg, tmp_path / "joint"))
    env = HierarchicalCameraEpisode(joint_cfg, camera=_narrow_camera(commands, monkeypatch, 256))
    for seed in range(3):
        run_episode(joint, env, seed, 0)
    # every classical lens method, alone and with the nets, and the oracle, on the same kind of camera
    focus_env = FocusEnv(EnvConfig(detector="estimated-focus", **small), camera=_narrow_camera(commands, monkeypatch))
    for method in FOCUS_METHODS:
        for nets in (False, True):
            AutofocusPlayer(method, method, nets).play(focus_env, 5, 0)
    JointBaselinePlayer("j", "mean_luminance", "dfd", nets=True).play(env, 6, 0)
    OraclePlayer(lens_steps=8).play(env, 7, 0)
    # and live, on a camera that stands in for a hardware one
    cam = _narrow_camera(commands, monkeypatch)
    cam.lens.set_voltage(47.0)
    LiveTuner(cam, Policy.shipped("joint")).tune()
    for method in ("sweep", "dfd+nets"):
        ClassicalTuner(cam, method).tune()
    assert len(commands) > 100
    assert all(NARROW.low <= v <= NARROW.high for v in commands), (min(commands), max(commands))


@pytest.mark.parametrize("method", [*FOCUS_METHODS, *EXPOSURE_METHODS, "mean_luminance+brent+nets"])
def test_run_drives_any_camera_with_any_classical_method(method: str, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    assert main(["run", "--camera", "sim:distance=0.8,lux=80", "--method", method, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["controller"] == method and doc["lens_unit"] == "V"
    if method in FOCUS_METHODS or "+" in method:
        assert doc["lens_moves"] >= 1 and doc["truth"]["blur_px"] <= 2.0, doc
    else:
        assert doc["lens_moves"] == 0 and doc["exposure_moves"] >= 0


def test_run_refuses_bad_controllers_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--camera", "sim", "--method", "nope"]) == 2
    assert main(["run", "--camera", "sim", "--method", "brent", "--policy", "x"]) == 2
    assert main(["run", "--camera", "sim", "--lens", "sim:low=30,high=60"]) == 2  # the simulator has its own lens
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "unknown method 'nope'" in err[0] and "lens_low" in err[2]


class _MilliampOnSim(Lens):
    """A current-driven lens (0–300 mA, P = −2 dpt + 0.04 dpt/mA) that really moves the simulator's optics: each
    command sets the simulated liquid lens to the same optical power."""

    def __init__(self, sim: SimCamera) -> None:
        from tests.test_contracts import LinearMilliampCurve

        self.limits = Limits(0.0, 300.0, "mA", resolution=0.1)
        self.curve = LinearMilliampCurve()
        self.settle_time_s = 0.0
        self._sim, self._ma = sim, 100.0
        self.sent: list[float] = []

    def _do_set_setting(self, value: float) -> None:
        self.sent.append(value)
        self._ma = value
        self._sim.lens.set_voltage(self._sim.lens.curve.drive(self.curve.power(value)))

    def _do_get_setting(self) -> float:
        return self._ma


@pytest.mark.parametrize("method", ["brent", "dfd+nets"])
def test_classical_methods_focus_a_lens_driven_in_milliamps(method: str) -> None:
    """Unit-neutral lens: an AF baseline and dfd search in mA through the lens's own curve, within its limits."""
    from dasha.camera.compose import CameraWithLens

    sim = SimCamera(Scene.from_names("astronaut", "grass", object_distance_m=0.8), size=256, exposure_us=20_000)
    lens = _MilliampOnSim(sim)
    cam = CameraWithLens(sim, lens)
    result = ClassicalTuner(cam, method).tune()
    assert result.lens_unit == "mA" and result.lens_v is None and 0 <= result.lens_setting <= 300
    assert lens.sent and all(0.0 <= v <= 300.0 for v in lens.sent)
    target_ma = lens.curve.drive(sim.optics.in_focus_power(1 / 0.8))
    blur_px = abs(lens.curve.power(result.lens_setting) - lens.curve.power(target_ma)) * sim.optics.px_per_diopter
    assert blur_px <= 2.0, (result.lens_setting, target_ma)


def test_a_replayed_grid_reports_the_optics_it_was_recorded_with(tmp_path: Path) -> None:
    """Replay is a camera like the others: it reports its calibration, so `dasha run --method` runs on it."""
    from dasha.camera import make_camera
    from dasha.camera.grid import record_grid

    cam = make_camera("sim:size=64,fnumber=4,distance=1.0")
    record_grid(cam, [5_000.0, 20_000.0, 80_000.0], list(np.linspace(46.0, 53.0, 29))).save(tmp_path / "g.npz")
    replay = make_camera(f"replay:{tmp_path / 'g.npz'}")
    assert replay.optics == cam.optics and replay.optics.f_number == 4.0
    out = tmp_path / "run.json"
    assert main(["run", "--camera", f"replay:{tmp_path / 'g.npz'}", "--method", "brent", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["lens_unit"] == "V" and 46.0 <= doc["lens_setting"] <= 53.0 and doc["truth"]["blur_px"] <= 2.0


def test_run_log_records_every_command_and_ctrl_c_leaves_the_lens_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.jsonl"
    assert main(["run", "--camera", "sim:lens=49", "--method", "brent", "--log", str(log)]) == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    events = [e["event"] for e in entries]
    assert events.count("lens") >= 5 and "capture" in events and events[-1] == "result"
    assert all(e["t"] > 0 for e in entries) and all(e["unit"] == "V" for e in entries if e["event"] == "lens")

    def interrupted(self, start):  # type: ignore[no-untyped-def]
        self.camera.lens.set_setting(55.0)  # a move in flight when Ctrl-C arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassicalTuner, "_run", interrupted)
    log.unlink()
    assert main(["run", "--camera", "sim:lens=49", "--method", "brent", "--log", str(log)]) == 130
    lens_moves = [e["setting"] for e in map(json.loads, log.read_text().splitlines()) if e["event"] == "lens"]
    assert lens_moves == [55.0, 49.0]  # back at the last good setting
