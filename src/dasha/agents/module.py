"""RLlib (new API stack) wrapper around :class:`dasha.agents.nets.ActorCritic`.

``model_config`` keys: ``hiddens`` (list of widths, default ``[256, 256]``), ``activation`` (``tanh``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchCategorical, TorchMultiCategorical
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule

from dasha.agents.nets import ActorCritic, action_nvec

__all__ = ["DashaPPOModule", "action_nvec"]


class DashaPPOModule(TorchRLModule, ValueFunctionAPI):
    """PPO module: separate MLP actor and critic over a flat observation vector."""

    def setup(self) -> None:
        obs_dim = int(np.prod(self.observation_space.shape))
        nvec = action_nvec(self.action_space)
        cfg = self.model_config or {}
        self.net = ActorCritic(obs_dim, nvec, cfg.get("hiddens", [256, 256]), cfg.get("activation", "tanh"))
        if isinstance(self.action_space, gym.spaces.Discrete):
            self.action_dist_cls = TorchCategorical
        else:
            self.action_dist_cls = TorchMultiCategorical.get_partial_dist_cls(input_lens=nvec)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        obs = batch[Columns.OBS].reshape(batch[Columns.OBS].shape[0], -1).float()
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(obs)}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> Any:
        obs = batch[Columns.OBS].reshape(batch[Columns.OBS].shape[0], -1).float()
        return self.net.value(obs)
