"""Export a trained RLlib algorithm as a small, pickle-free policy directory.

Layout::

    policy.json       format version, task, mode, env config, and per module: obs_dim, nvec, hiddens,
                      activation, file; plus the training summary (steps, final success rate)
    <module>.pt       torch ``state_dict`` of :class:`dasha.agents.nets.ActorCritic` (tensors only;
                      loaded with ``torch.load(weights_only=True)``)

Single-agent tasks export one module named after the task (``exposure`` or ``focus``); the joint task exports
``high_level`` and ``low_level``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import dasha
from dasha.envs.hierarchical import HIGH_MODULE, LOW_MODULE, module_spaces
from dasha.jsonio import dumps, write_atomic

POLICY_FORMAT = 1


def module_ids(task: str) -> dict[str, str]:
    """Policy module name → RLlib module id, per task."""
    if task == "joint":
        return {HIGH_MODULE: HIGH_MODULE, LOW_MODULE: LOW_MODULE}
    return {task: "default_policy"}


def export_policy(algo: Any, spec: Any, out: Path, **kw: Any) -> Path:
    """Write ``policy.json`` and one ``.pt`` per module from the learner's current weights; ``kw`` as
    :func:`export_weights` takes them (training log, env class, variant, the ``init_from`` directories)."""
    state = algo.learner_group.get_state(components="learner/rl_module")["learner"]["rl_module"]
    return export_weights(state, spec, out, **kw)


def export_weights(
    weights: dict[str, dict[str, Any]],
    spec: Any,
    out: Path,
    history: list[dict[str, Any]] | None = None,
    env_class: type | None = None,
    variant: str | None = None,
    init_from: list[str] | None = None,
) -> Path:
    """Write a policy directory from RLlib module weights (module id → ``net.…`` parameter → array): each file
    atomically (temporary file, then rename), ``policy.json`` last; ``history`` is the training log,
    ``init_from`` the policy directories the run started from (recorded in the training summary)."""
    import io

    import torch

    from dasha.agents.envclasses import env_class_name
    from dasha.agents.module import action_nvec
    from dasha.agents.rllib import env_creator

    out.mkdir(parents=True, exist_ok=True)
    env = (env_class or env_creator(spec.task))(spec.env)
    modules: dict[str, Any] = {}
    spaces = module_spaces(env, spec.task)
    for name, mid in module_ids(spec.task).items():
        obs_space, act_space = spaces[name]
        tensors = {k.removeprefix("net."): torch.as_tensor(np.asarray(v)) for k, v in weights[mid].items()}
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        write_atomic(out / f"{name}.pt", buffer.getvalue())
        modules[name] = {
            "file": f"{name}.pt",
            "obs_dim": int(np.prod(obs_space.shape)),
            "nvec": action_nvec(act_space),
            "hiddens": list(spec.ppo.hiddens),
            "activation": spec.ppo.activation,
        }
    last = (history or [{}])[-1]
    meta = {
        "format": POLICY_FORMAT,
        "dasha_version": dasha.__version__,
        "task": spec.task,
        "preset": spec.preset,
        "mode": spec.env.mode,
        "variant": variant,
        "env_class": env_class_name(env_class) if env_class else None,
        "encoder": spec.env.encoder,
        "env": spec.env.to_dict(),
        "modules": modules,
        "training": {
            "seed": spec.seed,
            "env_steps": last.get("env_steps"),
            "iterations": last.get("iteration"),
            "wall_s": last.get("wall_s"),
            "final_success_rate": last.get("success_rate"),
            **({"init_from": list(init_from)} if init_from else {}),
        },
    }
    if history:
        write_atomic(out / "training_metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))
    write_atomic(out / "policy.json", dumps(meta))
    return out


def random_policy(
    task: str, env: Any, out: Path, hiddens: tuple[int, ...] = (64, 64), seed: int = 0, env_class: Any = None
) -> Path:
    """A random-init policy directory for ``task`` on ``env`` (an EnvConfig) — for tests and format examples;
    ``env_class`` a variant environment class (e.g. the paper's RL baselines)."""
    import torch

    from dasha.agents.module import action_nvec
    from dasha.agents.nets import ActorCritic
    from dasha.agents.rllib import env_creator

    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    instance = (env_class or env_creator(task))(env)
    modules: dict[str, Any] = {}
    for name, (obs_space, act_space) in module_spaces(instance, task).items():
        net = ActorCritic(int(np.prod(obs_space.shape)), action_nvec(act_space), hiddens)
        torch.save(net.state_dict(), out / f"{name}.pt")
        modules[name] = {"file": f"{name}.pt", "obs_dim": int(np.prod(obs_space.shape)),
                         "nvec": action_nvec(act_space), "hiddens": list(hiddens), "activation": "tanh"}  # fmt: skip
    meta = {"format": POLICY_FORMAT, "dasha_version": dasha.__version__, "task": task, "preset": "random",
            "mode": env.mode, "variant": None, "encoder": env.encoder,
            "env_class": _env_class_name(env_class), "env": env.to_dict(), "modules": modules,
            "training": {"seed": seed}}  # fmt: skip
    write_atomic(out / "policy.json", dumps(meta))
    return out


def _env_class_name(env_class: Any) -> str | None:
    from dasha.agents.envclasses import env_class_name

    return env_class_name(env_class) if env_class else None
