"""Bench: identical episodes for every method, the JSON contract, figures, README block; paper RL envs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from gymnasium.utils.env_checker import check_env

from dasha.agents.export import random_policy
from dasha.baselines.paper_rl import PhaseShiftFocusEnv, TenFocusEnv
from dasha.bench.suites import BenchOptions, run_method_suite, run_suite, update_readme
from dasha.cli import main
from dasha.envs import EnvConfig
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES

CONTRACT_KEYS = {"success_rate", "mean_steps", "p95_steps", "ms_per_step", "rig_seconds"}


def test_af_suite_contract_and_identical_episodes(tmp_path: Path) -> None:
    opts = BenchOptions(episodes=4, seed=3, methods=["brent", "golden", "sweep"], policies=tmp_path, plots=tmp_path)
    doc = run_suite("af", opts, json_out=tmp_path / "af.json")
    assert doc["suite"] == "af" and doc["episodes"] == 4 and doc["seed"] == 3
    assert set(doc["methods"]) == {"brent", "golden", "sweep"}
    for m in doc["methods"].values():
        assert CONTRACT_KEYS <= set(m) and set(m["rig_seconds"]) == {"paper", "fast"}
    assert doc["methods"]["sweep"]["mean_steps"] == pytest.approx(48.0)  # 47 positions + the move to the best
    assert json.loads((tmp_path / "af.json").read_text())["methods"]["brent"] == doc["methods"]["brent"]
    assert (tmp_path / "af.png").stat().st_size > 5000 and "| brent |" in (tmp_path / "results.md").read_text()


def test_every_method_sees_the_same_episode(tmp_path: Path) -> None:
    from dasha.bench.runner import AutofocusPlayer
    from dasha.bench.suites import suite_config
    from dasha.envs.focus import FocusEnv

    cfg = suite_config("af", BenchOptions())
    starts = []
    for name in ("brent", "hill_climb"):
        env = FocusEnv(cfg.replace(size=96))
        result = AutofocusPlayer(name).play(env, seed=11, index=0)
        starts.append((result.scene, result.distance_m, result.lux, result.first.tobytes()))
    assert starts[0] == starts[1]


def test_rl_policies_join_the_suite_and_missing_ones_are_noted(tmp_path: Path) -> None:
    random_policy("exposure", EnvConfig(), tmp_path / "exposure")
    opts = BenchOptions(episodes=3, seed=0, methods=["dasha", "mean_luminance"], policies=tmp_path, plots=tmp_path)
    doc = run_suite("ae", opts)
    assert set(doc["methods"]) == {"dasha", "mean_luminance"}
    assert "ae/dasha_paper" in doc["notes"]


def test_readme_block_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "results.md").write_text("| a | b |\n")
    (tmp_path / "plots" / "af.png").write_bytes(b"png")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n")
    update_readme(readme, tmp_path / "plots", "dasha bench all")
    text = readme.read_text()
    assert "old" not in text and "| a | b |" in text and "![af](plots/af.png)" in text and text.endswith("tail\n")


def test_bench_cli_rejects_unknown_suite_and_method(tmp_path: Path) -> None:
    assert main(["bench", "nope", "--plots", str(tmp_path)]) == 2
    assert main(["bench", "af", "--methods", "telepathy", "--episodes", "1", "--plots", str(tmp_path)]) == 2


@pytest.mark.parametrize("env_class", [PhaseShiftFocusEnv, TenFocusEnv])
def test_paper_rl_envs_pass_the_gymnasium_checker(env_class: type) -> None:
    env = env_class({"size": 96})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)


def test_ten_rl_reference_sweep_counts_as_steps() -> None:
    env = TenFocusEnv({"size": 96})
    env.reset(seed=0)
    assert len(env.task.frames) == 1 + 47 + 1  # free frame, the reference sweep, the return to the start


def test_a_policy_runs_in_the_suite_world_with_its_own_observation_settings(tmp_path: Path) -> None:
    from dasha.agents.policy import Policy
    from dasha.bench.runner import PolicyPlayer
    from dasha.bench.suites import env_for, suite_config
    from dasha.envs import EVAL_SCENES

    agent = EnvConfig(mode="ours", best_by="sharpness", lens_horizon=7, goal_blur_px=1.5, scenes=("camera",))
    random_policy("focus", agent, tmp_path / "pol")
    player = PolicyPlayer("dasha", Policy.load(tmp_path / "pol"))
    env = env_for(player, "af", suite_config("af", BenchOptions()))
    cfg = getattr(env, "unwrapped", env).task.config
    assert (cfg.best_by, cfg.lens_horizon) == ("sharpness", 7)  # the policy's observations and horizon
    assert (cfg.scenes, cfg.goal_blur_px, cfg.detector) == (EVAL_SCENES, 2.0, "in-focus")  # the suite's world


def test_dasha_policy_is_the_same_policy_with_its_safety_nets_off(tmp_path: Path) -> None:
    from dasha.bench.suites import env_for, players, suite_config

    random_policy("joint", EnvConfig(detector="in-focus"), tmp_path / "joint")
    opts = BenchOptions(episodes=2, methods=["dasha", "dasha_policy"], policies=tmp_path)
    found = players("joint", opts)
    assert set(found) == {"dasha", "dasha_policy"}
    assert found["dasha"].policy.path == found["dasha_policy"].policy.path  # one policy directory
    cfg = suite_config("joint", opts)
    nets = {name: env_for(p, "joint", cfg).task.config for name, p in found.items()}
    budgets = {name: (c.lens_fallback_moves, c.bracket_moves) for name, c in nets.items()}
    assert budgets == {"dasha": (EVAL_FALLBACK_MOVES, EVAL_BRACKET_MOVES), "dasha_policy": (0, 0)}
    doc, _ = run_method_suite("joint", opts)
    assert set(doc["methods"]) == {"dasha", "dasha_policy"}
