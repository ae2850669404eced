"""``dasha/Focus-v0``: the low-level agent alone — drive the liquid lens until the object is found.

## Description
The simulated camera looks at a random real-photo scene at a random distance (0.2 m – ∞ by default); the
exposure is set well exposed at the start; the agent commands the Varioptic-class liquid lens (24–70 V).
Success: the detector finds the object — by default the ground-truth ``in-focus`` judge (object blur ≤ 2 px),
or any real detector (``detector="haar-face"``, …).

## Action Space
* ``paper``: ``MultiDiscrete([47, 100])`` — absolute voltage ``min(24 + coarse + fine/100, 70)`` V.
* ``ours``: ``Discrete(41)`` — 0 = stop; 1…40 = relative moves of ±0.04 … ±12 V (20 geometric steps);
  ``lens_fit_actions=True``: ``Discrete(43)``, 41 and 42 jump to the focus fit's best voltage and to its best
  voltage on the other side of the lens (:mod:`dasha.envs.actions`).

## Observation Space
``Box(-inf, inf, (n,), float32)``; the Num / feature / range tables are in :mod:`dasha.envs.observations`:
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
``gymnasium.make("dasha/Focus-v0", mode="ours", distance_m=(0.2, inf), ...)`` — any :class:`EnvConfig` field;
``camera=`` a :class:`~dasha.camera.sim.SimCamera` to drive (e.g. a lens with narrower limits).
``info``: ``success``, ``moves``, ``lens_v``, ``blur_px`` (ground truth, never observed). ``reset(options=
{"home_lens": False})`` leaves the lens where the episode starts it (for methods that are not ours-mode agents).

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
from dasha.envs.observations import focus_observation_space
from dasha.envs.perception import Perception
from dasha.envs.phases import LensPhase
from dasha.envs.rewards import frame_focus_error, ours_move_reward, ours_stop_reward, paper_low_level_reward
from dasha.envs.world import SimWorld


class FocusEnv(gym.Env):
    """Liquid-lens focus control: a reward adapter over the simulated world and the lens phase (module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, render_mode: str | None = None, *,
                 camera: SimCamera | None = None, **kw: Any) -> None:  # fmt: skip
        raw = dict(config) if isinstance(config, dict) else ({} if config is None else None)
        if raw is not None and "detector" not in raw and "detector" not in kw:
            kw["detector"] = "in-focus"
        base = EnvConfig.from_dict(raw if raw is not None else config)
        self.config = base.replace(**kw) if kw else base
        self.world = SimWorld(self.config, camera)
        self.perception = Perception(self.config, self.world.camera)
        self.phase = LensPhase(self.perception, early_stop=False, bracket_frames=0)
        self.action_space = self.phase.actions.space
        self.observation_space = focus_observation_space(self.perception)
        self.render_mode = render_mode
        self._started = False

    @property
    def moves(self) -> int:
        """Lens moves so far (the parking move and the safety net's included)."""
        return self.phase.moves

    @property
    def found(self) -> bool:
        """The detector (or judge) finds the object on the current frame."""
        return self.phase.detected

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        needs = self.perception.detector is not None
        first = self.world.reset(self.np_random, self.perception, needs_detection=needs, oracle_exposure=True)
        self.phase.home = (options or {}).get("home_lens", True)
        self.phase.start(first)
        self._started = True
        return self.phase.observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        checked_action(action, self.action_space)  # ValueError: not an integer action inside the space
        phase, perception = self.phase, self.perception
        before = phase.shot
        assert before is not None
        if phase.paper_mode:
            phase.act(action)
            shot = phase.shot
            assert shot is not None
            box = perception.detection(shot)
            reward = paper_low_level_reward(box is not None, lambda: perception.brisque(shot, box))
            truncated = phase.reason == "horizon"
            return self.phase.observation(), reward, phase.reason == "found", truncated, self._info()
        if not phase.act(action):  # stop (then the deployed lens net, when it is on)
            return phase.observation(), ours_stop_reward(self.found), True, False, self._info()
        after = phase.moved
        assert after is not None
        reward = ours_move_reward(frame_focus_error(before.frame.truth), frame_focus_error(after.frame.truth),
                                  self.config.gamma_low, self.config.step_cost)  # fmt: skip
        if phase.done:  # forced stop after lens_horizon moves (then the deployed lens net, when it is on)
            return phase.observation(), reward + ours_stop_reward(self.found), True, False, self._info()
        return phase.observation(), reward, False, False, self._info()

    def _info(self) -> dict[str, Any]:
        shot = self.phase.shot
        assert shot is not None
        truth = shot.frame.truth
        return {
            "success": self.found,
            "moves": self.moves,
            "lens_v": shot.frame.lens_v,
            "blur_px": truth.blur_px if truth is not None else float("nan"),
        }

    def render(self) -> np.ndarray | None:
        """The last frame as an RGB array (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or self.phase.shot is None:
            return None
        return np.repeat(self.phase.shot.frame.image[..., None], 3, axis=2)
