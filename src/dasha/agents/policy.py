"""Run a trained dasha policy without Ray: torch only, weights loaded safely.

>>> policy = Policy.shipped("joint")                 # doctest: +SKIP  (or Policy.load("path/to/policy_dir"))
>>> action = policy.act("high_level", observation)   # doctest: +SKIP

A policy directory is what :func:`dasha.agents.export.export_policy` writes (``policy.json`` + ``.pt``
``state_dict`` files). Files are read with ``torch.load(weights_only=True)``: tensors only, no pickle code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dasha.agents.envclasses import check_env_class_name
from dasha.agents.nets import ACTIVATIONS, ActorCritic, NumpyActor
from dasha.agents.runfiles import expect, read_json_object
from dasha.camera.errors import ConfigError
from dasha.envs.config import EnvConfig

SUPPORTED_FORMATS = (1,)
#: Largest ``.pt`` file a policy may hold (bytes), and largest network policy.json may describe (parameters).
MAX_PT_BYTES, MAX_PARAMETERS = 512 << 20, 50_000_000


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
    _actors: dict[str, NumpyActor] = field(default_factory=dict, repr=False)
    """The nets' greedy actors in numpy (:class:`~dasha.agents.nets.NumpyActor`), made on first use."""

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
        meta = check_meta(read_json_object(meta_path, "policy file"), root)
        nets: dict[str, ActorCritic] = {}
        for name, m in meta["modules"].items():
            net = ActorCritic(int(m["obs_dim"]), m["nvec"], m["hiddens"], m["activation"])
            file = root / m["file"]
            if file.is_symlink() or not file.is_file():
                raise ConfigError(f"policy file {str(file)!r} is missing")
            if file.stat().st_size > MAX_PT_BYTES:
                raise ConfigError(f"policy file {str(file)!r} is larger than {MAX_PT_BYTES >> 20} MB")
            try:
                state = torch.load(file, map_location="cpu", weights_only=True)
            except Exception as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ConfigError(f"policy file {str(file)!r} is not a tensors-only state_dict ({first})") from None
            try:
                net.load_state_dict(state)
            except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"policy file {str(file)!r} does not match policy.json: {exc}") from None
            if not all(torch.isfinite(v).all() for v in net.state_dict().values()):
                raise ConfigError(f"policy file {str(file)!r} holds NaN or infinite weights")
            nets[name] = net.eval()
        policy = cls(root, meta, nets)
        try:
            policy.env_config()
        except ConfigError as exc:
            raise ConfigError(f"policy file {str(meta_path)!r}: {exc}") from None
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"policy file {str(meta_path)!r}: bad env settings ({exc})") from None
        return policy

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
        """Greedy action of ``module`` for one observation (int for Discrete, array for MultiDiscrete).

        Raises:
            ValueError: the observation holds NaN or ±inf (the policy refuses to act on it: no action is a safe
                default — 0 would mean stop).
        """
        net = self.nets[module]
        x = np.asarray(obs, np.float32)
        if not np.all(np.isfinite(x)):
            bad = np.flatnonzero(~np.isfinite(x.ravel()))
            raise ValueError(f"policy module {module!r}: the observation is not finite at {bad[:8].tolist()} "
                             f"({x.ravel()[bad[:3]].tolist()}); refusing to act")  # fmt: skip
        actor = self._actors.get(module)
        if actor is None:  # numpy inference: the torch net's argmax without torch's per-call overhead
            actor = self._actors[module] = NumpyActor(net)
        a = actor.greedy(x.reshape(1, -1))[0]
        return int(a[0]) if len(net.nvec) == 1 else a


def check_meta(meta: dict[str, Any], root: Path) -> dict[str, Any]:
    """``policy.json``'s keys and types: format, task, mode, env, modules (their files plain names in the policy
    directory, their layers within :data:`MAX_PARAMETERS`), and an env class from the allow-list
    (:data:`dasha.agents.envclasses.ENV_CLASSES`); ConfigError otherwise."""
    from dasha.envs.hierarchical import HIGH_MODULE, LOW_MODULE

    where = f"policy file {str(root / 'policy.json')!r}"
    if meta.get("format") not in SUPPORTED_FORMATS:
        raise ConfigError(f"{str(root)!r}: unsupported policy format {meta.get('format')!r}")
    task = expect(meta, "task", (str,), where)
    names = {"exposure": {"exposure"}, "focus": {"focus"}, "joint": {HIGH_MODULE, LOW_MODULE}}.get(task)
    if names is None:
        raise ConfigError(f"{where}: unknown task {task[:40]!r}")
    if expect(meta, "mode", (str,), where) not in ("paper", "ours"):
        raise ConfigError(f"{where}: mode must be 'paper' or 'ours'")
    expect(meta, "env", (dict,), where)
    for key in ("variant", "encoder", "preset", "dasha_version"):
        expect(meta, key, (str,), where, optional=True)
    expect(meta, "training", (dict,), where, optional=True)
    if meta.get("env_class") is not None:
        check_env_class_name(meta["env_class"], where)
    modules = expect(meta, "modules", (dict,), where)
    if not modules:
        raise ConfigError(f"{str(root)!r}: policy.json lists no modules")
    if set(modules) != names:
        raise ConfigError(f"{where}: a {task} policy has modules {sorted(names)}, not {sorted(modules)[:4]}")
    for name, m in modules.items():
        _check_module(m, f"{where} module {name!r}")
    return meta


def _check_module(m: Any, where: str) -> None:
    if not isinstance(m, dict):
        raise ConfigError(f"{where} must be an object")
    file = expect(m, "file", (str,), where)
    if not file.endswith(".pt") or file.startswith(".") or "/" in file or "\\" in file or len(file) > 100:
        raise ConfigError(f"{where}: file must be a .pt file name inside the policy directory, not {file[:60]!r}")
    width = expect(m, "obs_dim", (int,), where)
    nvec, hiddens = expect(m, "nvec", (list,), where), expect(m, "hiddens", (list,), where)
    for key, values in (("nvec", nvec), ("hiddens", hiddens)):
        if not 1 <= len(values) <= 8 or not all(type(v) is int and 1 <= v <= 100_000 for v in values):
            raise ConfigError(f"{where}: {key} must be 1–8 positive integers")
    if expect(m, "activation", (str,), where) not in ACTIVATIONS:
        raise ConfigError(f"{where}: activation must be one of {sorted(ACTIVATIONS)}")
    params = 0
    for out in (*hiddens, sum(nvec)), (*hiddens, 1):  # actor and critic trunks
        n_in = width
        for n_out in out:
            params += (n_in + 1) * n_out
            n_in = n_out
    if not 1 <= width or params > MAX_PARAMETERS:
        raise ConfigError(f"{where}: a network of {params} parameters (obs_dim {width}) is not a dasha policy")
