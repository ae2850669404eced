"""``dasha/Focus-v0``: the low-level agent alone — drive the liquid lens until the object is found.

## Description
The simulated camera looks at a random real-photo scene at a random distance (0.2 m – ∞ by default); the
exposure is set well exposed at the start; the agent commands the Varioptic-class liquid lens (24–70 V).
Success: the detector finds the object — by default the ground-truth ``in-focus`` judge (object blur ≤ 2 px),
or any real detector (``detector="haar-face"``, …).

## Action Space
* ``paper``: ``MultiDiscrete([47, 100])`` — absolute voltage ``min(24 + coarse + fine/100, 70)`` V.
* ``ours``: ``Discrete(41)`` — 0 = stop; 1…40 = relative moves of ±0.04 … ±12 V (20 geometric steps).

## Observation Space
``Box(-inf, inf, (n,), float32)``; layout in :mod:`dasha.envs.task`:
* ``paper``: the encoder latent only (the paper's ``o_L``: no lens position, no history).
* ``ours``: blur, side-of-focus and sharpness estimates of the current, previous and best frames, lens
  voltages, the focus fit of all frames so far (:mod:`dasha.envs.focus_fit`), step, flag.

## Rewards
* ``paper``: r_L of the paper's eq. (12) (:func:`dasha.envs.rewards.paper_low_level_reward`).
* ``ours``: step cost + potential shaping on |defocus|; stop: +1 if the object is found, else −1.

## Starting State
Random scene, distance (uniform in dpt), background depth, illuminance, f-number; exposure set so the
median grey is 100; lens uniform over ``start_lens_range_v`` (default 46–53 V, the focus range of
0.2 m – ∞ plus 1 V) or ``start_lens_v``. The first frame is free. ``ours``: a lens that starts outside
``start_lens_range_v`` (the paper domain's factory 24 V) is first parked at its middle (one counted move).

## Episode End
* Termination — ``paper``: the object is detected (the configured detector or judge: ``estimated-focus`` in
  evaluation, no ground truth). ``ours``: the stop action, or a forced stop after ``lens_horizon`` moves; with
  ``lens_fallback_moves`` > 0 the lens safety net runs first when the final frame fails its acceptance test
  (:mod:`dasha.envs.safety_nets`).
* Truncation — ``paper``: ``lens_horizon`` (10) moves without detection.

## Arguments
``gymnasium.make("dasha/Focus-v0", mode="ours", distance_m=(0.2, inf), ...)`` — any :class:`EnvConfig` field.
``info``: ``success``, ``moves``, ``lens_v``, ``blur_px`` (ground truth, never observed). ``reset(options=
{"home_lens": False})`` leaves the lens where the episode starts it (for methods that are not ours-mode agents).

## Version History
* v0: initial version.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from dasha.envs.config import EnvConfig
from dasha.envs.rewards import ours_move_reward, ours_stop_reward, paper_low_level_reward
from dasha.envs.safety_nets import safety_nets
from dasha.envs.task import CameraTask, Step


class FocusEnv(gym.Env):
    """Liquid-lens focus control (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, render_mode: str | None = None, **kw: Any):
        raw = dict(config) if isinstance(config, dict) else ({} if config is None else None)
        if raw is not None and "detector" not in raw and "detector" not in kw:
            kw["detector"] = "in-focus"
        base = EnvConfig.from_dict(raw if raw is not None else config)
        self.task = CameraTask(base.replace(**kw) if kw else base)
        self.config = self.task.config
        self.action_space = self.task.lens_action_space
        self.observation_space = self.task.focus_observation_space
        self.render_mode = render_mode
        self._step: Step | None = None
        self._best: Step | None = None
        self._history: list[Step] = []
        self.moves = 0
        self.found = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        needs = self.task.detector is not None
        self._step = self.task.reset(self.np_random, needs_detection=needs, oracle_exposure=True)
        self.moves = 0
        if not self.task.paper and (options or {}).get("home_lens", True):
            homed = self.task.home_lens()
            if homed is not None:
                self._step, self.moves = homed, 1
        self._best = self._step
        self._history = [self._step]
        self.found = self.task.detection(self._step) is not None
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._step is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(np.asarray(action, dtype=np.int64).reshape(self.action_space.shape)):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        task, before = self.task, self._step
        if task.paper:
            task.apply_lens(action)
            self.moves += 1
            step = task.capture()
            box = task.detection(step)
            self.found = box is not None
            reward = paper_low_level_reward(self.found, lambda: task.brisque(step, box))
            self._advance(step)
            truncated = not self.found and self.moves >= self.config.lens_horizon
            return self._obs(), reward, self.found, truncated, self._info()
        if not task.apply_lens(action):  # stop
            self._safety_nets()
            return self._obs(), ours_stop_reward(self.found), True, False, self._info()
        self.moves += 1
        step = task.capture()
        reward = ours_move_reward(task.focus_error(before), task.focus_error(step), self.config.gamma_low,
                                  self.config.step_cost)  # fmt: skip
        self.found = task.detection(step) is not None
        self._advance(step)
        if self.moves >= self.config.lens_horizon:  # forced stop
            self._safety_nets()
            return self._obs(), reward + ours_stop_reward(self.found), True, False, self._info()
        return self._obs(), reward, False, False, self._info()

    def _safety_nets(self) -> None:
        """The lens phase ended: the deployed lens net, when the final frame fails its test (off in training)."""
        lens, _ = safety_nets(self.task, self._history, self.config.lens_fallback_moves, 0)
        for extra in lens:
            self.moves += 1
            self._advance(extra)
            self.found = self.task.detection(extra) is not None

    def _advance(self, step: Step) -> None:
        self._step = step
        self._history.append(step)
        if self.task.better_focus(step, self._best):
            self._best = step

    def _obs(self) -> np.ndarray:
        assert self._step is not None
        prev = self._history[-2] if len(self._history) > 1 else None
        return self.task.focus_observation(self._step, prev, self.moves, self._best, self._history)

    def _info(self) -> dict[str, Any]:
        assert self._step is not None
        truth = self._step.frame.truth
        return {
            "success": self.found,
            "moves": self.moves,
            "lens_v": self._step.frame.lens_v,
            "blur_px": truth.blur_px if truth is not None else float("nan"),
        }

    def render(self) -> np.ndarray | None:
        """The last frame as an RGB array (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or self._step is None:
            return None
        return np.repeat(self._step.frame.image[..., None], 3, axis=2)
