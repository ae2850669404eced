"""The shipped policies load without Ray, fit this dasha's environments, and still do their job (held-out photos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dasha.agents.evaluate import eval_config, evaluate
from dasha.agents.policy import Policy

POLICIES = Path(__file__).resolve().parents[1] / "policies"

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("name", "min_success", "max_steps"),
    [("exposure", 0.95, 2.5), ("focus", 0.88, 4.0), ("joint", 0.85, 6.0)],
)
def test_shipped_policy_on_held_out_scenes(name: str, min_success: float, max_steps: float) -> None:
    """A smaller, faster version of the acceptance numbers in the closing notes (40 episodes, other seed)."""
    policy = Policy.load(POLICIES / name)
    assert policy.task == name and policy.meta["mode"] == "ours"
    summary, results = evaluate(policy, episodes=40, seed=7, config=eval_config(policy))
    assert summary["success_rate"] >= min_success, summary
    assert summary["mean_steps"] <= max_steps, summary
    assert all(r.scene in ("astronaut", "coffee", "moon", "coins") for r in results)  # never a training photo
