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
As :class:`~dasha.envs.world.SimWorld` draws it from :class:`EnvConfig`. Without ``scenes`` and with a real
detector (the default ``haar-face``) the objects are :data:`~dasha.envs.config.TRAIN_FACE_SCENES`, photos that
detector can find, so ``HierarchicalCameraEnv()`` resets as it is.

## Spaces
``high``: exposure actions (:mod:`dasha.envs.actions`) and observations (:mod:`dasha.envs.observations`),
``low_k``: lens actions and observations (paper or ours mode). Each turn is an :class:`~dasha.envs.phases.ExposurePhase`
followed by a :class:`~dasha.envs.phases.LensPhase`; this class adds the rewards.

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
  ≤ 1.5 px (:meth:`~dasha.envs.perception.Perception.found`; success is detected *and* in focus, and a detector also
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

from dasha.camera.sim import SimCamera
from dasha.envs.actions import checked_action
from dasha.envs.config import EnvConfig, joint_training_scenes
from dasha.envs.observations import (
    exposure_observation,
    exposure_observation_space,
    focus_observation,
    focus_observation_space,
)
from dasha.envs.perception import Perception
from dasha.envs.phases import ExposurePhase, LensPhase
from dasha.envs.rewards import (
    frame_focus_error,
    ours_move_reward,
    ours_stop_reward,
    paper_high_level_reward,
    paper_low_level_reward,
)
from dasha.envs.world import SimWorld
from dasha.vision.metering import exposure_error_stops

HIGH = "high"
"""Agent id of the high-level (exposure) agent."""
HIGH_MODULE, LOW_MODULE = "high_level", "low_level"
"""Policy module ids of the two agents of the joint task."""


def low_id(turn: int) -> str:
    """Low-level agent id of high-level turn ``turn``."""
    return f"low_{turn}"


def module_of(agent_id: str) -> str:
    """The policy module an agent id acts with: ``high`` → ``high_level``, every ``low_k`` → ``low_level``."""
    return HIGH_MODULE if agent_id == HIGH else LOW_MODULE


def module_spaces(env: Any, task: str) -> dict[str, tuple[Any, Any]]:
    """The policy modules of ``task`` and the (observation, action) spaces each acts in, read from ``env``: the
    joint task's ``high_level`` (agent ``high``) and ``low_level`` (every ``low_k``, all alike); a single-agent
    task's one module, named after the task."""
    if task == "joint":
        low = low_id(0)
        return {HIGH_MODULE: (env.observation_spaces[HIGH], env.action_spaces[HIGH]),
                LOW_MODULE: (env.observation_spaces[low], env.action_spaces[low])}  # fmt: skip
    return {task: (env.observation_space, env.action_space)}


def policy_mapping_fn(agent_id: str, *args: Any, **kwargs: Any) -> str:
    """RLlib policy mapping (:func:`module_of`)."""
    return module_of(agent_id)


class HierarchicalCameraEpisode:
    """Exposure agent + lens agent taking turns on one simulated camera (see the module docstring).

    RLlib's multi-agent dict API (``reset`` / ``step`` over agent-id dicts, ``observation_spaces``,
    ``action_spaces``, ``agents``) without Ray; RLlib trains on its subclass ``HierarchicalCameraEnv``.
    """

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, *, camera: SimCamera | None = None,
                 **kw: Any) -> None:  # fmt: skip
        cfg = EnvConfig.from_dict(config)
        cfg = cfg.replace(**kw) if kw else cfg
        scenes_given = isinstance(config, EnvConfig) or "scenes" in (config or {}) or "scenes" in kw
        if not scenes_given:  # a real detector needs photos it can find (a face)
            cfg = cfg.replace(scenes=joint_training_scenes(cfg.detector))
        self.config = cfg
        self.world = SimWorld(cfg, camera)
        self.perception = Perception(cfg, self.world.camera)
        self.paper_mode = cfg.mode == "paper"
        self.high = ExposurePhase(self.perception)
        self.low = LensPhase(self.perception, early_stop=True)
        turns = cfg.max_high_level_steps if self.paper_mode else 1
        self.low_ids = [low_id(k) for k in range(turns)]
        self.agents = self.possible_agents = [HIGH, *self.low_ids]
        self.observation_spaces = {HIGH: exposure_observation_space(self.perception)}
        self.action_spaces = {HIGH: self.high.actions.space}
        for aid in self.low_ids:
            self.observation_spaces[aid] = focus_observation_space(self.perception)
            self.action_spaces[aid] = self.low.actions.space
        self._rng = np.random.default_rng()
        self.last_outcome: dict[str, Any] = {}
        self._reset_state()

    def _reset_state(self) -> None:
        self.turn = 0
        self.phase = HIGH
        self.exposure_moves = 0
        self.lens_moves = 0
        self.detected = False
        self._started = False

    # -- gym-style API ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._reset_state()
        first = self.world.reset(self._rng, self.perception, needs_detection=self.perception.detector is not None)
        self.high.start(first)
        self._started = True
        return {HIGH: self.high.observation()}, {}

    def step(self, action_dict: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        agent = HIGH if self.phase == HIGH else low_id(self.turn)
        if agent not in action_dict:
            raise ValueError(f"it is {agent!r}'s turn; got actions for {sorted(action_dict)}")
        action, space = action_dict[agent], self.action_spaces[agent]
        try:
            checked_action(action, space)
        except ValueError as exc:
            raise ValueError(f"{agent!r}: {exc}") from None
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

    def observe(self, agent: str) -> np.ndarray:
        """What ``high`` (or a low-level agent) observes of the current frame now, whoever's turn it is (the
        PettingZoo view lets both agents observe at every step)."""
        lens_turn = self.phase != HIGH and self.low.shot is not None
        if agent == HIGH:
            if not lens_turn:
                return self.high.observation()
            return exposure_observation(self.perception, self.low.shot, self.low.prev, self.high.moves)  # type: ignore[arg-type]
        if lens_turn:
            return self.low.observation()
        return focus_observation(self.perception, self.high.shot, self.high.prev, 0)  # type: ignore[arg-type]

    # -- phases ----------------------------------------------------------------------------------------
    def _hand_over(self, rewards: dict[str, float]) -> tuple[dict, dict, dict, dict, dict]:
        self.phase = "low"
        shot = self.high.shot
        assert shot is not None
        over = self.low.start(shot)  # ours: found on the hand-over (or parked) frame ends the search
        self.lens_moves += self.low.moves
        if not self.paper_mode:
            self.detected = self.low.detected
        if over:
            return {}, rewards, _flags(all_=True), _flags(), self._final_info(HIGH)
        return {low_id(self.turn): self.low.observation()}, rewards, _flags(), _flags(), {}

    def _high_step(self, action: Any) -> tuple[dict, dict, dict, dict, dict]:
        high = self.high
        before = high.shot
        assert before is not None
        if self.paper_mode:
            high.act(action)
            self.exposure_moves += 1
            shot = high.shot
            assert shot is not None
            reward = paper_high_level_reward(shot.peak, lambda: self.perception.brisque(shot))
            if not shot.suitable:  # Algorithm 1: unsuitable histogram ends the episode with the penalty
                return {}, {HIGH: reward}, _flags(all_=True), _flags(), self._final_info(HIGH)
            return self._hand_over({HIGH: reward})
        if not high.act(action):  # hand over: the paper's suitability test decides the sign
            return self._hand_over({HIGH: ours_stop_reward(before.suitable)})
        self.exposure_moves += 1
        after = high.shot
        assert after is not None
        # centre-weighted metering: the detector needs the object exposed, not the frame average
        err_before = exposure_error_stops(before.frame.image, centre_weighted=True)
        err_after = exposure_error_stops(after.frame.image, centre_weighted=True)
        reward = ours_move_reward(err_before, err_after, self.config.gamma_high, self.config.step_cost)
        if high.done:  # forced hand-over after exposure_horizon moves
            return self._hand_over({HIGH: reward + ours_stop_reward(after.suitable)})
        return {HIGH: high.observation()}, {HIGH: reward}, _flags(), _flags(), {}

    def _low_step(self, action: Any) -> tuple[dict, dict, dict, dict, dict]:
        low, lid = self.low, low_id(self.turn)
        before = low.shot
        assert before is not None
        moves_before, bracket_before = low.moves, low.bracket
        moved = low.act(action)
        self.lens_moves += low.moves - moves_before
        self.exposure_moves += low.bracket - bracket_before
        self.detected = low.detected
        if not moved:  # our stop (the safety nets have run)
            return {}, {lid: ours_stop_reward(self.detected)}, _flags(all_=True), _flags(), self._final_info(lid)
        after = low.moved
        assert after is not None
        if self.paper_mode:
            box = self.perception.detection(after)
            reward = paper_low_level_reward(box is not None, lambda: self.perception.brisque(after, box))
            if low.reason == "found":
                return {}, {lid: reward}, _flags(all_=True), _flags(), self._final_info(lid)
            if not low.done:
                return {lid: low.observation()}, {lid: reward}, _flags(), _flags(), {}
            return self._back_to_high(lid, reward)
        reward = ours_move_reward(frame_focus_error(before.frame.truth), frame_focus_error(after.frame.truth),
                                  self.config.gamma_low, self.config.step_cost)  # fmt: skip
        if low.reason == "found":  # a real detector found the object, in focus: done (the paper's rule, made sharp)
            return {}, {lid: reward + ours_stop_reward(True)}, _flags(all_=True), _flags(), self._final_info(lid)
        if low.done:  # forced stop after lens_horizon moves (the safety nets have run)
            return (
                {},
                {lid: reward + ours_stop_reward(self.detected)},
                _flags(all_=True),
                _flags(),
                self._final_info(lid),
            )
        return {lid: low.observation()}, {lid: reward}, _flags(), _flags(), {}

    def _back_to_high(self, lid: str, reward: float) -> tuple[dict, dict, dict, dict, dict]:
        """Paper: the low-level horizon ended without detection; the high level acts again (or truncation)."""
        self.turn += 1
        self.phase = HIGH
        shot = self.low.shot
        assert shot is not None
        last_low_obs = self.low.observation()
        self.high.start(shot)
        terminateds = _flags(**{lid: True})
        if self.turn >= len(self.low_ids):  # truncation: every agent with a pending action gets a last obs
            obs = {HIGH: self.high.observation(), lid: last_low_obs}
            return obs, {lid: reward}, terminateds, _flags(all_=True), self._final_info(lid)
        return {HIGH: self.high.observation()}, {lid: reward}, terminateds, _flags(), {}

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
