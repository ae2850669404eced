"""The shipped policies load without Ray, fit this dasha's environments, and still do what the README publishes.

The published numbers are read from ``docs/results/*.json`` (what ``dasha bench all`` wrote and the README shows).
Each test replays a smaller evaluation on other seeds and accepts the published success rate minus a tolerance of
three binomial standard errors of the smaller run (at least 4 points), and the published mean steps plus 0.6.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dasha.agents.evaluate import eval_config, evaluate
from dasha.agents.policy import Policy
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
RESULTS = ROOT / "docs" / "results"
EPISODES = 60
STEPS_SLACK = 0.6

pytestmark = pytest.mark.slow


def published(suite_file: str, method: str) -> dict:
    return json.loads((RESULTS / suite_file).read_text())["methods"][method]


def tolerance(rate: float, n: int = EPISODES) -> float:
    """Three standard errors of a rate measured on ``n`` episodes, at least 4 points."""
    return max(0.04, 3.0 * math.sqrt(max(rate * (1.0 - rate), 0.01) / n))


@pytest.mark.parametrize(
    ("name", "suite_file", "method", "domain", "nets"),
    [("exposure", "ae.json", "dasha", "wide", True), ("focus", "af.json", "dasha", "wide", True),
     ("focus", "af.json", "dasha_policy", "wide", False), ("joint", "joint.json", "dasha", "wide", True),
     ("focus_paper", "af-paper.json", "dasha_paper", "paper", False),
     ("exposure_paper", "ae-paper.json", "dasha_paper", "paper", False)],
)  # fmt: skip
def test_shipped_policy_matches_its_published_numbers(name: str, suite_file: str, method: str, domain: str,
                                                      nets: bool) -> None:  # fmt: skip
    policy = Policy.load(POLICIES / name)
    want = published(suite_file, method)
    cfg = eval_config(policy, domain=domain)
    if not nets:
        cfg = cfg.replace(lens_fallback_moves=0, bracket_moves=0)
    summary, results = evaluate(policy, episodes=EPISODES, seed=7, config=cfg)
    assert summary["success_rate"] >= want["success_rate"] - tolerance(want["success_rate"]), (summary, want)
    assert summary["mean_steps"] <= want["mean_steps"] + STEPS_SLACK, (summary, want)
    assert all(r.scene in ("astronaut", "coffee", "moon", "coins") for r in results)  # never a training photo
    assert all(r.background in ("motorcycle", "jacksboro") for r in results)


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


@pytest.mark.extras
def test_shipped_resnet152_variant_matches_its_published_numbers() -> None:
    """The paper's encoder variant (``policies/focus_paper_resnet152``, ``[torchvision]`` extra) against
    ``docs/resnet152/af-paper.json``, nets off, in the paper domain; fewer episodes (ResNet-152 costs ≈ 0.3 s a frame
    on CPU), the same tolerance rule."""
    need("torchvision")
    policy = Policy.load(POLICIES / "focus_paper_resnet152")
    want = json.loads((ROOT / "docs" / "resnet152" / "af-paper.json").read_text())["methods"]["dasha_paper"]
    cfg = eval_config(policy, domain="paper").replace(lens_fallback_moves=0, bracket_moves=0)
    assert cfg.encoder == "resnet152" and cfg.encoder_weights == "random"
    n = 30
    summary, _ = evaluate(policy, episodes=n, seed=7, config=cfg)
    assert summary["success_rate"] >= want["success_rate"] - tolerance(want["success_rate"], n), (summary, want)
    assert summary["mean_steps"] <= want["mean_steps"] + STEPS_SLACK, (summary, want)
