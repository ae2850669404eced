"""The shipped blur-size estimator generalises to photos it was not trained on."""

from __future__ import annotations

import math

import numpy as np

from dasha.vision.blur_estimator import TRAIN_TEXTURES, load_estimator, simulate
from dasha.vision.encoders import make_encoder

HELD_OUT = ("astronaut", "coffee", "moon", "coins")


def test_held_out_photos_blur_size_within_tolerance() -> None:
    assert not set(HELD_OUT) & set(TRAIN_TEXTURES)
    feats, blur, _ = simulate(300, seed=123, textures=HELD_OUT)
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
    feats, _, _ = simulate(4, seed=5, textures=HELD_OUT)
    est = load_estimator()
    assert est is not None
    np.testing.assert_allclose(np.expm1(np.maximum(est.log_blur(feats), 0)), est.blur_px(feats), rtol=1e-5, atol=1e-5)
    assert make_encoder("default", with_blur=False).dim == 64


def test_defocus_estimator_reads_size_and_side_on_held_out_photos() -> None:
    feats, blur, front = simulate(400, seed=321, textures=HELD_OUT, kind="defocus")
    est = load_estimator("defocus")
    assert est is not None
    out = est.forward(feats)
    pred = np.expm1(np.maximum(out[:, 0], 0.0))
    near = blur <= 8
    assert np.median(np.abs(pred[near] - blur[near])) < 0.6
    assert np.mean((pred <= 2.0) == (blur <= 2.0)) > 0.9
    mid = (blur > 8) & (blur < 80)
    assert np.median(np.abs(np.log1p(pred[mid]) - np.log1p(blur[mid]))) < 0.2
    far = (blur > 10) & (blur < 60)  # the side of focus shows in how the background is blurred
    assert np.mean((out[far, 1] > 0) == (front[far] > 0.5)) > 0.65  # a hint (chance: 0.5), not an answer


def test_defocus_estimate_of_frames_either_side_of_focus() -> None:
    """Four held-out objects, each in focus and 2 V either side (≈33 px): sharp frames read sharp, blurred ones
    ≈33 px; a side cue the estimator is sure of (P ≤ 0.25 or ≥ 0.75) is right, and it is sure of at least half;
    a half-size frame reads about half the blur (frames of other sizes are resampled, in their own pixels)."""
    from dasha.camera.sim import Scene, SimCamera
    from dasha.vision.blur_estimator import defocus_estimate

    blurs, sure, halves = [], [], []
    for obj, bg in (("coffee", "brick"), ("astronaut", "grass"), ("coins", "gravel"), ("moon", "brick")):
        cam = SimCamera(Scene.from_names(obj, bg, object_distance_m=0.5, background_distance_m=math.inf),
                        size=256, exposure_us=30_000)  # fmt: skip
        v0 = cam.in_focus_voltage()
        cam.lens.voltage = v0
        sharp, _ = defocus_estimate(cam.capture().image)
        assert np.expm1(3 * sharp) < 2.5, obj
        for dv, front in ((2.0, True), (-2.0, False)):  # more power than needed focuses nearer: front focus
            cam.lens.voltage = v0 + dv
            image = cam.capture().image
            blur, p_front = defocus_estimate(image)
            blurs.append(np.expm1(3 * blur))
            if abs(p_front - 0.5) >= 0.25:
                sure.append((p_front > 0.5) == front)
            halves.append(np.expm1(3 * defocus_estimate(image[::2, ::2])[0]) / blurs[-1])
    assert 20 < np.median(blurs) < 50, blurs
    assert len(sure) >= 4 and all(sure), sure
    assert 0.35 < np.median(halves) < 0.7, halves
