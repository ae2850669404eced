"""Players: every method, RL or classical, plays the same seeded episodes of the same environment.

An episode is defined by the environment's ``reset(seed)``: scene, background, distance, light, f-number and the start
exposure and lens voltage. RL policies act through the environment; classical methods act on the very same camera
(``env.world.camera``) through the loops of :mod:`dasha.baselines.loops`, reading the same perception and calibration,
and never ground truth — a test hides it from every method. Every method stops by its own rule; success is judged on
the final frame for all alike (:func:`dasha.agents.evaluate.judge`).

Method names: ``NAME+nets`` is ``NAME`` followed by the deployed safety nets (:mod:`dasha.envs.safety_nets`), the
very nets ``dasha`` (= ``dasha_policy+nets``) runs with.

An episode that ends on an unrecovered device fault is reported as faulted
(:func:`~dasha.agents.evaluate.faulted_result`), for every player alike: not as the method's failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dasha.agents.evaluate import EpisodeResult, episode_result, faulted_result, run_episode
from dasha.agents.policy import Policy
from dasha.baselines.loops import classical_nets, exposure_method, focus_method
from dasha.camera.resilient import DEVICE_FAULTS
from dasha.envs.perception import Shot

NETS = "+nets"
"""Suffix of a method run with the deployed safety nets."""

Play = Callable[[Any, Any, int, int], EpisodeResult]


def reports_faults(play: Play) -> Play:
    """A player's ``play`` that reports an episode ended by an unrecovered device fault as faulted."""

    @functools.wraps(play)
    def guarded(self: Any, env: Any, seed: int, index: int) -> EpisodeResult:
        try:
            return play(self, env, seed, index)
        except DEVICE_FAULTS as exc:
            return faulted_result(env, index, exc)

    return guarded


@dataclass
class PolicyPlayer:
    """A trained policy acting through its environment (the env's net budgets say whether its nets run)."""

    name: str
    policy: Policy
    nets: bool = True

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        return run_episode(self.policy, env, seed, index)


@dataclass
class AutofocusPlayer:
    """A classical AF baseline or ``dfd`` (focus env: starts well exposed); ``nets``: then the lens net."""

    name: str
    method: str
    nets: bool = False

    @reports_faults
    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed, options={"home_lens": False})  # the episode start; dfd homes the lens itself
        perception = env.perception
        first = perception.shots[-1]
        shots = focus_method(perception, self.method, first)
        if self.nets:
            classical_nets(perception, [first, *shots], bracket_frames=0)
        return episode_result(env, index, "focus")


@dataclass
class AutoExposurePlayer:
    """A classical AE baseline (exposure env)."""

    name: str
    method: str

    @reports_faults
    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        exposure_method(env.perception, self.method, env.perception.shots[-1])
        return episode_result(env, index, "exposure")


@dataclass
class JointBaselinePlayer:
    """AE baseline, then an AF baseline or ``dfd``, on the hierarchical env's camera. As for dasha, the detector
    finding the object on a frame that passes the focus test ends the search (the paper's rule, made to mean in focus:
    :meth:`~dasha.envs.perception.Perception.accepted`); ``nets``: then the deployed safety nets."""

    name: str
    ae: str = "mean_luminance"
    af: str = "brent"
    nets: bool = False

    @reports_faults
    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        perception = env.perception
        exposure_method(perception, self.ae, perception.shots[-1])
        handover = perception.shots[-1]

        def found(shot: Shot) -> bool:
            return perception.accepted(shot)

        shots = focus_method(perception, self.af, handover, found)
        if self.nets:
            classical_nets(perception, [handover, *shots], found)
        return episode_result(env, index, "joint")


@dataclass
class OraclePlayer:
    """Upper bound: is the object detectable at all? Ground truth allowed: exposures around the oracle exposure
    (×0.5–2, the best first), and for each the true in-focus voltage first, then an even lens grid; the first
    frame that is detected *and* in focus ends the search (its step count measures nothing)."""

    name: str = "oracle"
    exposures: int = 5
    lens_steps: int = 36

    @reports_faults
    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        perception, world, cam = env.perception, env.world, env.world.camera
        lo, hi = perception.config.start_lens_range_v
        lo, hi = max(lo, cam.lens.limits.low), min(hi, cam.lens.limits.high)
        e_best = world.oracle_exposure_us()
        factors = sorted(np.geomspace(0.5, 2.0, self.exposures), key=lambda f: abs(np.log(f)))  # 1 first
        v_focus = world.in_focus_voltage()
        lens = [v_focus] if lo <= v_focus <= hi else []
        lens += list(np.linspace(lo, hi, self.lens_steps))
        for f in factors:
            cam.exposure_us = float(e_best * f)
            for v in lens:
                perception.move_lens(float(v))
                shot = perception.capture()
                if shot.in_focus and perception.detection(shot) is not None:
                    return episode_result(env, index, "joint")
        return episode_result(env, index, "joint")


def play_episodes(
    player: Any, env: Any, episodes: int, seed: int, progress: Any = None, into: list | None = None, stop: Any = None
) -> list[EpisodeResult]:
    """``episodes`` seeded episodes of one player (seeds shared by all players of a suite). ``into``: the list the
    results are appended to as they finish (what an interrupted run keeps); ``stop()`` true: end before the next."""
    out = into if into is not None else []
    for i in range(episodes):
        if stop is not None and stop():
            break
        out.append(player.play(env, seed * 100_003 + i, i))
        if progress is not None:
            progress()
    return out


__all__ = [
    "NETS",
    "AutoExposurePlayer",
    "AutofocusPlayer",
    "JointBaselinePlayer",
    "OraclePlayer",
    "PolicyPlayer",
    "play_episodes",
]
