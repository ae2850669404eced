"""Extreme conditions in the simulator: rain, dust, glare and motion blur act on the optical image as described."""

from __future__ import annotations

import numpy as np
import pytest

from dasha.camera import make_camera
from dasha.camera.sim.conditions import CONDITIONS, Conditions
from dasha.envs import EnvConfig
from dasha.vision.focus_measures import tenengrad


def _frame(kind: str, strength: float = 1.0, noise: bool = False) -> np.ndarray:
    cam = make_camera("sim:distance=1.0,lux=200,exposure=10000,seed=3")
    cam.lens.set_setting(cam.in_focus_voltage())
    cam.conditions = Conditions(kind, strength)
    return (cam.capture() if noise else cam.render(noise=False)).image.astype(float)


def test_each_condition_changes_the_image_the_way_it_says() -> None:
    clear = _frame("none")
    assert np.array_equal(_frame("rain", 0.0), clear)  # strength 0 is off
    glare, dust, motion = _frame("glare"), _frame("dust"), _frame("motion")
    assert glare.mean() > clear.mean() + 10 and (glare >= 254).mean() > 0.01  # veiling light and a clipped source
    assert dust.mean() < clear.mean() - 1  # particles take light away
    assert tenengrad(motion) < 0.7 * tenengrad(clear)  # smeared
    rain_a, rain_b = _frame("rain", noise=True), _frame("rain", noise=True)
    assert np.array_equal(rain_a, rain_b)  # seeded: the same episode rains the same
    assert np.abs(_frame("rain") - clear).mean() > 0.2  # drops on the glass even without streaks


def test_conditions_are_validated_and_reach_the_world() -> None:
    with pytest.raises(ValueError, match="unknown condition"):
        Conditions("fog")
    with pytest.raises(ValueError, match="strength"):
        Conditions("rain", 2.0)
    with pytest.raises(ValueError, match="env condition"):
        EnvConfig(condition="hail")
    from dasha.envs.world import SimWorld

    for kind in CONDITIONS:
        assert SimWorld({"size": 64, "condition": kind}).camera.conditions.kind == kind
