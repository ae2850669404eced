"""Players: every method, RL or classical, plays the same seeded episodes of the same environment.

An episode is defined by the environment's ``reset(seed)``: scene, distance, light, f-number and the start
exposure and lens voltage. RL policies act through the environment; classical baselines act on the very same
simulated camera (``env.task.camera``) through the Camera/Lens protocols and never read ground truth — a test
hides it from them. Success is judged on the final frame, as for the policies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dasha.agents.evaluate import EpisodeResult, episode_result, run_episode
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import AutoExposureMethod, Measurement, make_autoexposure
from dasha.baselines.autofocus import AfParams, AutofocusMethod, make_autofocus
from dasha.camera.base import Camera, Frame
from dasha.envs.task import OURS_EXPOSURE_RANGE_US, CameraTask, Step
from dasha.vision.focus_measures import af_window, tenengrad


@dataclass
class PolicyPlayer:
    """A trained policy acting through its environment (with the deployed safety nets unless ``safety_nets`` is
    False: :mod:`dasha.envs.lens_fallback`, :mod:`dasha.envs.exposure_bracket`)."""

    name: str
    policy: Policy
    safety_nets: bool = True

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        return run_episode(self.policy, env, seed, index)


def focus_score(image: np.ndarray) -> float:
    """Tenengrad of the AF window (what the AF baselines maximise)."""
    return float(tenengrad(af_window(image)))


def autofocus_loop(
    camera: Camera, method: AutofocusMethod, first: Frame, done: Callable[[Frame], bool] | None = None
) -> tuple[list[Frame], float, int]:
    """Run an AF method on any camera with a lens, from the frame ``first`` (taken at the current setting).

    The method sees only focus scores of the AF window; ``done`` (e.g. "the detector finds the object") ends
    the search early on any frame, ``first`` included. Returns the frames captured after ``first``, the
    method's compute time (s) and its number of decisions.
    """
    lens = camera.lens
    if lens is None:
        raise ValueError("autofocus needs a camera with a lens")
    frames: list[Frame] = []
    if done is not None and done(first):
        return frames, 0.0, 0
    t0 = time.perf_counter()
    command = method.start(lens.voltage, focus_score(first.image))
    compute, decisions = time.perf_counter() - t0, 1
    while True:
        if command.lens_v is not None:
            lens.set_voltage(command.lens_v)
            frames.append(camera.capture())
            if done is not None and done(frames[-1]):
                return frames, compute, decisions
        if command.done:
            return frames, compute, decisions
        t0 = time.perf_counter()
        command = method.step(focus_score(frames[-1].image))
        compute += time.perf_counter() - t0
        decisions += 1


def autoexposure_loop(camera: Camera, method: AutoExposureMethod, first: Frame) -> tuple[list[Frame], float, int]:
    """Run an AE method on any camera from the frame ``first``; same returns as :func:`autofocus_loop`."""
    frames: list[Frame] = []
    t0 = time.perf_counter()
    command = method.start(camera.exposure_us, Measurement.of(first.image))
    compute, decisions = time.perf_counter() - t0, 1
    while not command.done:
        camera.exposure_us = command.exposure_us  # type: ignore[assignment]
        frames.append(camera.capture())
        t0 = time.perf_counter()
        command = method.step(Measurement.of(frames[-1].image))
        compute += time.perf_counter() - t0
        decisions += 1
    return frames, compute, decisions


def _autofocus(
    task: CameraTask, method_name: str, params: AfParams, done: Callable[[Frame], bool] | None = None
) -> tuple[float, int]:
    method = make_autofocus(method_name, params)
    frames, compute, decisions = autofocus_loop(task.camera, method, task.frames[-1], done)
    task.frames.extend(frames)
    return compute, decisions


def _autoexposure(task: CameraTask, method_name: str) -> tuple[float, int]:
    method = make_autoexposure(method_name)
    method.params.min_us, method.params.max_us = OURS_EXPOSURE_RANGE_US  # the same range as our policy
    frames, compute, decisions = autoexposure_loop(task.camera, method, task.frames[-1])
    task.frames.extend(frames)
    return compute, decisions


def af_params(task: CameraTask) -> AfParams:
    """Search range of the AF baselines: the same lens range the episodes start in (default 46–53 V)."""
    lo, hi = task.config.start_lens_range_v
    return AfParams(lo_v=lo, hi_v=hi)


@dataclass
class AutofocusPlayer:
    """A classical AF baseline (focus env: starts well exposed)."""

    name: str

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task = env.task
        compute, decisions = _autofocus(task, self.name, af_params(task))
        step = _last_step(task)
        return episode_result(task, index, task.detection(step) is not None, compute, decisions)


@dataclass
class AutoExposurePlayer:
    """A classical AE baseline (exposure env)."""

    name: str

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task = env.task
        compute, decisions = _autoexposure(task, self.name)
        step = _last_step(task)
        return episode_result(task, index, step.well_exposed, compute, decisions)


@dataclass
class JointBaselinePlayer:
    """AE baseline, then AF baseline, on the hierarchical env's camera; success = detection. As for dasha, the
    detector finding the object ends the search (the paper's rule)."""

    name: str
    ae: str = "mean_luminance"
    af: str = "brent"

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task = env.task
        c1, d1 = _autoexposure(task, self.ae)
        c2, d2 = _autofocus(task, self.af, af_params(task), done=lambda f: task.detection(_step_of(f)) is not None)
        step = _last_step(task)
        return episode_result(task, index, task.detection(step) is not None, c1 + c2, d1 + d2)


@dataclass
class OraclePlayer:
    """Upper bound: is the object detectable at all? Ground truth allowed: exposures around the oracle exposure
    (×0.5–2, the best first), and for each the true in-focus voltage first, then an even lens grid; the
    first detection ends the search (its step count measures nothing)."""

    name: str = "oracle"
    exposures: int = 5
    lens_steps: int = 36

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task, cam = env.task, env.task.camera
        lo, hi = task.config.start_lens_range_v
        e_best = task.oracle_exposure_us()
        factors = sorted(np.geomspace(0.5, 2.0, self.exposures), key=lambda f: abs(np.log(f)))  # 1 first
        v_focus = cam.in_focus_voltage()
        lens = [v_focus] if lo <= v_focus <= hi else []
        lens += list(np.linspace(lo, hi, self.lens_steps))
        found = False
        for f in factors:
            cam.exposure_us = float(e_best * f)
            for v in lens:
                cam.lens.set_voltage(float(v))
                step = task.capture()
                if task.detection(step) is not None:
                    found = True
                    break
            if found:
                break
        return episode_result(task, index, found, 0.0, 1)


def _step_of(frame: Frame) -> Step:
    """A frame with its histogram (what the success test needs; no features)."""
    from dasha.vision.histogram import paper_histogram

    counts, edges, peak = paper_histogram(frame.image)
    return Step(frame, np.zeros(1, np.float32), peak, counts, edges)


def _last_step(task: CameraTask) -> Step:
    """The episode's last frame, for the success test."""
    return _step_of(task.frames[-1])


def play_episodes(player: Any, env: Any, episodes: int, seed: int, progress: Any = None) -> list[EpisodeResult]:
    """``episodes`` seeded episodes of one player (seeds shared by all players of a suite)."""
    out = []
    for i in range(episodes):
        out.append(player.play(env, seed * 100_003 + i, i))
        if progress is not None:
            progress()
    return out


__all__ = [
    "AutoExposurePlayer",
    "AutofocusPlayer",
    "JointBaselinePlayer",
    "OraclePlayer",
    "PolicyPlayer",
    "play_episodes",
]
