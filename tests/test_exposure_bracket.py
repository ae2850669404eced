"""The joint task's detection safety net: bracket order, stop on detection, return, limits, env integration."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest

from dasha.camera.base import Frame
from dasha.envs.actions import OURS_EXPOSURE_RANGE_US
from dasha.envs.exposure_bracket import BRACKET_STOPS, EVAL_BRACKET_MOVES, exposure_bracket
from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv
from dasha.envs.perception import Perception, Shot

BASE_US = 20_000.0


def _detect_from(threshold_us: float | None) -> Callable[[Shot], tuple[float, float, float, float] | None]:
    """A detector that finds the object only at exposures ≥ ``threshold_us`` (never with None); frames only."""

    def detect(step: Shot) -> tuple[float, float, float, float] | None:
        if threshold_us is None or step.frame.exposure_us < threshold_us:
            return None
        return (10.0, 10.0, 50.0, 50.0)

    return detect


def _env(threshold_us: float | None, bracket: int, monkeypatch: pytest.MonkeyPatch) -> HierarchicalCameraEnv:
    env = HierarchicalCameraEnv({"scenes": ("astronaut",), "detector": "haar-face", "start_exposure_us": BASE_US,
                                 "bracket_moves": bracket})  # fmt: skip
    env.reset(seed=0)
    monkeypatch.setattr(env.perception, "_detect", _detect_from(threshold_us))
    return env


def _blind(perception: Perception, monkeypatch: pytest.MonkeyPatch) -> None:
    """The net sees frames without the simulator's ground truth."""
    real = perception.camera.capture

    def capture(timeout_s: float | None = None) -> Frame:
        return dataclasses.replace(real(timeout_s), truth=None)

    monkeypatch.setattr(perception.camera, "capture", capture)


def test_bracket_stops_at_the_first_detecting_exposure(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(BASE_US * 1.3, 3, monkeypatch)  # ½ stop more light is enough
    _blind(env.perception, monkeypatch)
    taken = exposure_bracket(env.perception, 3)
    assert [s.frame.exposure_us for s in taken] == pytest.approx([BASE_US * 2**0.5], rel=1e-4)
    assert all(s.frame.truth is None for s in taken)  # decided on the detector's verdict alone
    assert env.world.camera.exposure_us == pytest.approx(BASE_US * 2**0.5, rel=1e-4)  # left where it detected

    env = _env(BASE_US * 1.8, 3, monkeypatch)  # needs a whole stop: +½, −½, +1
    taken = exposure_bracket(env.perception, 3)
    assert [s.frame.exposure_us for s in taken] == pytest.approx([BASE_US * 2**s for s in BRACKET_STOPS], rel=1e-4)


def test_bracket_without_a_detection_returns_to_the_agents_exposure(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(None, 3, monkeypatch)
    taken = exposure_bracket(env.perception, 3)
    expected = [BASE_US * 2**s for s in BRACKET_STOPS] + [BASE_US]
    assert [s.frame.exposure_us for s in taken] == pytest.approx(expected, rel=1e-4)
    assert env.world.camera.exposure_us == pytest.approx(BASE_US)
    assert len(exposure_bracket(env.perception, 1)) == 2  # the budget caps the bracket
    assert exposure_bracket(env.perception, 0) == []


def test_bracket_stays_inside_the_exposure_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(None, 3, monkeypatch)
    cam = env.world.camera
    hi = min(OURS_EXPOSURE_RANGE_US[1], cam.exposure_limits.high)
    cam.exposure_us = hi
    taken = exposure_bracket(env.perception, 3)
    exposures = [s.frame.exposure_us for s in taken]
    assert max(exposures) <= hi and exposures == pytest.approx([hi * 2**-0.5, hi], rel=1e-4)  # +½ and +1 clip: skipped


def test_bracket_does_nothing_with_the_ground_truth_judge() -> None:
    env = HierarchicalCameraEnv({"scenes": ("camera",), "detector": "in-focus", "bracket_moves": 3})
    env.reset(seed=0)
    assert env.perception.detector is None
    assert exposure_bracket(env.perception, 3) == []


@pytest.mark.parametrize("bracket", [0, EVAL_BRACKET_MOVES])
def test_env_brackets_after_a_lens_stop_without_detection(bracket: int, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(BASE_US * 1.8, bracket, monkeypatch)
    obs, _, term, _, _ = env.step({"high": 0})  # hand over at 20 ms: no detection yet
    assert "low_0" in obs and not term["__all__"] and not env.detected
    _, rewards, term, _, _ = env.step({"low_0": 0})  # the lens agent stops
    assert term["__all__"]
    if bracket == 0:  # off (as in training): a miss
        assert not env.success and env.exposure_moves == 0 and rewards["low_0"] == -1.0
    else:
        assert env.success and env.exposure_moves == 3 and rewards["low_0"] == 1.0
        assert math.isclose(env.world.camera.exposure_us, BASE_US * 2.0)
        assert env.last_outcome["moves"] == 3


def test_env_config_checks_the_bracket_budget() -> None:
    from dasha.camera.errors import SpecError
    from dasha.envs.config import EnvConfig

    with pytest.raises(SpecError, match="bracket_moves"):
        EnvConfig(bracket_moves=11)
    with pytest.raises(SpecError, match="bracket_moves"):
        EnvConfig(bracket_moves=-1)
