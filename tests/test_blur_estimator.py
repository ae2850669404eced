"""The shipped blur-size estimator generalises to photos it was not trained on."""

from __future__ import annotations

import numpy as np

from dasha.vision.blur_estimator import TRAIN_TEXTURES, load_estimator, simulate
from dasha.vision.encoders import make_encoder

HELD_OUT = ("astronaut", "coffee", "moon", "coins")


def test_held_out_photos_blur_size_within_tolerance() -> None:
    assert not set(HELD_OUT) & set(TRAIN_TEXTURES)
    feats, blur = simulate(300, seed=123, textures=HELD_OUT)
    est = load_estimator()
    assert est is not None
    pred = est.blur_px(feats)
    near = blur <= 8  # near focus: the stop decision
    err_near = np.abs(pred[near] - blur[near])
    assert np.median(err_near) < 1.0, np.median(err_near)
    # in-focus classification (≤ 2 px) from one frame
    accuracy = np.mean((pred <= 2.0) == (blur <= 2.0))
    assert accuracy > 0.85, accuracy
    mid = (blur > 8) & (blur < 80)  # far from focus: relative error
    rel = np.abs(np.log1p(pred[mid]) - np.log1p(blur[mid]))
    assert np.median(rel) < 0.3, np.median(rel)


def test_default_encoder_appends_the_estimate() -> None:
    enc = make_encoder("default")
    assert enc.dim == 65
    feats, _ = simulate(4, seed=5, textures=HELD_OUT)
    est = load_estimator()
    assert est is not None
    np.testing.assert_allclose(np.expm1(np.maximum(est.log_blur(feats), 0)), est.blur_px(feats), rtol=1e-5, atol=1e-5)
    assert make_encoder("default", with_blur=False).dim == 64


def test_window_estimator_is_sharper_near_focus_on_held_out_photos() -> None:
    feats, blur = simulate(200, seed=321, textures=HELD_OUT, window=True)
    est = load_estimator("window")
    assert est is not None
    pred = est.blur_px(feats)
    near = blur <= 8
    assert np.median(np.abs(pred[near] - blur[near])) < 0.8
    assert np.mean((pred <= 2.0) == (blur <= 2.0)) > 0.88


def test_window_blur_of_a_frame_matches_the_window_estimator() -> None:
    from dasha.camera.sim import Scene, SimCamera
    from dasha.vision.blur_estimator import window_blur

    cam = SimCamera(Scene.from_names("coffee", "brick", object_distance_m=1.0), size=256, exposure_us=30_000)
    cam.lens.voltage = cam.in_focus_voltage() + 1.0  # ≈17 px of blur
    far = window_blur(cam.capture().image)
    cam.lens.voltage = cam.in_focus_voltage()
    near = window_blur(cam.capture().image)
    assert np.expm1(3 * far) > 8 and np.expm1(3 * near) < 3
