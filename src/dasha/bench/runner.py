"""Players: every method, RL or classical, plays the same seeded episodes of the same environment.

An episode is defined by the environment's ``reset(seed)``: scene, background, distance, light, f-number and the start
exposure and lens voltage. RL policies act through the environment; classical methods act on the very same camera
(``env.task.camera``) through the loops of :mod:`dasha.baselines.loops`, reading the same perception and calibration,
and never ground truth — a test hides it from every method. Every method stops by its own rule; success is judged on
the final frame for all alike (:func:`dasha.agents.evaluate.judge`).

Method names: ``NAME+nets`` is ``NAME`` followed by the deployed safety nets (:mod:`dasha.envs.safety_nets`), the
very nets ``dasha`` (= ``dasha_policy+nets``) runs with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dasha.agents.evaluate import EpisodeResult, episode_result, run_episode
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import make_autoexposure
from dasha.baselines.autofocus import make_autofocus
from dasha.baselines.loops import af_params, autoexposure_loop, autofocus_loop, dfd_loop, make_dfd
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES
from dasha.envs.safety_nets import safety_nets
from dasha.envs.task import CameraTask, Step

NETS = "+nets"
"""Suffix of a method run with the deployed safety nets."""


@dataclass
class PolicyPlayer:
    """A trained policy acting through its environment (the env's net budgets say whether its nets run)."""

    name: str
    policy: Policy
    nets: bool = True

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        return run_episode(self.policy, env, seed, index)


def _focus_phase(task: CameraTask, method: str, first: Step, done: Any = None) -> tuple[list[Step], float]:
    """A classical lens phase (an AF baseline or ``dfd``) from ``first``; (frames, decision seconds)."""
    if method == "dfd":
        return dfd_loop(task, make_dfd(task), first, done)
    return autofocus_loop(task, make_autofocus(method, af_params(task)), first, done)


def _nets(task: CameraTask, history: list[Step], done: Any = None) -> None:
    """The deployed safety nets after a classical lens phase (nothing if ``done`` already holds)."""
    if done is not None and done(history[-1]):
        return
    safety_nets(task, history, EVAL_FALLBACK_MOVES, EVAL_BRACKET_MOVES)


@dataclass
class AutofocusPlayer:
    """A classical AF baseline or ``dfd`` (focus env: starts well exposed); ``nets``: then the lens net."""

    name: str
    method: str
    nets: bool = False

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed, options={"home_lens": False})  # the episode start; dfd homes the lens itself
        task = env.task
        first = task.steps[-1]
        steps, decide = _focus_phase(task, self.method, first)
        if self.nets:
            _nets(task, [first, *steps])
        return episode_result(task, index, "focus", decide)


@dataclass
class AutoExposurePlayer:
    """A classical AE baseline (exposure env)."""

    name: str
    method: str

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task = env.task
        _, decide = autoexposure_loop(task, make_autoexposure(self.method), task.steps[-1])
        return episode_result(task, index, "exposure", decide)


@dataclass
class JointBaselinePlayer:
    """AE baseline, then an AF baseline or ``dfd``, on the hierarchical env's camera. As for dasha, the detector
    finding the object on a frame that passes the focus test ends the search (the paper's rule, made to mean in focus:
    :meth:`~dasha.envs.task.CameraTask.accepted`); ``nets``: then the deployed safety nets."""

    name: str
    ae: str = "mean_luminance"
    af: str = "brent"
    nets: bool = False

    def play(self, env: Any, seed: int, index: int) -> EpisodeResult:
        env.reset(seed=seed)
        task = env.task
        _, d1 = autoexposure_loop(task, make_autoexposure(self.ae), task.steps[-1])
        handover = task.steps[-1]

        def found(step: Step) -> bool:
            return task.accepted(step)

        steps, d2 = _focus_phase(task, self.af, handover, found)
        if self.nets:
            _nets(task, [handover, *steps], found)
        return episode_result(task, index, "joint", d1 + d2)


@dataclass
class OraclePlayer:
    """Upper bound: is the object detectable at all? Ground truth allowed: exposures around the oracle exposure
    (×0.5–2, the best first), and for each the true in-focus voltage first, then an even lens grid; the first
    frame that is detected *and* in focus ends the search (its step count measures nothing)."""

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
        for f in factors:
            cam.exposure_us = float(e_best * f)
            for v in lens:
                cam.lens.set_voltage(float(v))
                step = task.capture()
                if step.in_focus and task.detection(step) is not None:
                    return episode_result(task, index, "joint")
        return episode_result(task, index, "joint")


def play_episodes(player: Any, env: Any, episodes: int, seed: int, progress: Any = None) -> list[EpisodeResult]:
    """``episodes`` seeded episodes of one player (seeds shared by all players of a suite)."""
    out = []
    for i in range(episodes):
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
