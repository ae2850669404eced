"""Physics of the simulated camera: focus, defocus size, radiometry, noise, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dasha.camera import OutOfRangeError, SpecError
from dasha.camera.sim import (
    ConstantLight,
    LensDynamics,
    PaperRamp,
    RandomLight,
    Scene,
    SimCamera,
    VariopticCurve,
)
from dasha.vision.focus_measures import laplacian_variance
from tests.conftest import flat_scene

LENS_STEPS = np.linspace(24.0, 70.0, 47)  # the record-grid default: 1 V per step


def _well_exposed(cam: SimCamera, target: float = 110.0) -> None:
    """Set the exposure that puts the mean grey near ``target`` (brightness is linear in exposure)."""
    cam.exposure_us = 10_000
    mean = float(cam.render(noise=False).image.mean())
    cam.exposure_us = float(np.clip(10_000 * target / max(mean, 1.0), 100, 4_000_000))


@pytest.mark.parametrize("distance_m", [0.3, 1.5, 10.0])
def test_sharpness_peaks_at_the_true_in_focus_voltage(distance_m: float) -> None:
    cam = SimCamera(Scene.from_names("camera", "grass", object_distance_m=distance_m), size=128, seed=1)
    _well_exposed(cam)
    scores = []
    for v in LENS_STEPS:
        cam.lens.voltage = v
        scores.append(laplacian_variance(cam.capture().image))
    best_v = LENS_STEPS[int(np.argmax(scores))]
    truth_v = cam.in_focus_voltage()
    assert abs(best_v - truth_v) <= 1.0 + 1e-9, (best_v, truth_v)


def test_nearer_objects_need_more_optical_power() -> None:
    volts = []
    for d in [math.inf, 10.0, 3.0, 1.5, 0.5, 0.3, 0.2]:
        cam = SimCamera(Scene.from_names("camera", "grass", object_distance_m=d), size=32)
        volts.append(cam.in_focus_voltage())
    assert all(np.diff(volts) > 0), volts
    curve = VariopticCurve()
    assert all(np.diff(curve.power(np.linspace(24, 70, 500))) > 0)  # monotonic lens curve
    assert 47.0 <= volts[3] <= 49.0  # the paper's rig: object at 1.4-2 m focuses at 47-49 V


def test_in_focus_frame_has_sub_two_pixel_blur() -> None:
    cam = SimCamera(Scene.from_names("astronaut", "brick", object_distance_m=0.8), size=64)
    cam.lens.voltage = cam.in_focus_voltage()
    assert cam.capture().truth.blur_px <= 2.0
    cam.lens.voltage = 24.0
    assert cam.capture().truth.blur_px > 50


@pytest.mark.parametrize("target_px", [3.0, 6.0, 12.0, 25.0, 50.0, 100.0])
@pytest.mark.parametrize("f_number", [1.8, 2.8, 8.0])
def test_blur_diameter_matches_thin_lens_formula(target_px: float, f_number: float) -> None:
    """A point source's rendered spot has the disc PSF's size: c = f²|ΔD|/N/pitch (second moment)."""
    tex = np.zeros((128, 128), np.float32)
    tex[64, 64] = 1.0
    scene = Scene(
        name="point",
        object_texture=tex,
        background_texture=np.zeros((8, 8), np.float32),
        object_fraction=0.5,
        object_reflectance=(0.0, 1.0),
        background_reflectance=(0.0, 0.0),
    )
    cam = SimCamera(scene, size=256, f_number=f_number)
    f, pitch = cam.optics.focal_length_m, cam.optics.pixel_pitch_m
    defocus_d = target_px * f_number * pitch / f**2
    img, c_truth, _ = cam.reflectance(scene.object_vergence_d + defocus_d)
    assert c_truth == pytest.approx(f**2 * defocus_d / f_number / pitch)
    yy, xx = np.indices(img.shape)
    w = img.sum()
    cy, cx = (img * yy).sum() / w, (img * xx).sum() / w
    measured = math.sqrt(8 * (img * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / w)  # disc: E[r²] = c²/8
    assert measured == pytest.approx(target_px, rel=0.10)


def test_background_blur_is_depth_dependent(astronaut_scene: Scene) -> None:
    cam = SimCamera(astronaut_scene, size=64)
    cam.lens.voltage = cam.in_focus_voltage()
    t = cam.capture().truth
    assert t.blur_px < 1 and t.background_blur_px > 3  # background is twice as far: out of focus


def _assert_monotone_until_saturation(means: list[float]) -> None:
    """Strictly rising while below saturation; never falling afterwards."""
    d = np.diff(means)
    assert all(d >= 0), means
    unsaturated = np.asarray(means[:-1]) < 240
    assert all(d[unsaturated] > 0), means


def test_brightness_rises_with_exposure_until_saturation(sim_camera: SimCamera) -> None:
    means, sats = [], []
    for e in [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 4_500_000]:
        sim_camera.exposure_us = e
        f = sim_camera.capture()
        means.append(float(f.image.mean()))
        sats.append(f.truth.saturated_fraction)
    _assert_monotone_until_saturation(means)
    assert sats[0] == 0.0 and sats[-1] > 0.95 and means[-1] > 250


def test_brightness_rises_with_lux_until_saturation(astronaut_scene: Scene) -> None:
    means = []
    for lux in [1, 5, 13, 50, 300, 1_000, 10_000]:
        cam = SimCamera(astronaut_scene, size=64, lux=lux, exposure_us=20_000, seed=3)
        means.append(float(cam.capture().image.mean()))
    _assert_monotone_until_saturation(means)
    assert means[0] < 10 and means[-1] > 250


def test_noise_follows_the_emva_photon_transfer_relation() -> None:
    """Temporal variance is linear in the mean with slope K (shot noise), offset from read noise."""
    cam = SimCamera(flat_scene(0.5), size=128, lux=100, seed=7)
    k8 = cam.sensor.gain_dn_per_e / 16.0  # system gain in Mono8 DN per electron
    means, variances = [], []
    for e in [2_000, 5_000, 10_000, 20_000, 30_000, 40_000]:
        cam.exposure_us = e
        a = cam.capture().image.astype(np.float64)
        b = cam.capture().image.astype(np.float64)
        means.append(0.5 * (a.mean() + b.mean()))
        variances.append(np.var(a - b) / 2.0)  # temporal variance, free of fixed pattern
    slope, offset = np.polyfit(means, variances, 1)
    fit = np.polyval([slope, offset], means)
    r2 = 1 - np.sum((variances - fit) ** 2) / np.sum((variances - np.mean(variances)) ** 2)
    assert r2 > 0.99
    assert slope == pytest.approx(k8, rel=0.10)
    assert means[-1] < 240  # stayed below saturation


def test_lens_settles_with_a_second_order_response(astronaut_scene: Scene) -> None:
    cam = SimCamera(astronaut_scene, size=64, dynamics=LensDynamics(settle_time_s=0.04))
    cam.lens.voltage = 40.0
    cam.lens.set_voltage(55.0, wait=False)
    early = cam.capture()  # 10 ms into the step: far from the commanded power
    cam.lens.set_voltage(55.0, wait=True)
    late = cam.capture()
    target = VariopticCurve().power(55.0)
    p_early = cam.optics.focus_vergence(0) + early.truth.defocus_d + astronaut_scene.object_vergence_d
    assert abs(p_early - target) > 1.0
    p_late = late.truth.defocus_d + astronaut_scene.object_vergence_d
    assert p_late == pytest.approx(target, abs=0.05)


def test_same_seed_same_frames_different_seed_different_noise(astronaut_scene: Scene) -> None:
    def run(seed: int) -> list[np.ndarray]:
        cam = SimCamera(astronaut_scene, size=64, seed=seed, vibration_d=0.01)
        out = []
        for v in (30.0, 47.0, 60.0):
            cam.lens.voltage = v
            out.append(cam.capture().image)
        return out

    a, b, c = run(5), run(5), run(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(np.array_equal(x, z) for x, z in zip(a, c, strict=True))
    assert all(np.abs(x.astype(int) - z).mean() < 5 for x, z in zip(a, c, strict=True))  # only noise differs


def test_light_schedules() -> None:
    ramp = PaperRamp()
    assert ramp.lux_at(0) == 13 and ramp.lux_at(1800) == 23 and ramp.lux_at(1799) == 13
    levels = [ramp.lux_at(k * 1800) for k in range(70)]
    assert max(levels) == 300 and min(levels) == 13
    assert all(abs(d) <= 10 + 1e-9 for d in np.diff(levels))
    rnd = [RandomLight(seed=1).lux_at(k * 1800.0) for k in range(200)]
    assert 1 <= min(rnd) and max(rnd) <= 10_000 and len(set(rnd)) > 150
    assert RandomLight(seed=1).lux_at(5.0) == RandomLight(seed=1).lux_at(6.0)
    assert ConstantLight(42).lux_at(1e6) == 42


def test_bad_simulator_arguments(astronaut_scene: Scene) -> None:
    with pytest.raises(SpecError):
        SimCamera(astronaut_scene, lux=-1)
    with pytest.raises(SpecError):
        SimCamera(astronaut_scene, f_number=0.5)
    with pytest.raises(OutOfRangeError):
        SimCamera(astronaut_scene, exposure_us=11_000_000)
    with pytest.raises(SpecError):
        Scene.from_names("astronaut", object_distance_m=0.1)
    with pytest.raises(SpecError, match="not found"):
        Scene.from_names("/nonexistent/scene.png")
