"""PettingZoo view of the hierarchical env: passes parallel_api_test and replays the RLlib env's episode."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test

from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv
from dasha.envs.parallel import HierarchicalParallelEnv

SMALL = {"size": 96, "detector": "in-focus"}


@pytest.mark.parametrize("mode", ["ours", "paper"])
def test_parallel_api_test_passes(mode: str) -> None:
    parallel_api_test(HierarchicalParallelEnv({**SMALL, "mode": mode}), num_cycles=60)


def test_parallel_view_is_the_same_episode_as_the_rllib_env() -> None:
    par, ref = HierarchicalParallelEnv(SMALL), HierarchicalCameraEnv(SMALL)
    obs, infos = par.reset(seed=5)
    ref_obs, _ = ref.reset(seed=5)
    rng = np.random.default_rng(0)
    total = {"high": 0.0, "low": 0.0}
    ref_total = 0.0
    while par.agents:
        acting = next(a for a in par.agents if infos[a]["acting"])
        ((inner, o),) = ref_obs.items()
        assert (inner == "high") == (acting == "high") and np.array_equal(obs[acting], o)
        action = int(rng.integers(1, 6)) if acting == "high" else int(rng.integers(0, 41))
        waiting = "low" if acting == "high" else "high"
        obs, rewards, terms, _, infos = par.step({acting: action, waiting: 7})  # the waiting action is ignored
        ref_obs, ref_rewards, ref_terms, _, _ = ref.step({inner: action})
        for agent, r in rewards.items():
            total[agent] += r
        ref_total += sum(ref_rewards.values())
        assert terms[acting] == ref_terms["__all__"]
    assert sum(total.values()) == pytest.approx(ref_total)
    assert infos["high"]["success"] == ref.success and infos["low"]["moves"] == ref.total_moves


@pytest.mark.parametrize("make", [HierarchicalCameraEnv, HierarchicalParallelEnv])
def test_default_config_resets_and_steps(make: type) -> None:
    """With no config at all (haar-face and no scenes given) both views reset on photos the detector can find."""
    env = make()
    obs, _ = env.reset(seed=0)
    assert set(obs) == ({"high"} if make is HierarchicalCameraEnv else {"high", "low"})  # PettingZoo: every agent
    assert (env.config if make is HierarchicalCameraEnv else env.env.config).scenes == ("grace_hopper",)
    actions = {"high": 0}
    out = env.step(actions)
    assert len(out) == 5
