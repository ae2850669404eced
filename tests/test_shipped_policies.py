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


@pytest.mark.parametrize(
    ("spec", "detector"),
    [("sim", "haar-face"), ("sim:distance=0.3,lux=20", "haar-face"), ("sim:distance=inf,lux=500,lens=70", "haar-face"),
     ("sim:scene=aruco:7,distance=0.4,lux=30", "aruco")],
)  # fmt: skip
def test_shipped_joint_policy_tunes_a_camera_from_its_rest_position(spec: str, detector: str) -> None:
    """`dasha run --camera sim --detector haar-face` (README): the sim lens rests at 24 V, far outside the range
    the agents start from in training; the tuner parks it at home first, then the agents find the object (a face,
    or a fiducial marker the policy never saw in training)."""
    from dasha.camera import make_camera
    from dasha.runtime.live import LiveTuner

    cam = make_camera(spec)
    result = LiveTuner(cam, Policy.load(POLICIES / "joint"), detector=detector).tune()
    assert result.found is True, result
    assert result.exposure_moves + result.lens_moves <= 8, result
