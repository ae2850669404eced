"""DASHA's two agents taking turns: :class:`HierarchicalCameraEpisode` (no Ray) and, for training, its RLlib
new-API-stack ``MultiAgentEnv`` form :class:`~dasha.envs.hierarchical_rllib.HierarchicalCameraEnv` (the same
episode; evaluation, the bench, the demo and the PettingZoo view use the episode and never import Ray).

## Description
The high-level agent ``"high"`` sets the exposure; when the histogram is suitable it hands control to a
low-level agent that drives the liquid lens until the detector finds the object (paper Fig. 2, Algorithms
1–2). As in the authors' code, every high-level step gets a new low-level agent id (``"low_0"``,
``"low_1"``, …, all mapped to one ``low_level`` policy); the paper's discounts are γ_H = 0.99, γ_L = 0
(applied per module by :class:`dasha.agents.learner.HierPPOTorchLearner`).

Only the agent that must act next appears in the observation dict. Rewards given to ``"high"`` while a
low-level agent acts are summed into its next transition by RLlib (one high-level transition per decision).

## Starting State
As :class:`~dasha.envs.task.CameraTask` draws it from :class:`EnvConfig`. Without ``scenes`` and with a real
detector (the default ``haar-face``) the objects are :data:`~dasha.envs.config.TRAIN_FACE_SCENES`, photos that
detector can find, so ``HierarchicalCameraEnv()`` resets as it is.

## Spaces
``high``: exposure actions/observations, ``low_k``: lens actions/observations of :mod:`dasha.envs.task`
(paper or ours mode).

## Rewards
* ``paper``: ``high`` gets r_H after each exposure action (eq. 11); each lens step gives ``low_k`` r_L (eq. 12).
* ``ours``: ``high`` gets exposure shaping per move (centre-weighted metering: the AF window's median into grey
  55–100, where the detector works; no reward for polishing inside it) and ±1 at hand-over (histogram suitable
  or not); ``low_k`` gets defocus shaping per move, ±1 on stop (object found or not) and +1 when a real
  detector finds the object.

## Episode End
* ``paper`` — termination: an unsuitable histogram (P ∉ [25, 175], penalty) or a detection. A low-level agent
  that used its ``lens_horizon`` (10) moves without detection is terminated and control returns to
  ``high``. Truncation: after ``max_high_level_steps`` high-level steps (the paper has no cap).
* ``ours`` — termination: a real detector (``haar-face``, …) finds the object on a frame whose estimated blur is
  ≤ 1.5 px (:meth:`~dasha.envs.task.CameraTask.accepted`; success is detected *and* in focus, and a detector also
  fires on a blurred object) — on the hand-over frame or after a lens move — which ends the search as in the paper;
  or the low-level agent's stop (or forced stop
  after ``lens_horizon`` moves), after which the deployed safety nets run when the final frame fails their test
  (``lens_fallback_moves``, ``bracket_moves`` > 0: :mod:`dasha.envs.safety_nets`). ``high``
  hands over with its stop action (forced after ``exposure_horizon`` moves). With the ground-truth
  ``in-focus`` judge (training) nothing ends the episode but the stop: the agent learns to recognise focus
  itself (the judge also scores the hand-over frame, so a stop there without a lens move can succeed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dasha.envs.config import JUDGES, TRAIN_FACE_SCENES, EnvConfig
from dasha.envs.rewards import (
    ours_move_reward,
    ours_stop_reward,
    paper_high_level_reward,
    paper_low_level_reward,
)
from dasha.envs.safety_nets import safety_nets
from dasha.envs.task import CameraTask, Step, exposure_error_stops

HIGH = "high"


def low_id(turn: int) -> str:
    """Low-level agent id of high-level turn ``turn``."""
    return f"low_{turn}"


def policy_mapping_fn(agent_id: str, *args: Any, **kwargs: Any) -> str:
    """RLlib policy mapping: ``high`` → ``high_level``, every ``low_k`` → ``low_level``."""
    return "high_level" if agent_id == HIGH else "low_level"


class HierarchicalCameraEpisode:
    """Exposure agent + lens agent taking turns on one simulated camera (see the module docstring).

    RLlib's multi-agent dict API (``reset`` / ``step`` over agent-id dicts, ``observation_spaces``,
    ``action_spaces``, ``agents``) without Ray; RLlib trains on its subclass ``HierarchicalCameraEnv``.
    """

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, **kw: Any) -> None:
        cfg = EnvConfig.from_dict(config)
        cfg = cfg.replace(**kw) if kw else cfg
        scenes_given = isinstance(config, EnvConfig) or "scenes" in (config or {}) or "scenes" in kw
        if not scenes_given and cfg.detector not in JUDGES:  # a real detector needs photos it can find (a face)
            cfg = cfg.replace(scenes=TRAIN_FACE_SCENES)
        self.task = CameraTask(cfg)
        self.config = self.task.config
        turns = self.config.max_high_level_steps if self.task.paper else 1
        self.low_ids = [low_id(k) for k in range(turns)]
        self.agents = self.possible_agents = [HIGH, *self.low_ids]
        self.observation_spaces = {HIGH: self.task.exposure_observation_space}
        self.action_spaces = {HIGH: self.task.exposure_action_space}
        for aid in self.low_ids:
            self.observation_spaces[aid] = self.task.focus_observation_space
            self.action_spaces[aid] = self.task.lens_action_space
        self._rng = np.random.default_rng()
        self.last_outcome: dict[str, Any] = {}
        self._reset_state()

    def _reset_state(self) -> None:
        self.turn = 0
        self.phase = HIGH
        self.exposure_moves = 0
        self.lens_moves = 0
        self.turn_lens_moves = 0
        self.turn_exposure_moves = 0
        self.detected = False
        self.step_: Step | None = None
        self.prev: Step | None = None
        self.best: Step | None = None
        self.lens_history: list[Step] = []

    # -- gym-style API ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._reset_state()
        self.step_ = self.task.reset(self._rng, needs_detection=self.task.detector is not None)
        return {HIGH: self._high_obs()}, {}

    def step(self, action_dict: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self.step_ is None:
            raise RuntimeError("call reset() before step()")
        agent = HIGH if self.phase == HIGH else low_id(self.turn)
        if agent not in action_dict:
            raise ValueError(f"it is {agent!r}'s turn; got actions for {sorted(action_dict)}")
        action, space = action_dict[agent], self.action_spaces[agent]
        if not space.contains(np.asarray(action, dtype=np.int64).reshape(space.shape)):
            raise ValueError(f"invalid action {action!r} for {agent!r}: {space}")
        if self.phase == HIGH:
            return self._high_step(action)
        return self._low_step(action)

    @property
    def low_id_now(self) -> str:
        """Id of the low-level agent of the current high-level turn."""
        return low_id(self.turn)

    @property
    def total_moves(self) -> int:
        """Exposure plus lens commands so far."""
        return self.exposure_moves + self.lens_moves

    @property
    def success(self) -> bool:
        """The detector found the object on the latest frame (the joint task's success)."""
        return self.detected

    # -- phases ----------------------------------------------------------------------------------------
    def _high_obs(self) -> np.ndarray:
        assert self.step_ is not None
        return self.task.exposure_observation(self.step_, self.prev, self.turn_exposure_moves)

    def _low_obs(self) -> np.ndarray:
        assert self.step_ is not None
        return self.task.focus_observation(self.step_, self.prev, self.turn_lens_moves, self.best, self.lens_history)

    def _advance(self, step: Step) -> None:
        self.prev, self.step_ = self.step_, step
        self.lens_history.append(step)
        if self.task.better_focus(step, self.best):
            self.best = step

    def _hand_over(self, rewards: dict[str, float]) -> tuple[dict, dict, dict, dict, dict]:
        self.phase = "low"
        self.turn_lens_moves = 0
        self.prev = None  # the lens agent's history starts at the hand-over frame
        if not self.task.paper:  # ours: the hand-over frame may already do
            self.detected = self.task.detection(self.step_) is not None
            if self._found(self.step_):
                return {}, rewards, _flags(all_=True), _flags(), self._final_info(HIGH)
            homed = self.task.home_lens()  # a lens at rest (factory start) is parked in the agents' range first
            if homed is not None:
                self.lens_moves += 1
                self.turn_lens_moves += 1
                self.step_ = homed
                self.detected = self.task.detection(homed) is not None
                if self._found(homed):
                    return {}, rewards, _flags(all_=True), _flags(), self._final_info(HIGH)
        self.best = self.step_
        self.lens_history = [self.step_]
        return {low_id(self.turn): self._low_obs()}, rewards, _flags(), _flags(), {}

    def _high_step(self, action: Any) -> tuple[dict, dict, dict, dict, dict]:
        task = self.task
        assert self.step_ is not None
        if task.paper:
            task.apply_exposure(action)
            self.exposure_moves += 1
            step = task.capture()
            self._advance(step)
            reward = paper_high_level_reward(step.peak, lambda: task.brisque(step))
            if not step.suitable:  # Algorithm 1: unsuitable histogram ends the episode with the penalty
                return {}, {HIGH: reward}, _flags(all_=True), _flags(), self._final_info(HIGH)
            return self._hand_over({HIGH: reward})
        before = self.step_
        if not task.apply_exposure(action):  # hand over: the paper's suitability test decides the sign
            return self._hand_over({HIGH: ours_stop_reward(before.suitable)})
        self.exposure_moves += 1
        self.turn_exposure_moves += 1
        step = task.capture()
        self._advance(step)
        # centre-weighted metering: the detector needs the object exposed, not the frame average
        err_before = exposure_error_stops(before.frame.image, centre_weighted=True)
        err_after = exposure_error_stops(step.frame.image, centre_weighted=True)
        reward = ours_move_reward(err_before, err_after, self.config.gamma_high, self.config.step_cost)
        if self.turn_exposure_moves >= self.config.exposure_horizon:
            return self._hand_over({HIGH: reward + ours_stop_reward(step.suitable)})
        return {HIGH: self._high_obs()}, {HIGH: reward}, _flags(), _flags(), {}

    def _low_step(self, action: Any) -> tuple[dict, dict, dict, dict, dict]:
        task, lid = self.task, low_id(self.turn)
        before = self.step_
        assert before is not None
        if not task.paper and not task.apply_lens(action):  # our stop
            self._safety_nets()
            return {}, {lid: ours_stop_reward(self.detected)}, _flags(all_=True), _flags(), self._final_info(lid)
        if task.paper:
            task.apply_lens(action)
        self.lens_moves += 1
        self.turn_lens_moves += 1
        step = task.capture()
        self._advance(step)
        box = task.detection(step)
        self.detected = box is not None
        if task.paper:
            reward = paper_low_level_reward(self.detected, lambda: task.brisque(step, box))
            if self.detected:
                return {}, {lid: reward}, _flags(all_=True), _flags(), self._final_info(lid)
            if self.turn_lens_moves < self.config.lens_horizon:
                return {lid: self._low_obs()}, {lid: reward}, _flags(), _flags(), {}
            return self._back_to_high(lid, reward)
        reward = ours_move_reward(task.focus_error(before), task.focus_error(step), self.config.gamma_low,
                                  self.config.step_cost)  # fmt: skip
        if self._found(step):  # a real detector found the object, in focus: done (the paper's rule, made sharp)
            return {}, {lid: reward + ours_stop_reward(True)}, _flags(all_=True), _flags(), self._final_info(lid)
        if self.turn_lens_moves >= self.config.lens_horizon:  # forced stop
            self._safety_nets()
            return (
                {},
                {lid: reward + ours_stop_reward(self.detected)},
                _flags(all_=True),
                _flags(),
                self._final_info(lid),
            )
        return {lid: self._low_obs()}, {lid: reward}, _flags(), _flags(), {}

    def _found(self, step: Step) -> bool:
        """Ours, real detector: the search is over — detected on a frame that passes the focus test."""
        return self.task.detector is not None and self.task.accepted(step)

    def _safety_nets(self) -> None:
        """Ours: the lens phase ended — the deployed nets (:mod:`dasha.envs.safety_nets`; off in training)."""
        assert self.step_ is not None
        if self._found(self.step_):
            return
        lens, bracket = safety_nets(self.task, self.lens_history, self.config.lens_fallback_moves,
                                    self.config.bracket_moves)  # fmt: skip
        for extra in lens:
            self.lens_moves += 1
            self.turn_lens_moves += 1
            self._advance(extra)
            self.detected = self.task.detection(extra) is not None
        for extra in bracket:
            self.exposure_moves += 1
            self._advance(extra)
            self.detected = self.task.detection(extra) is not None

    def _back_to_high(self, lid: str, reward: float) -> tuple[dict, dict, dict, dict, dict]:
        """Paper: the low-level horizon ended without detection; the high level acts again (or truncation)."""
        self.turn += 1
        self.phase = HIGH
        self.turn_exposure_moves = 0
        terminateds = _flags(**{lid: True})
        if self.turn >= len(self.low_ids):  # truncation: every agent with a pending action gets a last obs
            obs = {HIGH: self._high_obs(), lid: self._low_obs()}
            return obs, {lid: reward}, terminateds, _flags(all_=True), self._final_info(lid)
        return {HIGH: self._high_obs()}, {lid: reward}, terminateds, _flags(), {}

    def _final_info(self, agent_id: str) -> dict[str, dict[str, Any]]:
        """Episode outcome under the agent that acted last; also kept as ``last_outcome`` (RLlib drops infos of
        agents that receive no final observation, so training callbacks read the attribute)."""
        self.last_outcome = {
            "success": self.detected,
            "moves": self.total_moves,
            "exposure_moves": self.exposure_moves,
            "lens_moves": self.lens_moves,
        }
        return {agent_id: dict(self.last_outcome)}


def _flags(all_: bool = False, **agents: bool) -> dict[str, bool]:
    return {"__all__": all_, **agents}
