"""The lens agent's safety net: probe choice, acceptance, budget, no ground truth, and the env integration."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from dasha.camera.base import Frame
from dasha.envs.actions import LENS_MOVES_V, LENS_STEPS_V
from dasha.envs.focus import FocusEnv
from dasha.envs.lens_fallback import ACCEPT_BLUR_PX, PROBE_V, TOL_V, lens_fallback, next_probe


def test_next_probe_brackets_then_fits_the_peak() -> None:
    assert next_probe({50.0: 1.0, 49.0: 0.5}, 24, 70) == pytest.approx(50.0 + PROBE_V)  # nothing above the best
    assert next_probe({50.0: 1.0, 51.0: 0.5}, 24, 70) == pytest.approx(50.0 - PROBE_V)  # nothing below
    assert next_probe({50.0: 1.0}, 24, 70, toward=-1.0) == pytest.approx(49.5)  # lone sample: the side estimate
    assert next_probe({50.0: 1.0, 50.03: 0.9}, 24, 70, toward=1.0) == pytest.approx(50.5)  # closer than TOL_V
    assert next_probe({50.0: 1.0}, 24, 50.2, toward=1.0) == pytest.approx(50.2)  # clipped to the lens range
    assert next_probe({47.0: 0.1, 50.0: 1.0, 50.5: 0.8}, 24, 70) == pytest.approx(49.5)  # lopsided: mirror
    # log-contrast of a Gaussian peak at 50.2 V: the parabola through three samples finds it exactly
    peak = {v: -((v - 50.2) ** 2) for v in (49.9, 50.1, 50.4)}
    assert next_probe(peak, 24, 70) == pytest.approx(50.2)
    assert next_probe({49.9: -0.01, 50.0: 0.0, 50.1: -0.01}, 24, 70) is None  # vertex within TOL_V: converged
    assert next_probe({69.9: 0.5, 70.0: 1.0}, 24, 70) is None  # the probe would leave the lens range
    assert TOL_V < PROBE_V


def _lost_env(budget: int, seed: int = 0, scene: str = "coins") -> FocusEnv:
    """A focus episode of a near object (0.3 m), where a lost agent needs the safety net."""
    env = FocusEnv({"lens_fallback_moves": budget, "scenes": (scene,), "distance_m": (0.3, 0.3)})
    env.reset(seed=seed)
    return env


def _hunt(env: FocusEnv) -> dict:
    """An agent that never stops: it hunts between two voltages ≈ 1.1 V apart until the horizon ends it."""
    k = int(np.argmin(np.abs(LENS_STEPS_V - 1.0)))
    up, down = 1 + len(LENS_STEPS_V) + k, len(LENS_STEPS_V) - k  # actions of +δ and −δ, δ ≈ 1.1 V
    assert LENS_MOVES_V[up - 1] > 0 and LENS_MOVES_V[up - 1] == pytest.approx(-LENS_MOVES_V[down - 1])
    info: dict = {}
    for t in range(env.config.lens_horizon):
        _, _, term, _, info = env.step(up if t % 2 == 0 else down)
        if term:
            return info
    raise AssertionError("the horizon did not end the episode")


@pytest.mark.parametrize(("seed", "offset_v"), [(0, -2.2), (1, 1.3)])
def test_env_safety_net_rescues_a_lost_agent_within_its_budget(seed: int, offset_v: float) -> None:
    for budget in (0, 6):
        env = _lost_env(budget=budget, seed=seed)
        env.world.camera.lens.set_voltage(env.world.camera.in_focus_voltage() + offset_v)
        env.phase.start(env.perception.capture())  # the hunt starts out of focus (≈ 20–35 px)
        info = _hunt(env)
        if budget == 0:  # off (as in training): the lost agent ends out of focus
            assert not info["success"] and info["moves"] == env.config.lens_horizon
        else:
            assert info["success"], info  # the ground-truth judge: blur ≤ 2 px
            assert env.config.lens_horizon < info["moves"] <= env.config.lens_horizon + budget


def test_safety_net_uses_no_ground_truth_and_stays_on_an_accepted_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _lost_env(budget=6)
    task, cam = env.perception, env.world.camera
    v_focus = cam.in_focus_voltage()
    real_capture, truths = cam.capture, []

    def blind_capture(timeout_s: float | None = None) -> Frame:  # the net sees frames without ground truth
        frame = real_capture(timeout_s)
        truths.append(frame.truth)
        return dataclasses.replace(frame, truth=None)

    monkeypatch.setattr(cam, "capture", blind_capture)
    cam.lens.set_voltage(v_focus + 1.5)
    history = [task.capture()]
    cam.lens.set_voltage(v_focus - 1.0)
    history.append(task.capture())
    assert min(t.blur_px for t in truths) > 10  # both frames far out of focus
    taken = lens_fallback(task, history, max_moves=6)
    assert 1 <= len(taken) <= 6 and all(s.frame.truth is None for s in taken)
    assert all(24.0 <= s.frame.lens_v <= 70.0 for s in taken)
    assert truths[-1].blur_px <= 2.0  # in focus by the judge's standard
    assert abs(cam.lens.voltage - v_focus) < 0.15

    assert lens_fallback(task, [*history, *taken][-1:], max_moves=6) == []  # the current frame is accepted
    assert lens_fallback(task, history, max_moves=0) == []  # no budget: nothing done


def test_safety_net_returns_to_an_earlier_accepted_frame_in_one_move() -> None:
    env = _lost_env(budget=6, scene="camera")
    task, cam = env.perception, env.world.camera
    v_focus = cam.in_focus_voltage()
    cam.lens.set_voltage(v_focus)
    sharp = task.capture()
    assert task.estimated_blur_px(sharp) <= ACCEPT_BLUR_PX
    cam.lens.set_voltage(v_focus + 2.0)
    lost = task.capture()
    taken = lens_fallback(task, [sharp, lost], max_moves=6)
    assert len(taken) == 1 and taken[0].frame.lens_v == pytest.approx(sharp.frame.lens_v)
    assert math.isclose(cam.lens.voltage, sharp.frame.lens_v, abs_tol=1e-6)
    assert np.isfinite(task.estimated_blur_px(taken[0]))
