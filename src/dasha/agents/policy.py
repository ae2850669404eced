"""Run a trained dasha policy without Ray: torch only, weights loaded safely.

>>> policy = Policy.shipped("joint")                 # doctest: +SKIP  (or Policy.load("path/to/policy_dir"))
>>> action = policy.act("high_level", observation)   # doctest: +SKIP

A policy directory is what :func:`dasha.agents.export.export_policy` writes (``policy.json`` + ``.pt``
``state_dict`` files). Files are read with ``torch.load(weights_only=True)``: tensors only, no pickle code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dasha.agents.nets import ActorCritic
from dasha.camera.errors import ConfigError
from dasha.envs.config import EnvConfig

SUPPORTED_FORMATS = (1,)


def policies_root() -> Path:
    """Directory of the shipped policies: ``$DASHA_POLICIES`` if set, else the copy inside the installed package
    (``dasha/policies``; the checkout's top-level ``policies`` links to it)."""
    import os

    env = os.environ.get("DASHA_POLICIES")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "policies"


def shipped_policy(name: str) -> Path:
    """Directory of the shipped policy ``name`` (``joint``, ``focus``, …); ConfigError if there is none."""
    path = policies_root() / name
    if not (path / "policy.json").is_file():
        raise ConfigError(f"no shipped {name} policy at {path}; train one with `dasha train` and pass its directory")
    return path


@dataclass
class Policy:
    """A loaded policy: its metadata and one :class:`ActorCritic` per module."""

    path: Path
    meta: dict[str, Any]
    nets: dict[str, ActorCritic]

    @classmethod
    def shipped(cls, name: str) -> Policy:
        """Load the shipped policy ``name`` (``joint``, ``focus``, ``exposure``, …) wherever dasha is installed."""
        return cls.load(shipped_policy(name))

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Load a policy directory; ConfigError with the reason if it is missing or malformed."""
        root = Path(path)
        meta_path = root / "policy.json"
        if not meta_path.is_file():
            raise ConfigError(f"{str(root)!r} is not a dasha policy directory (no policy.json)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{str(meta_path)!r} is not valid JSON: {exc}") from None
        if meta.get("format") not in SUPPORTED_FORMATS:
            raise ConfigError(f"{str(root)!r}: unsupported policy format {meta.get('format')!r}")
        nets: dict[str, ActorCritic] = {}
        for name, m in meta.get("modules", {}).items():
            net = ActorCritic(int(m["obs_dim"]), m["nvec"], m["hiddens"], m["activation"])
            file = root / m["file"]
            if not file.is_file():
                raise ConfigError(f"policy file {str(file)!r} is missing")
            try:
                state = torch.load(file, map_location="cpu", weights_only=True)
            except Exception as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ConfigError(f"policy file {str(file)!r} is not a tensors-only state_dict ({first})") from None
            try:
                net.load_state_dict(state)
            except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"policy file {str(file)!r} does not match policy.json: {exc}") from None
            nets[name] = net.eval()
        if not nets:
            raise ConfigError(f"{str(root)!r}: policy.json lists no modules")
        return cls(root, meta, nets)

    @property
    def task(self) -> str:
        """``exposure``, ``focus`` or ``joint``."""
        return str(self.meta["task"])

    def env_config(self, **changes: Any) -> EnvConfig:
        """The environment configuration the policy was trained with (``changes`` applied)."""
        env = dict(self.meta["env"])
        env["distance_m"] = [float(d) for d in env["distance_m"]]
        env.update(changes)
        return EnvConfig.from_dict(env)

    def check_env(self, env: Any) -> None:
        """ConfigError unless ``env``'s observation and action spaces match what the policy was trained on."""
        from dasha.agents.nets import action_nvec
        from dasha.envs.hierarchical import module_spaces

        for name, (obs_space, act_space) in module_spaces(env, self.task).items():
            m = self.meta["modules"][name]
            got = (int(np.prod(obs_space.shape)), action_nvec(act_space))
            if got != (int(m["obs_dim"]), list(m["nvec"])):
                raise ConfigError(
                    f"{self.path}: module {name!r} was trained for observations of {m['obs_dim']} and actions "
                    f"{m['nvec']}, but this dasha's environment has {got[0]} and {got[1]}; retrain the policy"
                )

    def act(self, module: str, obs: np.ndarray) -> np.ndarray | int:
        """Greedy action of ``module`` for one observation (int for Discrete, array for MultiDiscrete)."""
        net = self.nets[module]
        with torch.inference_mode():
            a = net.greedy(torch.as_tensor(np.asarray(obs, np.float32)).reshape(1, -1))[0].numpy()
        return int(a[0]) if len(net.nvec) == 1 else a
