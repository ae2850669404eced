"""``dasha train``: RLlib PPO on the exposure, focus or joint (hierarchical) task — one readable loop.

Phases, in order: parse options → run directory (or resume one) → Ray → RLlib algorithm → train loop
(progress bar, TensorBoard, ``metrics.jsonl``, checkpoint every N iterations) → final checkpoint → export a
Ray-free policy (``policy/``) → ``learning_curve.png``.

Run directory layout::

    run.json                 what was trained (task, preset, PPO settings, env config, seed)
    metrics.jsonl            one JSON line per iteration (steps, returns, success rate, moves, time)
    tb/                      TensorBoard event files (charts/…, losses/…)
    checkpoints/iter_NNNNNN  RLlib checkpoints (the last ``keep`` are kept); checkpoints/latest names the newest
    policy/                  the exported policy (policy.json + one .pt state_dict per module)
    learning_curve.png       success rate and return vs env steps (the paper's Fig. 3 analogue)
"""

from __future__ import annotations

import json
import os
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dasha.agents.rllib import RunSpec, build_config, init_ray
from dasha.camera.errors import ConfigError
from dasha.envs.hierarchical import HIGH_MODULE, LOW_MODULE
from dasha.jsonio import dumps


@dataclass
class TrainOptions:
    """Options of one ``dasha train`` run."""

    task: str
    """``exposure``, ``focus`` or ``joint``."""
    preset: str = "fast"
    """``paper`` or ``fast``."""
    timesteps: int = 50_000
    """Stop after this many sampled env steps (total, including resumed ones)."""
    seed: int = 0
    """Seed of the algorithm and the environments."""
    num_env_runners: int = 0
    """Remote env runners (0: sample in the driver process)."""
    address: str | None = None
    """Ray cluster address (``ray start --head`` prints it); None starts a local Ray."""
    out: Path | None = None
    """Run directory; default ``runs/train/<task>-<preset>-s<seed>``."""
    resume: Path | None = None
    """Run directory to continue from its latest checkpoint."""
    config: Path | None = None
    """TOML file with ``[ppo]`` / ``[env]`` overrides."""
    detector: str | None = None
    """Detector that defines success (joint task)."""
    checkpoint_every: int = 1
    """Checkpoint every N iterations (and always at the end)."""
    keep: int = 2
    """Checkpoints kept on disk."""
    max_minutes: float | None = None
    """Stop (and checkpoint) after this wall-clock time."""
    domain: str = "wide"
    """World the episodes are drawn from (``wide`` or ``paper``, :data:`dasha.envs.config.DOMAINS`)."""
    scenes: list[str] | None = None
    """Object photos to train on (default: the task's training photos)."""
    backgrounds: list[str] | None = None
    """Background photos to train on (default: the training backgrounds)."""
    init_from: list[Path] | None = None
    """Policy directories whose modules start the training (the paper trained its single agents first): an
    ``exposure`` policy starts the joint task's ``high_level``, a ``focus`` policy its ``low_level``, a policy of the
    same task every module."""


def object_path(obj: Any) -> str:
    """``module:qualname`` of a class."""
    return f"{obj.__module__}:{obj.__qualname__}"


def import_object(path: str) -> Any:
    """Inverse of :func:`object_path` (only ``dasha.`` modules)."""
    import importlib

    module, _, name = path.partition(":")
    if not module.startswith("dasha."):
        raise ConfigError(f"refusing to import {path!r}: only dasha classes can be named in a run or policy file")
    return getattr(importlib.import_module(module), name)


def load_toml(path: Path | None) -> dict[str, Any]:
    """Read a TOML override file; ConfigError on a missing or malformed file."""
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The iteration records of a run (empty if none)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """Newest complete checkpoint of a run directory, or None."""
    pointer = run_dir / "checkpoints" / "latest"
    if pointer.is_file():
        path = run_dir / "checkpoints" / pointer.read_text().strip()
        if path.is_dir():
            return path
    found = sorted((run_dir / "checkpoints").glob("iter_*")) if (run_dir / "checkpoints").is_dir() else []
    return found[-1] if found else None


def _summarise(result: dict[str, Any], iteration: int, wall_s: float) -> dict[str, Any]:
    runners = result.get("env_runners", {})
    learners = result.get("learners", {})
    row: dict[str, Any] = {
        "iteration": iteration,
        "env_steps": int(result.get("num_env_steps_sampled_lifetime", 0)),
        "episode_return_mean": runners.get("episode_return_mean"),
        "episode_len_mean": runners.get("episode_len_mean"),
        "success_rate": runners.get("dasha/success_rate"),
        "moves_mean": runners.get("dasha/moves_mean"),
        "wall_s": round(wall_s, 2),
    }
    for module_id, stats in learners.items():
        if module_id.startswith("__") or not isinstance(stats, dict):
            continue
        for key in ("policy_loss", "vf_loss", "entropy", "mean_kl_loss", "curr_entropy_coeff", "curr_kl_coeff"):
            if key in stats:
                row[f"{module_id}/{key}"] = float(stats[key])
        if "default_optimizer_learning_rate" in stats:
            row[f"{module_id}/lr"] = float(stats["default_optimizer_learning_rate"])
    return {k: (float(v) if isinstance(v, int | float) and k not in ("iteration", "env_steps") else v)
            for k, v in row.items()}  # fmt: skip


def _save_checkpoint(algo: Any, run_dir: Path, iteration: int, keep: int) -> Path:
    """Write ``checkpoints/iter_N`` via a temporary directory, then point ``latest`` at it."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"iter_{iteration:06d}"
    tmp = root / f".tmp_iter_{iteration:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save_to_path(str(tmp.resolve()))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    (root / "latest.tmp").write_text(final.name)
    os.replace(root / "latest.tmp", root / "latest")
    for old in sorted(root.glob("iter_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def train(
    opts: TrainOptions,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
    env_class: type | None = None,
    variant: str | None = None,
) -> Path:
    """Train a policy; returns the run directory (see the module docstring for its layout).

    ``env_class``/``variant`` train a variant environment of the task (the paper's RL baselines).
    """
    # ---- run directory -----------------------------------------------------------------------------
    if opts.resume is not None:
        run_dir = Path(opts.resume)
        if not (run_dir / "run.json").is_file():
            raise ConfigError(f"--resume {str(run_dir)!r} is not a dasha training run (no run.json)")
        saved = json.loads((run_dir / "run.json").read_text())
        if saved["task"] != opts.task:
            raise ConfigError(f"--resume run trained task {saved['task']!r}, not {opts.task!r}")
        spec = RunSpec.build(saved["task"], saved["preset"], saved.get("overrides"), saved["seed"],
                             opts.num_env_runners, saved.get("detector"), saved.get("domain", "wide"),
                             saved.get("scenes_arg"), saved.get("backgrounds_arg"))  # fmt: skip
        if saved.get("env_class"):
            env_class, variant = import_object(saved["env_class"]), saved.get("variant")
        history = read_metrics(run_dir)
        checkpoint = latest_checkpoint(run_dir)
        started_from = saved.get("init_from")
    else:
        overrides = load_toml(opts.config)
        spec = RunSpec.build(opts.task, opts.preset, overrides, opts.seed, opts.num_env_runners, opts.detector,
                             opts.domain, opts.scenes, opts.backgrounds)  # fmt: skip
        run_dir = Path(opts.out) if opts.out else Path("runs/train") / f"{opts.task}-{opts.preset}-s{opts.seed}"
        if (run_dir / "run.json").exists():
            raise ConfigError(f"{str(run_dir)!r} already holds a run; use --resume {run_dir} or another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        record = {**spec.to_dict(), "overrides": overrides, "detector": opts.detector, "domain": opts.domain,
                  "scenes_arg": opts.scenes, "backgrounds_arg": opts.backgrounds,
                  "init_from": [str(p) for p in opts.init_from or []],
                  "env_class": object_path(env_class) if env_class else None, "variant": variant}  # fmt: skip
        warm = _warm_start_weights(spec, opts.init_from or [], env_class)
        (run_dir / "run.json").write_text(dumps(record))
        history, checkpoint = [], None
        started_from = record["init_from"]

    # ---- algorithm ---------------------------------------------------------------------------------
    init_ray(opts.address)
    algo = build_config(spec, env_class).build_algo()
    _record_cluster(algo, run_dir, spec.num_env_runners)
    if checkpoint is None and opts.resume is None and warm:
        _load_module_weights(algo, warm)
    iteration, wall0 = 0, 0.0
    if checkpoint is not None:
        algo.restore_from_path(str(checkpoint.resolve()))
        iteration = int(checkpoint.name.split("_")[-1])
        history = [row for row in history if row["iteration"] <= iteration]
        wall0 = history[-1]["wall_s"] if history else 0.0
        _rewrite_metrics(run_dir, history)

    # ---- train loop --------------------------------------------------------------------------------
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / "tb"))
    start = time.monotonic()
    steps = history[-1]["env_steps"] if history else 0
    try:
        while steps < opts.timesteps:
            if opts.max_minutes is not None and (time.monotonic() - start) / 60 >= opts.max_minutes:
                break
            result = algo.train()
            iteration += 1
            row = _summarise(result, iteration, wall0 + time.monotonic() - start)
            steps = row["env_steps"] = max(row["env_steps"], steps + 1)
            _log(writer, row)
            with open(run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
            if iteration % max(opts.checkpoint_every, 1) == 0:
                _save_checkpoint(algo, run_dir, iteration, opts.keep)
            if on_iteration is not None:
                on_iteration(row)
        if latest_checkpoint(run_dir) is None or not latest_checkpoint(run_dir).name.endswith(f"{iteration:06d}"):
            _save_checkpoint(algo, run_dir, iteration, opts.keep)
        from dasha.agents.export import export_policy

        export_policy(algo, spec, run_dir / "policy", history=read_metrics(run_dir), env_class=env_class,
                      variant=variant, init_from=started_from)  # fmt: skip
    finally:
        writer.close()
        algo.stop()
    from dasha.agents.plots import learning_curve

    learning_curve(
        read_metrics(run_dir), run_dir / "learning_curve.png", title=f"dasha train {spec.task} ({spec.preset})"
    )
    return run_dir


#: Which module of a policy starts which RLlib module: (policy task, its module) → module id, per trained task.
_WARM_MODULES = {
    "joint": {("exposure", "exposure"): HIGH_MODULE, ("focus", "focus"): LOW_MODULE,
              ("joint", HIGH_MODULE): HIGH_MODULE, ("joint", LOW_MODULE): LOW_MODULE},
    "exposure": {("exposure", "exposure"): "default_policy"},
    "focus": {("focus", "focus"): "default_policy"},
}  # fmt: skip


def _warm_start_weights(spec: RunSpec, paths: list[Path], env_class: type | None) -> dict[str, dict[str, Any]]:
    """The ``state_dict`` each RLlib module starts from (``TrainOptions.init_from``), checked against the run's
    spaces; ConfigError for a policy of another task, mode or layout."""
    if not paths:
        return {}
    import numpy as np

    from dasha.agents.export import module_ids
    from dasha.agents.module import action_nvec
    from dasha.agents.policy import Policy
    from dasha.agents.rllib import env_creator
    from dasha.envs.hierarchical import module_spaces

    env = (env_class or env_creator(spec.task))(spec.env)
    ids = module_ids(spec.task)  # module name → RLlib module id
    spaces = {ids[name]: pair for name, pair in module_spaces(env, spec.task).items()}
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        policy = Policy.load(path)
        if policy.meta.get("mode") != spec.env.mode:
            raise ConfigError(f"--init-from {str(path)!r} is a {policy.meta.get('mode')!r}-mode policy; this run is "
                            f"{spec.env.mode!r}")  # fmt: skip
        for name, net in policy.nets.items():
            target = _WARM_MODULES.get(spec.task, {}).get((policy.task, name))
            if target is None:
                raise ConfigError(f"--init-from {str(path)!r}: a {policy.task} policy cannot start a {spec.task} run")
            obs_space, act_space = spaces[target]
            m = policy.meta["modules"][name]
            want = (int(np.prod(obs_space.shape)), action_nvec(act_space), list(spec.ppo.hiddens), spec.ppo.activation)
            if (m["obs_dim"], m["nvec"], m["hiddens"], m["activation"]) != want:
                raise ConfigError(
                    f"--init-from {str(path)!r}: module {name!r} has observations {m['obs_dim']}, actions "
                    f"{m['nvec']}, hiddens {m['hiddens']}; this run's {target!r} needs {want[:3]}"
                )
            out[target] = {"state": net.state_dict(), "path": str(path)}
    return out


def _load_module_weights(algo: Any, warm: dict[str, dict[str, Any]]) -> None:
    """Load the warm-start weights into the learner's modules and push them to the env runners."""
    import torch

    def load(learner: Any) -> None:
        for mid, w in warm.items():
            learner.module[mid].net.load_state_dict({k: torch.as_tensor(v) for k, v in w["state"].items()})

    algo.learner_group.foreach_learner(load)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, inference_only=True)


def _record_cluster(algo: Any, run_dir: Path, num_env_runners: int) -> None:
    """Write ``cluster.json``: the Ray node of the driver and of every remote env runner."""
    import ray

    nodes: list[str] = []
    if num_env_runners > 0:
        nodes = list(algo.env_runner_group.foreach_env_runner(
            lambda runner: ray.get_runtime_context().get_node_id(), local_env_runner=False
        ))  # fmt: skip
    info = {"driver_node": ray.get_runtime_context().get_node_id(), "env_runner_nodes": nodes,
            "cluster_nodes": len([n for n in ray.nodes() if n.get("Alive")])}  # fmt: skip
    (run_dir / "cluster.json").write_text(dumps(info))


def _rewrite_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    tmp = run_dir / "metrics.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, run_dir / "metrics.jsonl")


def _log(writer: Any, row: dict[str, Any]) -> None:
    step = row["env_steps"]
    names = {
        "episode_return_mean": "charts/episode_return",
        "episode_len_mean": "charts/episode_length",
        "success_rate": "charts/success_rate",
        "moves_mean": "charts/moves",
    }
    for key, value in row.items():
        if value is None or key in ("iteration", "env_steps"):
            continue
        tag = names.get(key, f"losses/{key}" if "/" in key else f"charts/{key}")
        writer.add_scalar(tag, float(value), step)
