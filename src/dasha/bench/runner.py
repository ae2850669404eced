"""Players: every method, RL or classical, plays the same seeded episodes of the same environment.

An episode is defined by the environment's ``reset(seed)``: scene, distance, light, f-number and the start
exposure and lens voltage. RL policies act through the environment; classical baselines act on the very same
simulated camera (``env.task.camera``) through the Camera/Lens protocols and never read ground truth — a test
hides it from them. Success is judged on the final frame, as for the policies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dasha.agents.evaluate import EpisodeResult, episode_result, run_episode
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import Measurement, make_autoexposure
from dasha.baselines.autofocus import AfParams, make_autofocus
from dasha.envs.task import OURS_EXPOSURE_RANGE_US, CameraTask, Step
from dasha.vision.focus_measures import tenengrad


@dataclass
class PolicyPlayer:
    """A trained policy acting through its environment."""

    name: str
    policy: Policy

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        return run_episode(self.policy, env, seed, index)


def _autofocus(task: CameraTask, method_name: str, params: AfParams) -> tuple[float, int]:
    """Run an AF baseline from the current frame; returns (compute seconds, decisions)."""
    cam = task.camera
    method = make_autofocus(method_name, params)
    t0 = time.perf_counter()
    command = method.start(cam.lens.voltage, tenengrad(task.frames[-1].image))
    compute, decisions = time.perf_counter() - t0, 1
    while True:
        if command.lens_v is not None:
            cam.lens.set_voltage(command.lens_v)
            frame = cam.capture()
            task.frames.append(frame)
        if command.done:
            return compute, decisions
        t0 = time.perf_counter()
        command = method.step(tenengrad(frame.image))
        compute += time.perf_counter() - t0
        decisions += 1


def _autoexposure(task: CameraTask, method_name: str) -> tuple[float, int]:
    """Run an AE baseline from the current frame; returns (compute seconds, decisions)."""
    cam = task.camera
    method = make_autoexposure(method_name)
    method.params.min_us, method.params.max_us = OURS_EXPOSURE_RANGE_US  # the same range as our policy
    t0 = time.perf_counter()
    command = method.start(cam.exposure_us, Measurement.of(task.frames[-1].image))
    compute, decisions = time.perf_counter() - t0, 1
    while not command.done:
        cam.exposure_us = command.exposure_us  # type: ignore[assignment]
        frame = cam.capture()
        task.frames.append(frame)
        t0 = time.perf_counter()
        command = method.step(Measurement.of(frame.image))
        compute += time.perf_counter() - t0
        decisions += 1
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
    """AE baseline, then AF baseline, on the hierarchical env's camera; success = detection."""

    name: str
    ae: str = "mean_luminance"
    af: str = "brent"

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task = env.task
        c1, d1 = _autoexposure(task, self.ae)
        c2, d2 = _autofocus(task, self.af, af_params(task))
        step = _last_step(task)
        return episode_result(task, index, task.detection(step) is not None, c1 + c2, d1 + d2)


@dataclass
class OraclePlayer:
    """Upper bound: the best cell of an exposure × lens grid (is the object detectable at all?)."""

    name: str = "oracle"
    exposures: int = 12
    lens_steps: int = 36

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task, cam = env.task, env.task.camera
        lo, hi = task.config.start_lens_range_v
        e_best = task.oracle_exposure_us()
        exposures = e_best * np.geomspace(0.5, 2.0, self.exposures // 3)  # around the best exposure
        found = False
        for e in exposures:
            cam.exposure_us = float(e)
            for v in np.linspace(lo, hi, self.lens_steps):
                cam.lens.set_voltage(float(v))
                step = task.capture()
                if task.detection(step) is not None:
                    found = True
                    break
            if found:
                break
        return episode_result(task, index, found, 0.0, 1)


def _last_step(task: CameraTask) -> Step:
    """Features and histogram of the episode's last frame (for the success test)."""
    from dasha.vision.histogram import paper_histogram

    frame = task.frames[-1]
    counts, edges, peak = paper_histogram(frame.image)
    return Step(frame, np.zeros(1, np.float32), peak, counts, edges)


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
