"""The environment classes a run or policy file may name: an allow-list, never an import of whatever a file says.

``run.json`` and ``policy.json`` record the variant environment a policy was trained on (``env_class``, as
``module:Class``: the paper's RL baselines train on their own environments). A file is data, so the name is only
looked up in :data:`ENV_CLASSES` — the classes dasha ships — and anything else is refused with a
:class:`~dasha.camera.errors.ConfigError` (exit 2) before any module is imported.

The paper RL baselines live above this package (``dasha.baselines``); naming them here is the one deliberate
exception to the import order, recorded in ``tests/test_import_graph.py``: they are imported only when a policy or run
trained on them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from dasha.camera.errors import ConfigError

#: ``module:Class`` → short description, for every environment class a run or policy file may name.
ENV_CLASSES: dict[str, str] = {
    "dasha.envs.exposure:ExposureEnv": "the exposure task",
    "dasha.envs.focus:FocusEnv": "the focus task",
    "dasha.envs.hierarchical:HierarchicalCameraEpisode": "the joint task without Ray",
    "dasha.envs.hierarchical_rllib:HierarchicalCameraEnv": "the joint task (RLlib)",
    "dasha.baselines.paper_rl:PhaseShiftFocusEnv": "the paper's RL baseline [11] (phase_shift_rl)",
    "dasha.baselines.paper_rl:TenFocusEnv": "the paper's RL baseline [12] (ten_rl)",
}


def env_class_name(cls: type) -> str:
    """``module:Class`` of ``cls``; ConfigError unless it is in :data:`ENV_CLASSES` (a run could not be resumed, nor
    its policy loaded, otherwise)."""
    name = f"{cls.__module__}:{cls.__qualname__}"
    check_env_class_name(name, "env_class")
    return name


def check_env_class_name(name: Any, where: str) -> str:
    """``name`` if it is an allowed env class (:data:`ENV_CLASSES`); ConfigError naming ``where`` otherwise.
    Imports nothing."""
    if not isinstance(name, str) or name not in ENV_CLASSES:
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise ConfigError(f"{where} names env class {shown}, which is not one dasha ships (allowed: "
                          f"{', '.join(sorted(ENV_CLASSES))})")  # fmt: skip
    return name


def env_class_named(name: Any, where: str = "env_class") -> type:
    """The allowed env class ``name`` (``module:Class``, :data:`ENV_CLASSES`); ConfigError for any other name."""
    module, _, attr = check_env_class_name(name, where).partition(":")
    return getattr(importlib.import_module(module), attr)
