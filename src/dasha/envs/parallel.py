"""PettingZoo view of the hierarchical task: ``HierarchicalParallelEnv`` (needs the ``pettingzoo`` extra).

## Description
The same episode as :class:`~dasha.envs.hierarchical.HierarchicalCameraEpisode` (same seed, same frames, same
rewards), seen through PettingZoo's ``ParallelEnv`` API for multi-agent libraries other than RLlib. DASHA's
agents take turns; a parallel API steps every live agent at once, so both agents stay live for the whole
episode, both observe at every step, and only the agent whose turn it is acts — the other's action is ignored.

## Agents
``possible_agents = ["high", "low"]``: ``high`` sets the exposure, ``low`` drives the lens (every low-level turn
of the paper mode, ``low_0``, ``low_1``, …, is the one agent ``low`` here).

## Spaces
Per agent, the hierarchical env's spaces (:mod:`dasha.envs.observations`, :mod:`dasha.envs.actions`).
``infos[agent]["acting"]`` says whose turn it is; ``infos[agent]["action_mask"]`` (ours mode's discrete actions) is
all ones for the acting agent and all zeros but action 0 for the waiting one (its action is ignored either way).

## Rewards
The hierarchical env's rewards, mapped to ``high`` / ``low`` (0 for an agent that got none this step).

## Episode End
When the hierarchical episode ends, both agents are terminated (or truncated) together and ``agents`` empties;
``infos`` then carry the outcome (``success``, ``moves``, …).
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from dasha.envs.config import EnvConfig
from dasha.envs.hierarchical import HIGH, HierarchicalCameraEpisode

LOW = "low"


class HierarchicalParallelEnv(ParallelEnv):
    """Turn-taking DASHA agents as a PettingZoo parallel environment (see the module docstring)."""

    metadata = {"name": "dasha_hierarchical_v0", "render_modes": []}  # noqa: RUF012  (PettingZoo's convention)

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, **kw: Any) -> None:
        self.env = HierarchicalCameraEpisode(config, **kw)
        self.possible_agents = [HIGH, LOW]
        self.agents: list[str] = []
        self._acting = HIGH

    @functools.cache  # noqa: B019  (one space object per agent, as PettingZoo requires)
    def observation_space(self, agent: str) -> gym.Space:
        return self.env.observation_spaces[HIGH if agent == HIGH else self.env.low_ids[0]]

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> gym.Space:
        return self.env.action_spaces[HIGH if agent == HIGH else self.env.low_ids[0]]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self._acting = HIGH
        return self._observations(), self._infos({})

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        if self._acting not in actions:
            raise ValueError(f"it is {self._acting!r}'s turn; actions given for {sorted(actions)}")
        inner = HIGH if self._acting == HIGH else self.env.low_id_now
        obs, rewards, terms, truncs, infos = self.env.step({inner: actions[self._acting]})
        reward = {HIGH: 0.0, LOW: 0.0}
        for aid, r in rewards.items():
            reward[HIGH if aid == HIGH else LOW] += float(r)
        done, cut = bool(terms["__all__"]), bool(truncs["__all__"])
        if not (done or cut):
            (inner_next,) = obs
            self._acting = HIGH if inner_next == HIGH else LOW
        outcome = {k: v for d in infos.values() for k, v in d.items()} if (done or cut) else {}
        observations, out_infos = self._observations(), self._infos(outcome)
        terminated = dict.fromkeys(self.agents, done and not cut)
        truncated = dict.fromkeys(self.agents, cut)
        if done or cut:
            self.agents = []
        return observations, reward, terminated, truncated, out_infos

    def _observations(self) -> dict[str, np.ndarray]:
        return {HIGH: self.env.observe(HIGH), LOW: self.env.observe(LOW)}

    def _infos(self, outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for agent in self.possible_agents:
            info: dict[str, Any] = {"acting": agent == self._acting, **outcome}
            space = self.action_space(agent)
            if isinstance(space, gym.spaces.Discrete):
                n = int(space.n)
                info["action_mask"] = np.ones(n, np.int8) if agent == self._acting else np.eye(n, dtype=np.int8)[0]
            out[agent] = info
        return out
