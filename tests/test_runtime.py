"""Ray-free policies: safe loading, clear errors, live single-shot and continuous tuning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dasha.agents.export import random_policy
from dasha.agents.policy import Policy
from dasha.camera import ConfigError, SpecError, make_camera
from dasha.envs import EnvConfig
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES
from dasha.envs.world import oracle_exposure_us
from dasha.runtime.live import LiveTuner


@pytest.fixture
def joint_policy(tmp_path: Path) -> Policy:
    return Policy.load(random_policy("joint", EnvConfig(detector="in-focus"), tmp_path / "joint"))


def test_policy_loads_without_ray_and_acts(joint_policy: Policy) -> None:
    import sys

    assert joint_policy.task == "joint" and set(joint_policy.nets) == {"high_level", "low_level"}
    obs = np.zeros(joint_policy.meta["modules"]["high_level"]["obs_dim"], np.float32)
    assert 0 <= joint_policy.act("high_level", obs) < 33
    assert "ray" not in sys.modules or not __import__("ray").is_initialized()


def test_bad_policy_directories_are_clear_errors(tmp_path: Path, joint_policy: Policy) -> None:
    with pytest.raises(ConfigError, match=r"no policy\.json"):
        Policy.load(tmp_path)
    (joint_policy.path / "low_level.pt").write_bytes(b"not a tensor file")
    with pytest.raises(ConfigError, match="tensors-only"):
        Policy.load(joint_policy.path)
    meta = json.loads((joint_policy.path / "policy.json").read_text())
    meta["format"] = 99
    (joint_policy.path / "policy.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="unsupported policy format"):
        Policy.load(joint_policy.path)


def test_policy_files_refuse_pickled_code(tmp_path: Path) -> None:
    """A .pt that carries a pickled object (not only tensors) is rejected by weights_only loading."""
    import torch

    path = random_policy("focus", EnvConfig(detector="in-focus"), tmp_path / "focus")
    torch.save({"net": torch.nn.Linear(2, 2)}, path / "focus.pt")  # a whole module object: pickle code
    with pytest.raises(ConfigError):
        Policy.load(path)


def test_single_shot_tuning_stays_within_limits_and_horizons(joint_policy: Policy) -> None:
    cam = make_camera("sim:distance=0.5,lux=30,exposure=2000,lens=52")
    result = LiveTuner(cam, joint_policy).tune()
    cfg = joint_policy.env_config()
    assert result.exposure_moves <= cfg.exposure_horizon  # the lens agent, plus the safety net if it never stops:
    assert result.lens_moves <= cfg.lens_horizon + EVAL_FALLBACK_MOVES
    assert 24.0 <= result.lens_v <= 70.0 and 24.0 <= result.exposure_us <= 4_500_000


def test_continuous_mode_retriggers_when_the_light_changes(joint_policy: Policy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(joint_policy, "act", lambda module, obs: 0)  # a policy that stops at once: settings stay
    cam = make_camera("sim:distance=1.0,lux=100,exposure=20000")
    events: list[str] = []
    tuner = LiveTuner(cam, joint_policy)
    results = tuner.continuous(frames=12, patience=3, on_event=lambda kind, step: events.append(kind))
    next(results)  # the first tuning pass
    cam.set_lux(1600.0)  # four stops brighter
    rest = list(results)
    assert events == ["retrigger"] and len(rest) == 1


def test_live_tuning_with_a_detector_stops_as_soon_as_the_object_is_found(tmp_path: Path) -> None:
    policy = Policy.load(random_policy("focus", EnvConfig(detector="in-focus"), tmp_path / "focus"))
    cam = make_camera("sim:distance=0.5,lux=100")  # the astronaut photo: a face
    tuner = LiveTuner(cam, policy, detector="haar-face")
    cam.exposure_us = oracle_exposure_us(cam)
    cam.lens.set_voltage(cam.in_focus_voltage())
    result = tuner.tune()
    assert result.found is True and result.lens_moves == 0  # already found: the random agent never gets to act
    assert LiveTuner(cam, policy).tune().found is None  # without a detector there is nothing to report
    with pytest.raises(SpecError, match="unknown detector"):
        LiveTuner(cam, policy, detector="nope")


def test_live_tuning_brackets_the_exposure_when_the_detector_misses(joint_policy: Policy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dasha.envs.exposure_bracket import BRACKET_STOPS

    monkeypatch.setattr(joint_policy, "act", lambda module, obs: 0)  # both agents stop at once
    cam = make_camera("sim:distance=0.5,lux=100,exposure=20000,lens=50")
    tuner = LiveTuner(cam, joint_policy, detector="haar-face")
    bright_enough = 20_000 * 2**0.75  # a stand-in detector that needs a whole stop more light
    monkeypatch.setattr(tuner.perception, "_detect", lambda step: (0, 0, 9, 9) if step.frame.exposure_us > bright_enough
                        else None)  # fmt: skip
    result = tuner.tune()  # the lens net searches first (nothing found), then the bracket
    assert result.found is True and result.lens_moves <= EVAL_FALLBACK_MOVES
    assert result.exposure_moves == len(BRACKET_STOPS)  # +½, −½, +1 stop: found on the third
    assert result.exposure_us == pytest.approx(40_000, rel=1e-4)
    monkeypatch.setattr(tuner.perception, "_detect", lambda step: None)  # never found: back to the agents' exposure
    cam.exposure_us = 20_000
    result = tuner.tune()
    assert result.found is False and result.exposure_moves == len(BRACKET_STOPS) + 1
    assert result.exposure_us == pytest.approx(20_000)


def test_live_tuning_homes_a_lens_left_outside_the_training_range(joint_policy: Policy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(joint_policy, "act", lambda module, obs: 0)  # both agents stop at once
    lo, hi = joint_policy.env_config().start_lens_range_v
    cam = make_camera("sim:distance=0.4,lux=100,lens=24")  # a lens at rest; 0.4 m is in focus at home, 49.5 V
    result = LiveTuner(cam, joint_policy).tune()
    assert result.lens_v == pytest.approx((lo + hi) / 2) and result.lens_moves == 1  # one move home (the net accepts)
    cam = make_camera("sim:distance=0.39,lux=100")
    cam.lens.set_voltage(49.6)  # inside the range and in focus: left where it is
    result = LiveTuner(cam, joint_policy).tune()
    assert result.lens_v == pytest.approx(49.6) and result.lens_moves == 0
