"""Environments: Gymnasium checks, registration, episode logic of paper and ours modes, hierarchy rules."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dasha  # noqa: F401  (registers the ids)
from dasha.camera import SpecError
from dasha.envs import EnvConfig
from dasha.envs.actions import EXPOSURE_TABLE, LENS_MOVES_V, LENS_STEPS_V, paper_lens_voltage
from dasha.envs.observations import exposure_observation
from dasha.envs.perception import Perception
from dasha.envs.world import SimWorld

SMALL = {"size": 96}


@pytest.mark.parametrize("env_id", ["dasha/Exposure-v0", "dasha/Focus-v0"])
@pytest.mark.parametrize("mode", ["paper", "ours"])
def test_gymnasium_check_env(env_id: str, mode: str) -> None:
    env = gym.make(env_id, mode=mode, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded Box warnings
        check_env(env.unwrapped, skip_render_check=True)


def test_paper_spaces_match_the_paper() -> None:
    exp = gym.make("dasha/Exposure-v0", mode="paper", **SMALL)
    foc = gym.make("dasha/Focus-v0", mode="paper", **SMALL)
    assert exp.action_space == gym.spaces.Discrete(148)
    assert foc.action_space == gym.spaces.MultiDiscrete([47, 100])
    dim = exp.unwrapped.perception.encoder.dim
    assert exp.observation_space.shape == (dim + 10 + 11,)  # latent, histogram values, bin edges
    assert foc.observation_space.shape == (dim,)  # latent only
    assert paper_lens_voltage([0, 0]) == 24.0 and paper_lens_voltage([23, 45]) == pytest.approx(47.45)
    assert paper_lens_voltage([46, 99]) == 70.0  # clipped to the lens limit


def test_paper_exposure_episode_is_one_decision_with_the_papers_reward() -> None:
    env = gym.make("dasha/Exposure-v0", mode="paper", **SMALL)
    env.reset(seed=3)
    _, reward, terminated, truncated, info = env.step(147)  # 4.5 s: saturated
    assert terminated and not truncated and reward == -1.0 and not info["success"]
    env.reset(seed=3)
    lux = info["lux"]
    target = 0.04 * 100 / lux  # ≈ well exposed (s); find the table entry nearest to it
    a = int(np.argmin(np.abs(np.log(EXPOSURE_TABLE) - np.log(target * 1e6))))
    _, reward, terminated, _, info = env.step(a)
    assert terminated
    assert (reward == 1.0) == info["success"]


def test_ours_exposure_stop_and_horizon() -> None:
    env = gym.make("dasha/Exposure-v0", mode="ours", exposure_horizon=3, **SMALL)
    env.reset(seed=0)
    _, r, term, _, info = env.step(0)  # stop at once
    assert term and info["moves"] == 0 and r in (1.0, -1.0)
    env.reset(seed=0)
    for k in range(3):
        _, _, term, _, info = env.step(17)  # +⅓ stop each
        assert term == (k == 2)
    assert info["moves"] == 3


def test_ours_focus_moves_are_relative_and_clipped() -> None:
    env = gym.make("dasha/Focus-v0", mode="ours", start_lens_v=47.0, **SMALL).unwrapped
    env.reset(seed=1)
    k = int(np.argmin(np.abs(LENS_MOVES_V - 0.5))) + 1
    _, _, _, _, info = env.step(k)
    assert info["lens_v"] == pytest.approx(47.0 + LENS_MOVES_V[k - 1], abs=1e-3)
    _, _, _, _, info = env.step(len(LENS_MOVES_V))  # +12 V
    _, _, _, _, info = env.step(len(LENS_MOVES_V))
    assert info["lens_v"] == 70.0


def test_focus_paper_episode_ends_on_detection_or_truncates_at_the_horizon() -> None:
    env = gym.make("dasha/Focus-v0", mode="paper", **SMALL).unwrapped
    env.reset(seed=2)
    v = env.world.camera.in_focus_voltage()
    coarse, fine = int(v - 24), round((v - 24 - int(v - 24)) * 100)
    _, reward, terminated, truncated, info = env.step(np.array([coarse, fine]))
    assert terminated and info["success"] and info["blur_px"] <= 2.0
    assert reward < 0 and reward != -1.0  # −0.01·BRISQUE of the detected box
    env.reset(seed=2)
    for k in range(10):
        _, reward, terminated, truncated, _ = env.step(np.array([0, 0]))  # 24 V: hopeless
        assert reward == -1.0 and not terminated and truncated == (k == 9)


def test_same_seed_same_episode() -> None:
    def run(seed: int) -> list[np.ndarray]:
        env = gym.make("dasha/Focus-v0", mode="ours", **SMALL)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for a in (5, 30, 12):
            out.append(env.step(a)[0])
        return out

    a, b, c = run(7), run(7), run(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_env_config_validation() -> None:
    with pytest.raises(SpecError, match="unknown env config"):
        EnvConfig.from_dict({"luxx": 3})
    with pytest.raises(SpecError, match="mode"):
        EnvConfig.from_dict({"mode": "turbo"})
    with pytest.raises(SpecError, match="distance"):
        EnvConfig.from_dict({"distance_m": [0.1, 1.0]})
    with pytest.raises(SpecError, match="unknown detector 'nope'"):
        EnvConfig.from_dict({"detector": "nope"})
    with pytest.raises(SpecError, match="lens_fallback_moves"):
        EnvConfig.from_dict({"lens_fallback_moves": -1})
    cfg = EnvConfig.from_dict({"lux": 50, "scenes": "camera"})
    assert cfg.lux == (50.0, 50.0) and cfg.scenes == ("camera",)


def test_domain_randomisation_covers_the_ranges() -> None:
    world = SimWorld({"size": 64, "lux": (5, 1000), "f_number": (1.8, 8.0)})
    perception = Perception(world.config, world.camera)
    rng = np.random.default_rng(0)
    lux, dist, fn = [], [], []
    for _ in range(300):
        world.reset(rng, perception)
        lux.append(world.camera.light.lux_at(0))
        dist.append(world.camera.scene.object_vergence_d)
        fn.append(world.camera.optics.f_number)
    assert 5 <= min(lux) < 10 and 500 < max(lux) <= 1000
    assert min(dist) < 0.2 and max(dist) > 4.5  # uniform in diopters over 0-5 dpt
    assert min(fn) < 2.5 and max(fn) > 7


@pytest.mark.parametrize("lux", [1.0, 10_000.0])
def test_oracle_exposure_is_well_exposed_at_the_illuminance_extremes(lux: float) -> None:
    """The reference render (detector ground truth, focus-only start) is mid-grey from 1 lx to 10 000 lx."""
    from dasha.vision.metering import median_grey

    cfg = EnvConfig(mode="ours", scenes=("astronaut",), lux=(lux, lux), detector="haar-face")
    world = SimWorld(cfg)
    perception = Perception(cfg, world.camera)
    world.reset(np.random.default_rng(0), perception, needs_detection=True)
    cam = world.camera
    cam.exposure_us = world.oracle_exposure_us()
    power = float(cam.lens.curve.power(cam.in_focus_voltage()))
    grey = median_grey(cam.render(lens_power_d=power, noise=False).image)
    assert 60 <= grey <= 160, (lux, cam.exposure_us, grey)
    assert perception.reference_boxes


@pytest.mark.parametrize("scene", ["coins", "astronaut", "moon"])
def test_best_by_sharpness_ranks_the_in_focus_frame_first(scene: str) -> None:
    env = gym.make("dasha/Focus-v0", best_by="sharpness", scenes=(scene,), distance_m=(0.5, 0.5), lux=(200, 200),
                   **SMALL).unwrapped  # fmt: skip
    env.reset(seed=0)
    perception, lens = env.perception, env.world.camera.lens
    v_focus = perception.capture().frame.truth.in_focus_v
    lens.set_voltage(v_focus)
    sharp = perception.capture()
    lens.set_voltage(v_focus + 1.5)
    blurred = perception.capture()
    assert sharp.frame.truth.blur_px < 1.0 < 10.0 < blurred.frame.truth.blur_px
    assert perception.better_focus(sharp, blurred) and not perception.better_focus(blurred, sharp)
    assert perception.better_focus(sharp, None)


def test_best_by_is_validated() -> None:
    assert EnvConfig.from_dict({"best_by": "sharpness"}).best_by == "sharpness"
    with pytest.raises(SpecError, match="best_by"):
        EnvConfig.from_dict({"best_by": "contrast"})


def test_centre_weighted_exposure_error_is_zero_where_the_detector_works() -> None:
    from dasha.vision.metering import WINDOW_GOOD_GREY, exposure_error_stops

    def frame(window_grey: int) -> np.ndarray:
        img = np.full((64, 64), 200, np.uint8)  # a bright background that whole-frame metering would see
        img[24:40, 24:40] = window_grey  # the AF window: the central quarter
        return img

    lo, hi = WINDOW_GOOD_GREY
    assert exposure_error_stops(frame(int(lo)), centre_weighted=True) == 0.0
    assert exposure_error_stops(frame(int(hi)), centre_weighted=True) == 0.0
    assert exposure_error_stops(frame(int(lo) // 2), centre_weighted=True) == pytest.approx(1.0, abs=0.03)
    assert exposure_error_stops(frame(200), centre_weighted=True) == pytest.approx(np.log2(200 / hi))
    assert exposure_error_stops(frame(255), centre_weighted=True) == 8.0  # clipped
    assert exposure_error_stops(frame(70)) == pytest.approx(1.0)  # the whole frame: median 200 vs 100


def test_a_shot_counts_its_grey_levels_once_for_its_histogram_and_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper histogram (counts, edges, P) and the nine exposure statistics of a shot are those of its frame,
    from one count of its grey levels, however often they are read (the exposure observation reads the previous
    frame's statistics again at every step)."""
    import dasha.envs.perception as perception_module
    from dasha.vision.histogram import grey_levels, paper_histogram
    from dasha.vision.metering import exposure_stats

    counted: list[int] = []
    monkeypatch.setattr(perception_module, "grey_levels", lambda img: counted.append(1) or grey_levels(img))
    env = gym.make("dasha/Exposure-v0", config=EnvConfig(size=128)).unwrapped
    for seed in range(5):
        env.reset(seed=seed)
        env.world.camera.exposure_us = float(EXPOSURE_TABLE[seed * 7])
        shot = env.perception.capture()
        counted.clear()
        for _ in range(3):
            counts, edges, peak = paper_histogram(shot.frame.image)
            assert np.array_equal(shot.counts, counts) and np.array_equal(shot.edges, edges) and shot.peak == peak
            assert np.array_equal(shot.exposure_stats, exposure_stats(shot.frame.image))
            exposure_observation(env.perception, shot, shot, 1)
        assert len(counted) == 1


def test_calibration_errors_draw_the_believed_lens_model_per_episode_and_nothing_else() -> None:
    """``calibration_errors``: each episode's believed lens curve is off by one of the given pairs (both occur), the
    world stays true, and every other draw of the episode is what the world without them draws; bad pairs are one
    clear error."""
    from dasha.envs.focus import FocusEnv

    pairs = ((0.5, 0.0), (-0.5, 0.05))
    plain = FocusEnv(EnvConfig(size=128, detector="in-focus"))
    randomised = FocusEnv(EnvConfig(size=128, detector="in-focus", calibration_errors=pairs))
    seen = set()
    for seed in range(12):
        plain.reset(seed=seed)
        randomised.reset(seed=seed)
        assert plain.world.episode == randomised.world.episode
        assert plain.perception.frames[0].lens_v == randomised.perception.frames[0].lens_v
        error = randomised.perception.calibration_error
        seen.add(error)
        true, believed = randomised.world.camera.lens.curve, randomised.perception.lens_curve
        assert believed.power(50.0) == pytest.approx((1 + error[1]) * true.power(50.0) + error[0])
        assert plain.perception.lens_curve is plain.world.camera.lens.curve
    assert seen == set(pairs)
    from dasha.envs.safety_nets import deployed

    assert deployed(randomised.config, "focus").calibration_errors == ()  # a deployed controller believes its camera
    assert EnvConfig.from_dict({"calibration_errors": [[0.25, 0], [0, -0.05]]}).calibration_errors == (
        (0.25, 0.0), (0.0, -0.05))  # fmt: skip
    for bad in ([[4.0, 0.0]], [[0.5]], "x"):
        with pytest.raises(SpecError, match="calibration_error"):
            EnvConfig.from_dict({"calibration_errors": bad})


def test_metered_jumps_land_the_median_where_they_aim() -> None:
    """``exposure_meter_actions``: action 33 brings an unclipped frame's median to 100 grey in one move, action 34
    the AF window's to ≈ 74 (the simulated sensor is linear; shot noise and the 8-bit cut leave a few %); from a
    clipped frame either jump goes ÷ 8 / × 8 towards the range; without the flag the space is Discrete(33) and a jump
    is refused."""
    from dasha.envs.exposure import ExposureEnv
    from dasha.vision.focus_measures import af_window
    from dasha.vision.metering import WINDOW_TARGET_GREY, median_grey

    env = ExposureEnv(EnvConfig(exposure_meter_actions=True, size=128, lux=(100.0, 100.0)))
    assert env.action_space == gym.spaces.Discrete(35)
    landed = {33: [], 34: []}
    for seed in range(6):
        for action, target, window in ((33, 100.0, False), (34, WINDOW_TARGET_GREY, True)):
            env.reset(seed=seed)
            cam = env.world.camera
            cam.exposure_us = 8_000.0 if seed % 2 else 30_000.0  # dim or bright, never clipped at 100 lx
            env.phase.start(env.perception.capture())
            before = median_grey(af_window(env.phase.shot.frame.image) if window else env.phase.shot.frame.image)
            assert 5 < before < 250, before
            env.step(action)
            img = env.phase.shot.frame.image
            landed[action].append(median_grey(af_window(img) if window else img) / target)
    for action, ratios in landed.items():
        assert np.all(np.abs(np.asarray(ratios) - 1.0) < 0.08), (action, ratios)
    env.reset(seed=0)
    env.world.camera.exposure_us = 4_000_000.0
    env.phase.start(env.perception.capture())
    assert median_grey(env.phase.shot.frame.image) >= 254
    env.step(33)
    assert env.world.camera.exposure_us == pytest.approx(500_000.0)
    plain = ExposureEnv(EnvConfig(size=128))
    assert plain.action_space == gym.spaces.Discrete(33)
    plain.reset(seed=0)
    with pytest.raises(ValueError):
        plain.step(33)


def test_obs_detection_is_gone_and_old_policy_configs_say_so() -> None:
    """A detection ends the joint episode, so a detection flag in the lens observation was always 0 when observed:
    the field is removed. Configs that had it off still load; one that had it on gets a one-line error."""
    assert EnvConfig.from_dict({"obs_detection": False}) == EnvConfig()
    with pytest.raises(SpecError, match="obs_detection was removed"):
        EnvConfig.from_dict({"obs_detection": True})


def _hand_over_at(env, lens_offset_v: float):  # type: ignore[no-untyped-def]
    """Reset, expose the object well, set the lens ``lens_offset_v`` from focus, and let ``high`` hand over."""
    env.reset(seed=3)
    cam = env.world.camera
    cam.exposure_us = env.world.oracle_exposure_us()
    cam.lens.set_voltage(cam.in_focus_voltage() + lens_offset_v)
    env.high.shot = env.perception.capture()  # the frame the exposure agent hands over
    return env.step({"high": 0})


def test_ours_a_real_detection_ends_the_joint_episode_as_in_the_paper() -> None:
    from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv

    env = HierarchicalCameraEnv({"scenes": ("astronaut",), "detector": "haar-face", "start_exposure_us": 20_000})
    obs, _, term, _, _ = _hand_over_at(env, 0.0)  # a sharp, well-exposed face on the hand-over frame: done
    assert term["__all__"] and obs == {} and env.success and env.lens_moves == 0

    obs, _, term, _, _ = _hand_over_at(env, -0.6)  # ≈ 10 px of blur: the lens agent must act
    assert not term["__all__"] and "low_0" in obs and not env.detected
    up_06 = 1 + len(LENS_STEPS_V) + int(np.argmin(np.abs(LENS_STEPS_V - 0.6)))  # the action of ≈ +0.6 V
    assert LENS_MOVES_V[up_06 - 1] == pytest.approx(0.6, abs=0.01)
    _, rewards, term, _, _ = env.step({"low_0": up_06})
    assert term["__all__"] and env.success and env.lens_moves == 1  # the move onto the face ends the search
    assert rewards["low_0"] > 1.0  # +1 for the detection and a defocus-shaping gain

    _hand_over_at(env, 12.0)  # far out of focus: the agent's own stop is a miss
    _, rewards, term, _, _ = env.step({"low_0": 0})
    assert term["__all__"] and not env.success and rewards["low_0"] == -1.0


def test_ours_with_the_ground_truth_judge_only_the_agents_stop_ends_the_episode() -> None:
    from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv

    env = HierarchicalCameraEnv({"scenes": ("camera",), "detector": "in-focus", "start_exposure_us": 20_000})
    obs, _, term, _, _ = _hand_over_at(env, 0.0)
    assert not term["__all__"] and "low_0" in obs and env.detected  # in focus, but the agent must say so
    _, rewards, term, _, _ = env.step({"low_0": 0})  # stop without a lens move: the hand-over frame counts
    assert term["__all__"] and env.success and rewards["low_0"] == 1.0 and env.lens_moves == 0


def test_hierarchical_env_rejects_bad_actions_with_a_clear_error() -> None:
    from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv

    env = HierarchicalCameraEnv({"scenes": ("camera",), "detector": "in-focus", **SMALL})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 99"):
        env.step({"high": 99})
    with pytest.raises(ValueError, match="'high''s turn"):
        env.step({"low_0": 1})


def test_paper_histogram_as_fractions_is_the_same_histogram_normalised() -> None:
    """``obs_hist_fractions`` (the paper preset): the exposure observation's 10 counts become fractions of the pixel
    count and its 11 edges grey / 255 — the paper's histogram, normalised."""
    raw_world, frac_world = SimWorld({"mode": "paper", "size": 96}), SimWorld({"mode": "paper", "size": 96})
    raw = Perception({"mode": "paper", "size": 96}, raw_world.camera)
    frac = Perception({"mode": "paper", "size": 96, "obs_hist_fractions": True}, frac_world.camera)
    a = raw_world.reset(np.random.default_rng(4), raw)
    b = frac_world.reset(np.random.default_rng(4), frac)
    assert np.array_equal(a.frame.image, b.frame.image)
    d = raw.encoder.dim
    oa, ob = exposure_observation(raw, a, None, 0), exposure_observation(frac, b, None, 0)
    assert np.allclose(oa[:d], ob[:d])  # the latent is untouched
    assert np.allclose(ob[d : d + 10], oa[d : d + 10] / 96**2) and ob[d : d + 10].sum() == pytest.approx(1.0)
    assert np.allclose(ob[d + 10 :], oa[d + 10 :] / 255.0) and -0.01 <= ob[d + 10 :].min() <= ob[d + 10 :].max() <= 1.01


def test_gym_make_rewards_like_the_shipped_focus_policy_was_trained() -> None:
    """``gym.make("dasha/Focus-v0")`` shapes its reward with the γ PPO trains the lens agent with (ours mode)."""
    import json
    from pathlib import Path

    from dasha.agents.rllib import PPOSettings

    shipped = json.loads((Path(__file__).resolve().parents[1] / "policies" / "focus" / "policy.json").read_text())
    env = gym.make("dasha/Focus-v0", mode="ours")
    assert env.unwrapped.config.gamma_low == PPOSettings().gamma_low == shipped["env"]["gamma_low"] == 0.99
    env.close()


def test_fit_jump_actions_go_where_the_observation_says() -> None:
    """``lens_fit_actions``: actions 41 / 42 drive the lens to the observed V fit / V other (obs 16, 17), clamped to
    the lens; without the flag the space is Discrete(41) and a jump is refused."""
    from dasha.envs.focus import FocusEnv

    env = FocusEnv(EnvConfig(lens_fit_actions=True, size=96, detector="in-focus"))
    assert env.action_space == gym.spaces.Discrete(43)
    for seed, action, column in ((0, 41, 16), (1, 42, 17), (2, 41, 16)):
        obs, _ = env.reset(seed=seed)
        lens = env.world.camera.lens
        want = lens.limits.clip(lens.voltage + 2.0 * float(obs[column]))
        env.step(action)
        assert abs(lens.voltage - want) < 0.01, (seed, action, lens.voltage, want)
    plain = FocusEnv(EnvConfig(size=96, detector="in-focus"))
    assert plain.action_space == gym.spaces.Discrete(41)
    plain.reset(seed=0)
    with pytest.raises(ValueError):
        plain.step(41)


def test_a_fit_jump_reuses_the_observations_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The observation fits the phase's frames; a fit jump on those same frames does not fit them again."""
    import dasha.envs.perception as perception_module
    from dasha.envs.focus import FocusEnv

    calls: list[int] = []
    real = perception_module.fit_focus

    def spy(volts, *args):  # type: ignore[no-untyped-def]
        calls.append(len(volts))
        return real(volts, *args)

    monkeypatch.setattr(perception_module, "fit_focus", spy)
    env = FocusEnv(EnvConfig(lens_fit_actions=True, size=96, detector="in-focus"))
    env.reset(seed=0)
    assert calls == [1]
    env.step(41)  # jump on the one frame the observation fitted, then observe two frames
    assert calls == [1, 2]
