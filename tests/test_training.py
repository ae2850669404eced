"""RLlib training for real (small): learning beats random, per-module γ, checkpoints and --resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dasha.agents.evaluate import evaluate
from dasha.agents.policy import Policy
from dasha.agents.train import TrainOptions, read_metrics, train
from dasha.envs.config import EVAL_SCENES

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TINY = "[ppo]\ntrain_batch_size = 400\nminibatch_size = 100\nnum_epochs = 4\n[env]\nsize = 96\n"


@pytest.fixture(scope="module", autouse=True)
def ray_session():  # type: ignore[no-untyped-def]
    import ray

    from dasha.agents.rllib import init_ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return path


def random_policy_success(task: str, episodes: int, seed: int) -> float:
    """Success of uniformly random actions in the same evaluation episodes (ours mode, stop included)."""
    from dasha.agents.evaluate import make_env
    from dasha.envs.config import EnvConfig

    env = make_env(task, EnvConfig(size=96, scenes=EVAL_SCENES, detector="in-focus"))
    rng = np.random.default_rng(seed)
    wins = 0
    for i in range(episodes):
        env.reset(seed=seed * 100_003 + i)
        env.action_space.seed(int(rng.integers(2**31)))
        done = False
        while not done:
            _, _, term, trunc, info = env.step(env.action_space.sample())
            done = term or trunc
        wins += bool(info["success"])
    return wins / episodes


def test_exposure_training_beats_random(tmp_path: Path) -> None:
    """A few thousand PPO steps on the exposure task already beat random actions on held-out photos (with the
    learning rate and entropy bonus annealed over the run)."""
    text = TINY.replace("[env]", "anneal_steps = 6000\n[env]")
    run = train(TrainOptions("exposure", "fast", timesteps=6000, out=tmp_path / "run", config=_config(tmp_path, text)))
    policy = Policy.load(run / "policy")
    cfg = policy.env_config(scenes=EVAL_SCENES)
    summary, _ = evaluate(policy, episodes=60, seed=1, config=cfg)
    baseline = random_policy_success("exposure", 60, seed=1)
    assert summary["success_rate"] >= baseline + 0.25, (summary, baseline)
    assert (run / "learning_curve.png").stat().st_size > 5000
    assert list((run / "tb").glob("events.out.tfevents.*"))
    rows = read_metrics(run)
    assert rows[-1]["env_steps"] >= 6000 and rows[-1]["success_rate"] is not None
    lr = [r[k] for r in rows for k in r if k.endswith("/lr")]
    ent = [r[k] for r in rows for k in r if k.endswith("/curr_entropy_coeff")]
    assert lr[0] > lr[-1] >= 1e-4 - 1e-9 and ent[0] > ent[-1] >= 0.0  # annealed towards 10 % and 0


def test_low_level_value_targets_equal_rewards_with_gamma_zero(tmp_path: Path) -> None:
    """The paper's γ_L = 0 really applies (stock RLlib 2.60 PPO would use one global γ)."""
    from ray.rllib.core.columns import Columns
    from ray.rllib.evaluation.postprocessing import Postprocessing

    from dasha.agents.learner import HierPPOTorchLearner
    from dasha.agents.rllib import RunSpec, build_config

    probes: dict[str, list[float]] = {}

    class ProbeLearner(HierPPOTorchLearner):
        def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> Any:
            diff = (batch[Postprocessing.VALUE_TARGETS] - batch[Columns.REWARDS]).abs()
            mask = batch.get(Columns.LOSS_MASK)
            if mask is not None:
                diff = diff * mask
            self.metrics.log_value((module_id, "vt_minus_r_max"), float(diff.max()), window=1)
            return super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)

    spec = RunSpec.build(
        "joint",
        "paper",
        {"ppo": {"train_batch_size": 256, "num_epochs": 1}, "env": {"size": 96, "scenes": ["camera"]}},
        detector="in-focus",
    )
    assert spec.ppo.gamma_high == 0.99 and spec.ppo.gamma_low == 0.0
    algo = build_config(spec).learners(learner_class=ProbeLearner).build_algo()
    try:
        for _ in range(2):
            result = algo.train()
            for mid in ("high_level", "low_level"):
                if mid in result["learners"] and "vt_minus_r_max" in result["learners"][mid]:
                    probes.setdefault(mid, []).append(float(result["learners"][mid]["vt_minus_r_max"]))
    finally:
        algo.stop()
    assert probes["low_level"] and max(probes["low_level"]) < 1e-6  # value target == reward
    assert probes["high_level"] and max(probes["high_level"]) > 1e-3  # discounted bootstrap with 0.99


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    """Kill mid-way (simulated by an exception after 2 iterations); --resume loses no completed iteration."""
    out = tmp_path / "run"
    cfg = _config(tmp_path, TINY)

    class Killed(RuntimeError):
        pass

    def kill_after_two(row: dict[str, Any]) -> None:
        if row["iteration"] == 2:
            raise Killed

    with pytest.raises(Killed):
        train(TrainOptions("focus", "fast", timesteps=4000, out=out, config=cfg), on_iteration=kill_after_two)
    assert (out / "checkpoints" / "latest").read_text() == "iter_000002"
    assert not list(out.rglob("*.pkl"))  # dasha's checkpoints hold no pickle
    steps_before = read_metrics(out)[-1]["env_steps"]
    seen: list[dict[str, Any]] = []
    train(TrainOptions("focus", "fast", timesteps=2000, resume=out), on_iteration=seen.append)
    rows = read_metrics(out)
    assert [r["iteration"] for r in rows] == list(range(1, len(rows) + 1))
    assert seen[0]["iteration"] == 3 and seen[0]["env_steps"] > steps_before
    assert json.loads((out / "policy" / "policy.json").read_text())["training"]["iterations"] == rows[-1]["iteration"]


def test_a_pickle_free_checkpoint_restores_the_learner_exactly(tmp_path: Path) -> None:
    """Weights, Adam's moments, PPO's KL coefficient and RLlib's lifetime counters (the schedules read them) come
    back bit for bit in a freshly built algorithm, read from dasha's own files — no RLlib pickle involved."""
    from dasha.agents import checkpoint
    from dasha.agents.rllib import RunSpec, build_config
    from dasha.agents.rundir import module_shapes

    ppo = {"train_batch_size": 200, "minibatch_size": 100, "num_epochs": 1, "hiddens": [16], "anneal_steps": 1000}
    spec = RunSpec.build("joint", "fast", {"ppo": ppo, "env": {"size": 64}})
    algo = build_config(spec).build_algo()
    try:
        result = algo.train()
        steps = int(result["num_env_steps_sampled_lifetime"])
        saved = checkpoint.capture(algo, 1, steps, 1.0, [{"iteration": 1, "env_steps": steps}])
        checkpoint.save(saved, tmp_path, keep=1)
        lr_next = algo.train()["learners"]["low_level"]["default_optimizer_learning_rate"]
    finally:
        algo.stop()
    loaded = checkpoint.load(tmp_path / "checkpoints" / "iter_000001", module_shapes(spec))
    fresh = build_config(spec).build_algo()
    try:
        checkpoint.restore(fresh, loaded)
        again = checkpoint.capture(fresh, 1, loaded.env_steps, 1.0, loaded.history)
        for mid in saved.weights:
            for key, value in saved.weights[mid].items():
                assert np.array_equal(again.weights[mid][key], value), (mid, key)
        for name, opt in saved.optimizer.items():
            for i, fields in opt["state"].items():
                for f, value in fields.items():
                    assert np.array_equal(again.optimizer[name]["state"][i][f], value), (name, i, f)
        assert again.kl_coeffs == saved.kl_coeffs and again.counters == saved.counters
        result = fresh.train()  # the lifetime counters go on: the learning-rate schedule continues, not restarts
        assert result["num_env_steps_sampled_lifetime"] > saved.env_steps
        assert result["learners"]["low_level"]["default_optimizer_learning_rate"] == pytest.approx(lr_next)
    finally:
        fresh.stop()


def test_paper_preset_learns_in_the_paper_domain(tmp_path: Path) -> None:
    """The paper's lens agent with the paper's settings (and the preset's two documented departures) and budget
    (3 072 steps) in the paper's world (object 1.4–2.0 m, 13–300 lx, factory start): in focus on held-out photos in
    about the paper's 2 steps, stopping by its own rule (no ground truth)."""
    from dasha.agents.evaluate import eval_config

    run = train(TrainOptions("focus", "paper", timesteps=3072, seed=0, domain="paper", out=tmp_path / "run"))
    policy = Policy.load(run / "policy")
    assert policy.env_config().distance_m == (1.4, 2.0) and policy.env_config().obs_hist_fractions
    cfg = eval_config(policy, domain="paper").replace(lens_fallback_moves=0, bracket_moves=0)
    summary, _ = evaluate(policy, episodes=40, seed=3, config=cfg)
    assert summary["success_rate"] >= 0.85 and summary["mean_steps"] <= 3.0, summary


def test_init_from_starts_the_joint_modules_from_single_agent_policies(tmp_path: Path) -> None:
    """`--init-from`: an exposure policy starts the joint task's high level, a focus policy its low level (as the
    paper trained its single agents first); a policy that does not fit is a one-line error."""
    import torch

    from dasha.agents.export import random_policy
    from dasha.agents.rllib import RunSpec, build_config
    from dasha.agents.rundir import load_module_weights as _load_module_weights
    from dasha.agents.rundir import warm_start_weights as _warm_start_weights
    from dasha.camera import ConfigError
    from dasha.envs import EnvConfig

    spec = RunSpec.build("joint", "paper", {"env": {"size": 96}}, detector="in-focus")
    env = spec.env
    exposure = random_policy("exposure", env, tmp_path / "e", hiddens=(256, 256), seed=1)
    focus = random_policy("focus", env, tmp_path / "f", hiddens=(256, 256), seed=2)
    warm = _warm_start_weights(spec, [exposure, focus], None)
    assert set(warm) == {"high_level", "low_level"}
    algo = build_config(spec).build_algo()
    try:
        _load_module_weights(algo, warm)
        got = algo.learner_group.get_state(components="learner/rl_module")["learner"]["rl_module"]
        want = torch.load(focus / "focus.pt", weights_only=True)
        for key, value in want.items():
            assert np.allclose(np.asarray(got["low_level"][f"net.{key}"]), value.numpy())
    finally:
        algo.stop()
    with pytest.raises(ConfigError, match="hiddens"):
        _warm_start_weights(spec, [random_policy("focus", env, tmp_path / "small", hiddens=(8,))], None)
    with pytest.raises(ConfigError, match="mode"):
        _warm_start_weights(spec, [random_policy("focus", EnvConfig(size=96), tmp_path / "ours")], None)
