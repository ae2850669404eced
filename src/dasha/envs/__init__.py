"""Environments: Gymnasium single-agent exposure and focus tasks, and the hierarchical RLlib env.

Gymnasium ids ``dasha/Exposure-v0`` and ``dasha/Focus-v0`` are registered on ``import dasha`` (at once, or right
after Gymnasium is imported: see :mod:`dasha`) by :func:`register_envs`. Every name here loads lazily, so
``import dasha.envs`` itself imports neither Gymnasium nor the simulator; :class:`HierarchicalCameraEnv` (the RLlib
form of :class:`HierarchicalCameraEpisode`) imports Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "EVAL_SCENES": "dasha.envs.config",
    "TRAIN_SCENES": "dasha.envs.config",
    "EnvConfig": "dasha.envs.config",
    "ExposureEnv": "dasha.envs.exposure",
    "FocusEnv": "dasha.envs.focus",
    "HierarchicalCameraEpisode": "dasha.envs.hierarchical",
    "HierarchicalCameraEnv": "dasha.envs.hierarchical_rllib",
    "SimWorld": "dasha.envs.world",
    "Perception": "dasha.envs.perception",
    "Shot": "dasha.envs.perception",
    "ExposurePhase": "dasha.envs.phases",
    "LensPhase": "dasha.envs.phases",
}

__all__ = [*_LAZY, "register_envs"]

#: Gymnasium id → entry point (a string: the environment module is imported by ``gym.make``, not here).
GYM_IDS = {"dasha/Exposure-v0": "dasha.envs.exposure:ExposureEnv", "dasha/Focus-v0": "dasha.envs.focus:FocusEnv"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dasha.envs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def register_envs() -> None:
    """Register the Gymnasium ids (idempotent; string entry points import lazily)."""
    import gymnasium as gym

    for env_id, entry in GYM_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry)
