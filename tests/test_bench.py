"""Bench: identical episodes for every method, the JSON contract, like-with-like setups, honest success, figures,
README block; paper RL envs."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dasha.agents.evaluate import EpisodeResult, summarise, wilson_interval
from dasha.agents.export import random_policy
from dasha.baselines.paper_rl import PhaseShiftFocusEnv, TenFocusEnv
from dasha.bench.suites import (
    BenchOptions,
    Job,
    env_for,
    group_of,
    make_player,
    method_names,
    run_job,
    run_suite,
    suite_config,
    update_readme,
)
from dasha.cli import main
from dasha.envs import EnvConfig
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES

CONTRACT_KEYS = {"success_rate", "mean_steps", "p95_steps", "ms_per_step", "rig_seconds"}


def test_af_suite_contract_and_identical_episodes(tmp_path: Path) -> None:
    opts = BenchOptions(episodes=4, seed=3, methods=["brent", "golden", "sweep", "brent+nets"], policies=tmp_path,
                        plots=tmp_path, workers=1)  # fmt: skip
    doc = run_suite("af", opts, json_out=tmp_path / "af.json")
    assert doc["suite"] == "af" and doc["episodes"] == 4 and doc["seed"] == 3 and doc["domain"] == "wide"
    assert set(doc["methods"]) == {"brent", "golden", "sweep", "brent+nets"}
    for m in doc["methods"].values():
        assert CONTRACT_KEYS <= set(m) and set(m["rig_seconds"]) == {"paper", "fast"}
        lo, hi = m["success_ci95"]
        assert lo <= m["success_rate"] <= hi
    assert doc["methods"]["sweep"]["mean_steps"] == pytest.approx(48.0)  # 47 positions + the move to the best
    assert doc["methods"]["brent"]["group"] == "alone" and doc["methods"]["brent+nets"]["group"] == "nets"
    assert json.loads((tmp_path / "af.json").read_text())["methods"]["brent"] == doc["methods"]["brent"]
    md = (tmp_path / "results.md").read_text()
    assert (tmp_path / "af.png").stat().st_size > 5000 and "| brent |" in md
    assert md.index("methods alone") < md.index("| brent |") < md.index("safety nets") < md.index("| brent+nets |")


def test_every_method_sees_the_same_episode() -> None:
    cfg = suite_config("af", BenchOptions()).replace(size=96)
    starts = []
    for name in ("brent", "hill_climb", "dfd+nets"):
        (_, [result]) = run_job(Job("af", name, cfg, 1, 11, Path("none")))
        starts.append((result.scene, result.background, result.distance_m, result.lux))
    assert starts[0] == starts[1] == starts[2]


def test_held_out_means_objects_and_backgrounds_no_training_used() -> None:
    """Evaluation photos are disjoint from every training list: policies, paper baselines, blur estimators, and the
    photos every shipped policy records it was trained on."""
    from dasha.envs.config import EVAL_BACKGROUNDS, EVAL_SCENES, TRAIN_BACKGROUNDS, TRAIN_FACE_SCENES, TRAIN_SCENES
    from dasha.vision.blur_estimator import TRAIN_TEXTURES

    held_out = set(EVAL_SCENES) | set(EVAL_BACKGROUNDS)
    for used in (TRAIN_SCENES, TRAIN_BACKGROUNDS, TRAIN_FACE_SCENES, TRAIN_TEXTURES):
        assert held_out.isdisjoint(used), held_out & set(used)
    cfg = suite_config("af", BenchOptions())
    assert set(cfg.scenes) == set(EVAL_SCENES) and set(cfg.backgrounds) == set(EVAL_BACKGROUNDS)
    for meta in sorted((Path(__file__).resolve().parents[1] / "policies").glob("*/policy.json")):
        env = json.loads(meta.read_text())["env"]
        assert held_out.isdisjoint(env["scenes"]) and held_out.isdisjoint(env["backgrounds"]), meta


def test_rl_policies_join_the_suite_and_missing_ones_are_noted(tmp_path: Path) -> None:
    random_policy("exposure", EnvConfig(), tmp_path / "exposure")
    opts = BenchOptions(episodes=3, seed=0, methods=["dasha", "dasha_paper", "mean_luminance"], policies=tmp_path,
                        plots=tmp_path, workers=1)  # fmt: skip
    doc = run_suite("ae", opts)
    assert set(doc["methods"]) == {"dasha", "mean_luminance"}
    assert "dasha_paper" in doc["notes"]
    assert 0.0 <= doc["methods"]["mean_luminance"]["object_clipped_fraction"] <= 1.0  # beside the histogram rule


def test_readme_block_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "results.md").write_text("| a | b |\n")
    (tmp_path / "plots" / "af.png").write_bytes(b"png")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n")
    update_readme(readme, tmp_path / "plots", "dasha bench all")
    text = readme.read_text()
    assert "old" not in text and "| a | b |" in text and "![af](plots/af.png)" in text and text.endswith("tail\n")


def test_readme_results_block_matches_the_shipped_results() -> None:
    """The README's results block is exactly what `docs/results` holds (results.md and every figure there), and
    every rate it prints for af/ae/joint is the one in the JSON next to it."""
    from dasha.bench.suites import README_END, README_START, pct

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    block = text[text.index(README_START) : text.index(README_END)]
    results = root / "docs" / "results"
    assert (results / "results.md").read_text() in block
    for png in results.glob("*.png"):
        assert f"(docs/results/{png.name})" in block, png.name
    for path in results.glob("*.json"):
        doc = json.loads(path.read_text())
        for name, m in doc.get("methods", {}).items() if doc.get("suite") in ("af", "ae", "joint") else ():
            assert f"| {name} | {pct(m['success_rate'], m['success_ci95'])} |" in block, (path.name, name)


def test_bench_cli_rejects_unknown_suite_method_and_domain(tmp_path: Path) -> None:
    assert main(["bench", "nope", "--plots", str(tmp_path)]) == 2
    assert main(["bench", "af", "--methods", "telepathy", "--episodes", "1", "--plots", str(tmp_path)]) == 2
    assert main(["bench", "af", "--domain", "moon", "--episodes", "1", "--plots", str(tmp_path)]) == 2


@pytest.mark.parametrize("env_class", [PhaseShiftFocusEnv, TenFocusEnv])
def test_paper_rl_envs_pass_the_gymnasium_checker(env_class: type) -> None:
    env = env_class({"size": 96})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)


def test_ten_rl_reference_sweep_counts_as_steps() -> None:
    env = TenFocusEnv({"size": 96})
    env.reset(seed=0)
    assert len(env.perception.frames) == 1 + 47 + 1  # free frame, the reference sweep, the return to the start


def test_phase_shift_rl_stops_itself_never_on_its_reference() -> None:
    env = PhaseShiftFocusEnv({"size": 96, "start_lens_v": 49.0})
    env.reset(seed=0)
    cam = env.world.camera
    cam.lens.set_voltage(cam.in_focus_voltage() - 0.04)
    env._step = env.perception.capture()
    _, _, terminated, truncated, _ = env.step(21)  # the smallest move up: in focus, yet it goes on
    assert not terminated and not truncated
    _, reward, terminated, _, _ = env.step(0)  # its own stop ends it; the reference only scores it
    assert terminated and reward == 1.0
    env.reset(seed=0)
    cam.lens.set_voltage(cam.in_focus_voltage() + 3.0)
    _, reward, terminated, _, _ = env.step(0)  # a stop far from focus costs what the saved moves would have
    assert terminated and reward == pytest.approx(-1.0 - env.horizon * 3.0 / env.error_scale_v, rel=1e-3)


def test_a_policy_runs_in_the_suite_world_with_its_own_observation_settings(tmp_path: Path) -> None:
    from dasha.envs import EVAL_SCENES

    agent = EnvConfig(mode="ours", best_by="sharpness", lens_horizon=7, goal_blur_px=1.5, scenes=("camera",))
    random_policy("focus", agent, tmp_path / "focus")
    player = make_player("af", "dasha", tmp_path)
    env = env_for(player, "af", suite_config("af", BenchOptions()))
    cfg = getattr(env, "unwrapped", env).config
    assert (cfg.best_by, cfg.lens_horizon) == ("sharpness", 7)  # the policy's observations and horizon
    assert (cfg.scenes, cfg.goal_blur_px, cfg.detector) == (EVAL_SCENES, 2.0, "estimated-focus")  # the suite's world


@pytest.mark.parametrize("name", ["dfd", "brent", "dasha_policy", "mean_luminance", "metered_jump+dfd"])
def test_ms_per_step_counts_each_computation_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every feature costs a known (fake) time: an episode's compute is exactly their sum, however the method nests
    them (a feature read inside a decision, the descriptor shared by the defocus estimate, an observation built
    from features) — nothing counted twice, nothing left out."""
    import dasha.baselines.loops as loops
    import dasha.envs.clock as clock_module
    import dasha.envs.perception as perception_module
    from dasha.vision.encoders import DescriptorEncoder

    now = [0.0]
    calls: dict[str, int] = {}
    costs = {"features": 0.25, "defocus": 1.0, "tenengrad": 0.125, "fit": 0.0625, "measurement": 0.5}

    def costly(key: str, fn: object) -> object:
        def timed(*args: object, **kwargs: object) -> object:
            calls[key] = calls.get(key, 0) + 1
            out = fn(*args, **kwargs)  # type: ignore[operator]
            now[0] += costs[key]
            return out

        return timed

    class FakeTime:
        @staticmethod
        def perf_counter() -> float:
            return now[0]

    monkeypatch.setattr(clock_module, "time", FakeTime)
    monkeypatch.setattr(DescriptorEncoder, "_encode", costly("features", DescriptorEncoder._encode))
    monkeypatch.setattr(perception_module, "defocus_estimate", costly("defocus", perception_module.defocus_estimate))
    monkeypatch.setattr(perception_module, "tenengrad", costly("tenengrad", perception_module.tenengrad))
    monkeypatch.setattr(perception_module, "fit_focus", costly("fit", perception_module.fit_focus))
    of = loops.Measurement.of
    monkeypatch.setattr(loops.Measurement, "of", staticmethod(costly("measurement", of)))
    suite = "joint" if "+" in name else "ae" if name == "mean_luminance" else "af"
    player = make_player(suite, name, Path(__file__).resolve().parents[1] / "policies")
    env = env_for(player, suite, suite_config(suite, BenchOptions()))
    for i in range(3):
        calls.clear()
        result = player.play(env, 11 + i, i)
        expected = sum(costs[k] * n for k, n in calls.items())
        assert calls and result.ms_per_step * (result.steps + 1) == pytest.approx(1e3 * expected, abs=1e-6)


def test_nets_are_given_to_every_pipeline_alike(tmp_path: Path) -> None:
    """`dasha` is `dasha_policy` with the deployed nets; every classical pipeline has a `+nets` row with the very
    same budgets; the rows without the suffix run with none."""
    random_policy("joint", EnvConfig(detector="in-focus"), tmp_path / "joint")
    cfg = suite_config("joint", BenchOptions())
    budgets = {}
    names = ("dasha", "dasha_policy", "mean_luminance+brent", "mean_luminance+brent+nets", "mean_luminance+dfd+nets")
    for name in names:
        player = make_player("joint", name, tmp_path)
        c = env_for(player, "joint", cfg).config
        budgets[name] = (getattr(player, "nets", False), c.lens_fallback_moves, c.bracket_moves)
    on, off = (True, EVAL_FALLBACK_MOVES, EVAL_BRACKET_MOVES), (False, 0, 0)
    assert budgets == {"dasha": on, "dasha_policy": off, "mean_luminance+brent": off,
                       "mean_luminance+brent+nets": on, "mean_luminance+dfd+nets": on}  # fmt: skip
    deployed, alone = make_player("joint", "dasha", tmp_path), make_player("joint", "dasha_policy", tmp_path)
    assert deployed.policy.path == alone.policy.path  # one policy directory
    for suite in ("af", "joint"):
        names = method_names(suite)
        alone = [n for n in names if group_of(n) == "alone"]
        nets = [n for n in names if group_of(n) == "nets"]
        assert {n + "+nets" for n in alone if n not in ("dasha_policy", "dasha_paper", "phase_shift_rl", "ten_rl")} \
            <= set(nets), suite  # fmt: skip
        assert names.index(nets[0]) > max(names.index(n) for n in alone)  # methods alone first


def test_joint_success_means_detected_and_in_focus() -> None:
    """A detector that fires on a blurred frame gives a detection, not a success."""
    from dasha.agents.evaluate import judge
    from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv

    env = HierarchicalCameraEnv({"scenes": ("astronaut",), "backgrounds": ("motorcycle",)})
    env.reset(seed=1)
    perception = env.perception
    perception.detection = lambda shot: (0.0, 0.0, 1.0, 1.0)  # type: ignore[method-assign]  # "always found"
    cam = env.world.camera
    cam.lens.set_voltage(cam.in_focus_voltage() + 1.0)  # ≈ 17 px of blur
    perception.capture()
    assert judge(perception, "joint") == (False, True, False)
    cam.lens.set_voltage(cam.in_focus_voltage())
    perception.capture()
    assert judge(perception, "joint") == (True, True, True)


def test_a_detection_counts_only_on_the_object() -> None:
    from dasha.envs.perception import Perception, on_object
    from dasha.envs.world import SimWorld

    assert on_object((10, 10, 20, 20), (0, 0, 100, 100)) and not on_object((90, 90, 120, 120), (0, 0, 100, 100))
    cfg = {"scenes": ("astronaut",), "backgrounds": ("brick",), "detector": "haar-face"}
    world = SimWorld(cfg)
    perception = Perception(cfg, world.camera)
    world.camera.set_scene(world.sample_scene(np.random.default_rng(5)))

    class Background:  # a detector that finds a "face" in a corner of the background only
        def detect(self, image: np.ndarray) -> list:
            from dasha.vision.detectors.base import Box

            return [Box(0.0, 0.0, 12.0, 12.0, 1.0, "face")]

    perception.__dict__["detector"] = Background()
    assert not world._find_reference_boxes(perception)


def test_rates_carry_wilson_intervals_and_rig_time_counts_successes_only() -> None:
    lo, hi = wilson_interval(195, 200)
    assert lo == pytest.approx(0.9427, abs=1e-3) and hi == pytest.approx(0.9893, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0

    def result(success: bool, paper_s: float) -> EpisodeResult:
        return EpisodeResult(0, "x", 1.0, 100.0, success, 1, 0, 1, 1e4, 49.0, 100.0, 1.0, 1.0,
                             {"paper": paper_s, "fast": paper_s / 100})  # fmt: skip

    summary = summarise([result(True, 4.5), result(False, 45.0)])
    assert summary["success_rate"] == 0.5 and summary["rig_seconds"]["paper"] == 4.5  # the failure not averaged in
    assert summarise([result(False, 4.5)])["rig_seconds"] == {"paper": None, "fast": None}


def test_af_tolerance_follows_the_success_criterion() -> None:
    """The AF baselines stop at the in-focus half-width: 2 px / (px per dpt · dpt per V), from the camera."""
    from dasha.baselines.loops import af_params
    from dasha.camera.sim import Scene, SimCamera
    from dasha.envs.perception import Perception

    cam = SimCamera(Scene.from_names("camera", "grass"), size=96)
    perception = Perception({"size": 96}, cam)
    assert af_params(perception).tol_v == pytest.approx(2.0 / perception.optics.px_per_diopter, rel=0.02)  # ≈ 0.12 V
    cam.set_f_number(5.6)
    assert af_params(perception).tol_v == pytest.approx(2 * 2.0 / (0.016**2 / (2.8 * 5.5e-6)), rel=0.02)  # follows N


def test_calibration_is_read_from_the_driven_camera_and_its_error_only_in_the_belief() -> None:
    from dasha.camera.sim import Scene, SimCamera
    from dasha.envs.perception import Perception

    cam = SimCamera(Scene.from_names("camera", "grass"), size=96)
    perception = Perception({"size": 96, "calibration_error": (0.5, 0.0)}, cam)
    cam.set_f_number(5.6)
    assert perception.optics.f_number == 5.6  # follows the camera, not the f/2.8 it started with
    true = cam.lens.curve
    assert perception.lens_curve.power(50.0) == pytest.approx(true.power(50.0) + 0.5)  # the controllers' belief
    assert cam.lens.curve is true  # the world stays true
    assert math.isclose(perception.lens_curve.voltage(true.power(50.0) + 0.5), 50.0, abs_tol=1e-6)


def test_calibration_suite_perturbs_the_belief(tmp_path: Path) -> None:
    from dasha.bench.suites import CALIBRATION_ERRORS, calibration

    doc = calibration(BenchOptions(episodes=4, seed=0, methods=["dfd"], policies=tmp_path, workers=1))
    assert doc["perturbations"][0] == "exact" and len(doc["methods"]["dfd"]["success_rate"]) == len(CALIBRATION_ERRORS)
    cfg = suite_config("af", BenchOptions())
    exact = summarise(run_job(Job("af", "dfd", cfg, 8, 0, tmp_path))[1])
    wrong = summarise(run_job(Job("af", "dfd", cfg.replace(calibration_error=(0.0, 0.3)), 8, 0, tmp_path))[1])
    assert wrong["success_rate"] < exact["success_rate"] and wrong["mean_steps"] > exact["mean_steps"]


def test_paper_domain_draws_the_papers_world() -> None:
    from dasha.envs.config import FACTORY_EXPOSURE_US, FACTORY_LENS_V
    from dasha.envs.perception import Perception
    from dasha.envs.world import SimWorld

    cfg = suite_config("joint", BenchOptions(domain="paper"))
    assert cfg.distance_m == (1.4, 2.0) and cfg.lux == (13.0, 300.0) and cfg.lux_schedule == "paper-ramp"
    world = SimWorld(cfg.replace(size=96, detector="in-focus"))
    first = world.reset(np.random.default_rng(0), Perception(world.config, world.camera))
    assert first.frame.exposure_us == FACTORY_EXPOSURE_US and first.frame.lens_v == FACTORY_LENS_V
    lux = {world.sample_lux(np.random.default_rng(s)) for s in range(400)}
    assert lux <= {*np.arange(13.0, 300.0, 10.0), 300.0} and min(lux) == 13.0 and max(lux) == 300.0
