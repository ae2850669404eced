"""``dasha/Exposure-v0``: the high-level agent alone — set the exposure time from what the camera sees.

## Description
The simulated camera (:mod:`dasha.camera.sim`) looks at a random real-photo scene under a random illuminance;
the agent sets the exposure time until the frame's histogram is well exposed (peak P ∈ [50, 150] grey levels,
the paper's rule). The lens is left where the episode started (exposure does not need focus).

## Action Space
* ``paper``: ``Discrete(148)`` — the exposure table of the paper's code (1 ms … 4.5 s).
* ``ours``: ``Discrete(33)`` — 0 = stop; 1…32 = multiply the exposure by 2^s, s ∈ ±{⅓ … 3 in ⅓, 4 … 10}
  stops (within the camera's 24 µs – 4.5 s, beyond the paper's table). ``exposure_meter_actions=True``:
  ``Discrete(35)``, 33 jumps to the exposure that brings the frame's median to 100 grey, 34 the AF window's median
  to ≈ 74 grey (one move on a linear sensor; ×/÷ 8 when that median is clipped).

## Observation Space
``Box(-inf, inf, (n,), float32)``: the exposure observation of :mod:`dasha.envs.observations`, whose Num / feature /
range tables give both layouts — ``paper``: the paper's ``o_H`` (encoder latent, 10 histogram counts, 11 bin edges;
as fractions with ``obs_hist_fractions``); ``ours``: 23 brightness and exposure-history values (25 with ``obs_peak``:
the paper's histogram peak P and its rule; then the latent with ``obs_latent``).

## Rewards
* ``paper``: r_H of the paper's eq. (11) (:func:`dasha.envs.rewards.paper_high_level_reward`).
* ``ours``: step cost + shaping on the exposure error in stops (0 on a well-exposed frame: no reward for polishing
  what the goal already accepts); stop: +1 if well exposed, else −1.

## Starting State
Random scene, distance, illuminance (``lux`` range, log-uniform) and f-number from :class:`EnvConfig`; the
exposure starts log-uniform over the table (or ``start_exposure_us``); the first frame is free.

## Episode End
* Termination — ``paper``: after one action (Algorithm 1 with a single agent: a suitable histogram ends the
  episode successfully, an unsuitable one with the penalty). ``ours``: on the stop action, or a forced stop
  after ``exposure_horizon`` moves.
* Truncation: never.

## Arguments
``gymnasium.make("dasha/Exposure-v0", mode="ours", lux=(5, 1000), ...)`` — any :class:`EnvConfig` field;
``camera=`` a :class:`~dasha.camera.sim.SimCamera` to drive.
``info`` carries ``success`` (well exposed), ``moves``, ``peak``, ``exposure_us`` (not observed as such; ``obs_peak``
observes P).

## Version History
* v0: initial version.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from dasha.camera.sim import SimCamera
from dasha.envs.actions import checked_action
from dasha.envs.config import EnvConfig
from dasha.envs.observations import exposure_observation_space
from dasha.envs.perception import Perception, Shot
from dasha.envs.phases import ExposurePhase
from dasha.envs.rewards import ours_move_reward, ours_stop_reward, paper_high_level_reward
from dasha.envs.world import SimWorld
from dasha.vision.metering import exposure_error_stops


def _error(shot: Shot) -> float:
    """The shaping's exposure error (stops): 0 once the frame is well exposed, else the whole-frame error."""
    return 0.0 if shot.well_exposed else exposure_error_stops(shot.frame.image)


class ExposureEnv(gym.Env):
    """Exposure control: a reward adapter over the simulated world and the exposure phase (module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, render_mode: str | None = None, *,
                 camera: SimCamera | None = None, **kw: Any) -> None:  # fmt: skip
        self.config = EnvConfig.from_dict(config).replace(**kw) if kw else EnvConfig.from_dict(config)
        self.world = SimWorld(self.config, camera)
        self.perception = Perception(self.config, self.world.camera)
        self.phase = ExposurePhase(self.perception)
        self.action_space = self.phase.actions.space
        self.observation_space = exposure_observation_space(self.perception)
        self.render_mode = render_mode
        self._started = False

    @property
    def moves(self) -> int:
        """Exposure moves so far."""
        return self.phase.moves

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.phase.start(self.world.reset(self.np_random, self.perception))
        self._started = True
        return self.phase.observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        checked_action(action, self.action_space)  # ValueError: not an integer action inside the space
        phase = self.phase
        before = phase.shot
        assert before is not None
        if phase.actions.paper_mode:  # one action per episode (Algorithm 1 with a single agent)
            phase.act(action)
            shot = phase.shot
            assert shot is not None
            reward = paper_high_level_reward(shot.peak, lambda: self.perception.brisque(shot))
            return phase.observation(), reward, True, False, self._info()
        if not phase.act(action):  # stop
            return phase.observation(), ours_stop_reward(before.well_exposed), True, False, self._info()
        after = phase.shot
        assert after is not None
        reward = ours_move_reward(_error(before), _error(after), self.config.gamma_high, self.config.step_cost)
        if phase.done:  # forced stop after exposure_horizon moves
            return phase.observation(), reward + ours_stop_reward(after.well_exposed), True, False, self._info()
        return phase.observation(), reward, False, False, self._info()

    def _info(self) -> dict[str, Any]:
        s = self.phase.shot
        assert s is not None
        return {
            "success": s.well_exposed,
            "moves": self.moves,
            "peak": s.peak,
            "exposure_us": s.frame.exposure_us,
            "lux": self.world.camera.light.lux_at(0.0),
        }

    def render(self) -> np.ndarray | None:
        """The last frame as an RGB array (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or self.phase.shot is None:
            return None
        return np.repeat(self.phase.shot.frame.image[..., None], 3, axis=2)
