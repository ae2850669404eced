"""Environments: Gymnasium single-agent exposure and focus tasks, and the hierarchical RLlib env.

Gymnasium ids ``dasha/Exposure-v0`` and ``dasha/Focus-v0`` are registered on ``import dasha``.
:class:`HierarchicalCameraEnv` (the RLlib form of :class:`HierarchicalCameraEpisode`) imports Ray and is loaded lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

from dasha.envs.config import EVAL_SCENES, TRAIN_SCENES, EnvConfig

_LAZY = {
    "ExposureEnv": "dasha.envs.exposure",
    "FocusEnv": "dasha.envs.focus",
    "HierarchicalCameraEpisode": "dasha.envs.hierarchical",
    "HierarchicalCameraEnv": "dasha.envs.hierarchical_rllib",
    "CameraTask": "dasha.envs.task",
}

__all__ = ["EVAL_SCENES", "TRAIN_SCENES", "EnvConfig", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dasha.envs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def register_envs() -> None:
    """Register the Gymnasium ids (idempotent; string entry points import lazily)."""
    import gymnasium as gym

    for env_id, entry in (
        ("dasha/Exposure-v0", "dasha.envs.exposure:ExposureEnv"),
        ("dasha/Focus-v0", "dasha.envs.focus:FocusEnv"),
    ):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry)
