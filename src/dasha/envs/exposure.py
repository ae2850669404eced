"""``dasha/Exposure-v0``: the high-level agent alone — set the exposure time from what the camera sees.

## Description
The simulated camera (:mod:`dasha.camera.sim`) looks at a random real-photo scene under a random illuminance;
the agent sets the exposure time until the frame's histogram is well exposed (peak P ∈ [50, 150] grey levels,
the paper's rule). The lens is left where the episode started (exposure does not need focus).

## Action Space
* ``paper``: ``Discrete(148)`` — the exposure table of the paper's code (1 ms … 4.5 s).
* ``ours``: ``Discrete(33)`` — 0 = stop; 1…32 = multiply the exposure by 2^s, s ∈ ±{⅓ … 3 in ⅓, 4 … 10}
  stops (within the camera's 24 µs – 4.5 s, beyond the paper's table).

## Observation Space
``Box(-inf, inf, (n,), float32)``, built by ``CameraTask.exposure_observation``.

``paper`` (the paper's ``o_H``; d = encoder dim):

| Num | feature | range |
|---|---|---|
| 0 … d−1 | encoder latent of the frame | encoder's |
| d … d+9 | 10-bin histogram counts (``obs_hist_fractions``: / pixel count) | 0 … pixels (0 … 1) |
| d+10 … d+20 | the 11 histogram bin edges, grey levels (``obs_hist_fractions``: / 255) | 0 … 255 (0 … 1) |

``ours`` (23 values, then the latent if ``obs_latent``):

| Num | feature | range |
|---|---|---|
| 0 … 4 | grey-level percentiles 1, 10, 50, 90, 99 of this frame / 255 | 0 … 1 |
| 5, 6 | mean / 255, standard deviation / 128 | 0 … 1, 0 … 1 |
| 7, 8 | fraction of pixels ≤ 2 and ≥ 253 (clipped) | 0 … 1 |
| 9 … 17 | the same nine for the previous frame (this frame's on the first step) | 0 … 1 |
| 18, 19 | log exposure of this and of the previous frame: log2(µs / 1000) / 12 | −0.45 … 1.01 (24 µs … 4.5 s) |
| 20 | their difference (this − previous) | −1.46 … 1.46 |
| 21 | moves so far / ``exposure_horizon`` | 0 … 1 |
| 22 | 1 once a previous frame exists, else 0 | 0, 1 |
| 23 … 23+d−1 | encoder latent (``obs_latent``) | encoder's |

## Rewards
* ``paper``: r_H of the paper's eq. (11) (:func:`dasha.envs.rewards.paper_high_level_reward`).
* ``ours``: step cost + shaping on the exposure error in stops; stop: +1 if well exposed, else −1.

## Starting State
Random scene, distance, illuminance (``lux`` range, log-uniform) and f-number from :class:`EnvConfig`; the
exposure starts log-uniform over the table (or ``start_exposure_us``); the first frame is free.

## Episode End
* Termination — ``paper``: after one action (Algorithm 1 with a single agent: a suitable histogram ends the
  episode successfully, an unsuitable one with the penalty). ``ours``: on the stop action, or a forced stop
  after ``exposure_horizon`` moves.
* Truncation: never.

## Arguments
``gymnasium.make("dasha/Exposure-v0", mode="ours", lux=(5, 1000), ...)`` — any :class:`EnvConfig` field.
``info`` carries ``success`` (well exposed), ``moves``, ``peak``, ``exposure_us`` (never observed).

## Version History
* v0: initial version.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from dasha.envs.config import EnvConfig
from dasha.envs.rewards import ours_move_reward, ours_stop_reward, paper_high_level_reward
from dasha.envs.task import CameraTask, Step, exposure_error_stops


class ExposureEnv(gym.Env):
    """Exposure control (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, render_mode: str | None = None, **kw: Any):
        cfg = EnvConfig.from_dict(config).replace(**kw) if kw else EnvConfig.from_dict(config)
        self.task = CameraTask(cfg)
        self.config = self.task.config
        self.action_space = self.task.exposure_action_space
        self.observation_space = self.task.exposure_observation_space
        self.render_mode = render_mode
        self._step: Step | None = None
        self._prev: Step | None = None
        self.moves = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._step = self.task.reset(self.np_random)
        self._prev = None
        self.moves = 0
        return self.task.exposure_observation(self._step, None, 0), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._step is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(np.asarray(action, dtype=np.int64).reshape(self.action_space.shape)):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        if self.task.paper:
            self.task.apply_exposure(action)
            self.moves += 1
            step = self.task.capture()
            reward = paper_high_level_reward(step.peak, lambda: self.task.brisque(step))
            self._prev, self._step = self._step, step
            return self._obs(), reward, True, False, self._info()
        before = self._step
        if not self.task.apply_exposure(action):  # stop
            return self._obs(), ours_stop_reward(before.well_exposed), True, False, self._info()
        self.moves += 1
        step = self.task.capture()
        err_before, err_after = exposure_error_stops(before.frame.image), exposure_error_stops(step.frame.image)
        reward = ours_move_reward(err_before, err_after, self.config.gamma_high, self.config.step_cost)
        self._prev, self._step = before, step
        if self.moves >= self.config.exposure_horizon:  # forced stop
            return self._obs(), reward + ours_stop_reward(step.well_exposed), True, False, self._info()
        return self._obs(), reward, False, False, self._info()

    def _obs(self) -> np.ndarray:
        assert self._step is not None
        return self.task.exposure_observation(self._step, self._prev, self.moves)

    def _info(self) -> dict[str, Any]:
        assert self._step is not None
        s = self._step
        return {
            "success": s.well_exposed,
            "moves": self.moves,
            "peak": s.peak,
            "exposure_us": s.frame.exposure_us,
            "lux": self.task.camera.light.lux_at(0.0),
        }

    def render(self) -> np.ndarray | None:
        """The last frame as an RGB array (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or self._step is None:
            return None
        return np.repeat(self._step.frame.image[..., None], 3, axis=2)
