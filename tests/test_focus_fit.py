"""The focus fit triangulates the object's focus voltage from blur estimates at known lens voltages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dasha.camera.sim import Optics, Scene, SimCamera, VariopticCurve
from dasha.envs.focus_fit import MAX_RMS, fit_focus

OPTICS, CURVE = Optics(), VariopticCurve()
PRIOR = (0.0, 5.0)  # objects from ∞ to 0.2 m


def model_log_blur(lens_v: float, object_vergence_d: float) -> float:
    return math.log1p(OPTICS.blur_px(object_vergence_d, float(CURVE.power(lens_v))))


def focus_v(object_vergence_d: float) -> float:
    return float(CURVE.voltage(OPTICS.in_focus_power(object_vergence_d)))


@pytest.mark.parametrize("vergence", [0.3, 1.7, 4.2])
def test_two_frames_pin_the_focus_voltage(vergence: float) -> None:
    volts = [48.0, 50.5]
    fit = fit_focus(volts, [model_log_blur(v, vergence) for v in volts], OPTICS, CURVE, PRIOR)
    assert fit.best_v == pytest.approx(focus_v(vergence), abs=0.01)
    assert fit.best_rms < 0.01 < fit.other_rms  # the mirror answer no longer fits


def test_one_frame_leaves_two_mirror_answers_unless_the_prior_excludes_one() -> None:
    v, vergence = 49.5, 1.0  # focus at ≈48 V: the mirror image at ≈51 V is inside the 0.2 m – ∞ range too
    fit = fit_focus([v], [model_log_blur(v, vergence)], OPTICS, CURVE, PRIOR)
    answers = sorted([fit.best_v, fit.other_v])
    assert answers[0] == pytest.approx(focus_v(vergence), abs=0.01)
    assert answers[1] == pytest.approx(2 * v - focus_v(vergence), abs=0.01)
    assert fit.best_rms < 0.01 and fit.other_rms < 0.01
    v = 53.0  # above the whole focus range: focus must lie below
    fit = fit_focus([v], [model_log_blur(v, vergence)], OPTICS, CURVE, PRIOR)
    assert fit.best_v == pytest.approx(focus_v(vergence), abs=0.01)
    assert fit.other_rms == MAX_RMS and fit.other_v == fit.best_v


def test_fit_from_estimated_blur_of_simulated_frames() -> None:
    from dasha.vision.blur_estimator import defocus_estimate

    cam = SimCamera(Scene.from_names("coffee", "brick", object_distance_m=0.7), size=256, exposure_us=30_000)
    target = cam.in_focus_voltage()
    volts, log_blur = [], []
    for v in (target - 2.5, target - 1.0):
        cam.lens.voltage = v
        volts.append(v)
        log_blur.append(3 * defocus_estimate(cam.capture().image)[0])
    fit = fit_focus(volts, log_blur, OPTICS, CURVE, PRIOR)
    assert abs(fit.best_v - target) < 0.25  # ≈4 px of blur left, from ≈40 px


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="one log blur per lens voltage"):
        fit_focus([48.0, 49.0], [1.0], OPTICS, CURVE, PRIOR)
    with pytest.raises(ValueError, match="at least one frame"):
        fit_focus([], [], OPTICS, CURVE, PRIOR)
    assert np.isfinite(fit_focus([48.0], [0.0], OPTICS, CURVE, PRIOR).best_v)
