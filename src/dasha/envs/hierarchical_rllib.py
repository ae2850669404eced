"""``HierarchicalCameraEnv``: :class:`~dasha.envs.hierarchical.HierarchicalCameraEpisode` as an RLlib new-API-stack
``MultiAgentEnv`` — what ``dasha train joint`` samples. The only module of :mod:`dasha.envs` that imports Ray.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.env.multi_agent_env import MultiAgentEnv

from dasha.envs.config import EnvConfig
from dasha.envs.hierarchical import HierarchicalCameraEpisode


class HierarchicalCameraEnv(HierarchicalCameraEpisode, MultiAgentEnv):
    """The hierarchical episode for RLlib (same spaces, same episode; see :mod:`dasha.envs.hierarchical`)."""

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, **kw: Any) -> None:
        HierarchicalCameraEpisode.__init__(self, config, **kw)
        MultiAgentEnv.__init__(self)  # keeps the agents and spaces set above
