"""Classical AF/AE baselines: pure state machines that converge, stop by their own rule, and never see truth."""

from __future__ import annotations

import numpy as np
import pytest

from dasha.baselines.autoexposure import AUTOEXPOSURE_METHODS, Measurement, make_autoexposure
from dasha.baselines.autofocus import AUTOFOCUS_METHODS, AfParams, AfState, make_autofocus
from dasha.baselines.loops import af_params, autoexposure_loop, autofocus_loop
from dasha.camera.sim import Scene, SimCamera
from dasha.envs.rewards import well_exposed
from dasha.vision.focus_measures import parabola_peak
from dasha.vision.histogram import paper_histogram
from tests.blind import blind_perception

PEAK_V = 49.37


def lorentzian(v: float) -> float:
    """Synthetic focus curve: gradient energy ∝ 1 / (blur² + floor)."""
    return 1.0 / ((v - PEAK_V) ** 2 + 0.01) + 0.2


def drive(method, score, start_v: float = 47.0) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Run the pure state machine on a score function; returns (final voltage, moves)."""
    v = start_v
    command = method.start(v, score(v))
    while True:
        if command.lens_v is not None:
            v = command.lens_v
        if command.done:
            return v, method.moves
        command = method.step(score(v))


@pytest.mark.parametrize("name", sorted(AUTOFOCUS_METHODS))
def test_af_state_machines_find_the_peak_of_a_focus_curve(name: str) -> None:
    method = make_autofocus(name, AfParams(lo_v=46.0, hi_v=53.0))
    v, moves = drive(method, lorentzian)
    tolerance = {"sweep": 0.08, "curve_fit": 0.2, "cdaf": 0.2}.get(name, 0.06)
    assert abs(v - PEAK_V) <= tolerance, (name, v)
    assert method.state is AfState.FOCUSED
    assert 1 <= moves <= method.params.max_moves
    with pytest.raises(RuntimeError):
        method.step(1.0)  # finished machines refuse further steps


def test_af_move_budget_is_a_hard_cap() -> None:
    method = make_autofocus("sweep", AfParams(max_moves=10))
    _, moves = drive(method, lorentzian)
    assert moves <= 11 and method.state is AfState.FAILED  # 10 moves + the final move to the best seen


def test_parabola_vertex() -> None:
    assert parabola_peak([1.0, 2.0, 3.0], [1.0, 3.0, 1.0]) == pytest.approx(2.0)
    assert parabola_peak([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 3.0  # monotone: clamp to the samples
    assert parabola_peak([1.0, 2.0, 3.0], [3.0, 1.0, 2.0]) == 1.0  # convex: the best sample


def _easy_camera(distance_m: float, seed: int) -> SimCamera:
    cam = SimCamera(Scene.from_names("camera", "grass", object_distance_m=distance_m), size=128, lux=200, seed=seed)
    cam.exposure_us = 15_000
    return cam


@pytest.mark.parametrize("name", sorted(AUTOFOCUS_METHODS))
def test_af_baselines_focus_an_easy_scene_without_ground_truth(name: str) -> None:
    wins = 0
    for seed, distance in enumerate((0.5, 1.5, 6.0)):
        cam = _easy_camera(distance, seed)
        cam.lens.voltage = 46.5
        perception = blind_perception(cam)
        first = perception.capture()
        steps = autofocus_loop(perception, make_autofocus(name, af_params(perception)), first)
        assert all(s.frame.truth is None for s in [first, *steps])
        wins += abs(cam.lens.voltage - cam.in_focus_voltage()) * cam.optics.px_per_diopter <= 2.0  # judged here
    assert wins >= (2 if name in ("cdaf", "curve_fit") else 3), name


@pytest.mark.parametrize("name", sorted(AUTOEXPOSURE_METHODS))
def test_ae_baselines_expose_an_easy_scene_without_ground_truth(name: str) -> None:
    for seed, start in enumerate((1_000.0, 40_000.0, 2_000_000.0)):
        cam = _easy_camera(1.5, seed)
        cam.exposure_us = start
        perception = blind_perception(cam)
        method = make_autoexposure(name)
        first = perception.capture()
        steps = autoexposure_loop(perception, method, first)
        last = (steps or [first])[-1]
        assert last.frame.truth is None and well_exposed(paper_histogram(last.frame.image)[2]), (name, start)
        assert method.moves <= method.params.max_frames and len(steps) == method.moves


def test_ae_measurement_flags_clipping() -> None:
    img = np.zeros((10, 10), np.uint8)
    img[:, :3] = 255
    m = Measurement.of(img)
    assert m.dark_fraction == 0.7 and m.bright_fraction == pytest.approx(0.3) and m.mean == pytest.approx(76.5)


@pytest.mark.parametrize("v_object", [48.2, 50.6])
def test_dfd_jumps_to_the_side_its_cue_names(v_object: float) -> None:
    """One frame's blur fits two mirror answers; a sure side-of-focus cue picks the right one in one move, a cue of
    0.5 leaves the fit's own choice, and a wrong sure cue is followed (the cue, not the truth, decides)."""
    from dasha.baselines.dfd import DepthFromDefocus
    from dasha.camera.calibration import Optics, VariopticCurve

    optics, curve = Optics(), VariopticCurve()
    v = 49.4  # the lens; the object is in focus at v_object
    blur = optics.blur_px(optics.focus_vergence(curve.power(v_object)), curve.power(v))
    log_blur = float(np.log1p(blur))
    front = v > v_object  # more power than the object needs: front focus, lower the power
    jumps = {}
    for p_front in (0.9, 0.1, 0.5):
        command = DepthFromDefocus(optics, curve).start(v, log_blur, p_front)
        assert command.lens_v is not None and not command.done
        jumps[p_front] = command.lens_v
    right, wrong = (jumps[0.9], jumps[0.1]) if front else (jumps[0.1], jumps[0.9])
    assert abs(right - v_object) < 0.05, jumps
    assert abs(wrong - v_object) > 1.0 and (wrong - v) * (v_object - v) < 0, jumps
    assert jumps[0.5] in (right, wrong)
