"""A training run's directory: create one, or open one to resume — every file read as data and checked first.

``run.json`` records what was trained (the keys of :data:`RECORD_KEYS`); on ``--resume`` the algorithm is rebuilt
from it (:meth:`dasha.agents.rllib.RunSpec.build`, the same checks as a new run's options) and the newest
checkpoint (:mod:`dasha.agents.checkpoint`) is verified against the networks that spec builds — all before Ray
starts. A run directory that is not exactly what dasha wrote is refused with one line (ConfigError, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dasha.agents import checkpoint
from dasha.agents.checks import check_seed
from dasha.agents.envclasses import check_env_class_name, env_class_name, env_class_named
from dasha.agents.rllib import PRESETS, TASKS, RunSpec
from dasha.agents.runfiles import expect, expect_strings, load_toml, read_json_object, read_jsonl
from dasha.camera.errors import ConfigError
from dasha.envs.hierarchical import HIGH_MODULE, LOW_MODULE
from dasha.jsonio import dumps, write_atomic

#: The keys of ``run.json`` (RunSpec.to_dict's, then what the command line added).
RECORD_KEYS = ("task", "preset", "ppo", "env", "seed", "num_env_runners", "overrides", "detector", "domain",
               "scenes_arg", "backgrounds_arg", "init_from", "env_class", "variant")  # fmt: skip
VARIANT = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass
class Run:
    """An open run directory: where it is, what it trains, and (new runs) the warm-start weights."""

    run_dir: Path
    spec: RunSpec
    env_class: type | None = None
    variant: str | None = None
    init_from: list[str] = field(default_factory=list)
    warm: dict[str, dict[str, Any]] = field(default_factory=dict)
    resumed: checkpoint.Checkpoint | None = None
    """The verified checkpoint a resumed run continues from (None: from iteration 0)."""
    record: dict[str, Any] | None = None
    """A new run's ``run.json`` (None for a resumed run)."""


def create_run(opts: Any, env_class: type | None, variant: str | None) -> Run:
    """A new run for ``opts`` (:class:`dasha.agents.train.TrainOptions`), checked; nothing is written until
    :func:`write_record`."""
    overrides = load_toml(opts.config)
    spec = RunSpec.build(opts.task, opts.preset, overrides, opts.seed, opts.num_env_runners, opts.detector,
                         opts.domain, opts.scenes, opts.backgrounds)  # fmt: skip
    run_dir = Path(opts.out) if opts.out else Path("runs/train") / f"{opts.task}-{opts.preset}-s{opts.seed}"
    if (run_dir / "run.json").exists():
        raise ConfigError(f"{str(run_dir)!r} already holds a run; use --resume {run_dir} or another --out")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {str(run_dir)!r} is not a directory")
    if variant is not None and not VARIANT.fullmatch(variant):
        raise ConfigError(f"bad variant name {variant!r}")
    record = {**spec.to_dict(), "overrides": overrides, "detector": opts.detector, "domain": opts.domain,
              "scenes_arg": opts.scenes, "backgrounds_arg": opts.backgrounds,
              "init_from": [str(p) for p in opts.init_from or []],
              "env_class": env_class_name(env_class) if env_class else None, "variant": variant}  # fmt: skip
    warm = warm_start_weights(spec, opts.init_from or [], env_class)
    return Run(run_dir, spec, env_class, variant, record["init_from"], warm, record=record)


def write_record(run: Run) -> None:
    """Create a new run's directory and write its ``run.json`` (atomically; nothing for a resumed run)."""
    if run.record is not None:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(run.run_dir / "run.json", dumps(run.record))


def open_run(opts: Any) -> Run:
    """The run directory ``opts.resume``: ``run.json`` checked and rebuilt into a RunSpec, the newest checkpoint
    loaded and verified (none yet: the run starts over from iteration 0)."""
    run_dir = Path(opts.resume)
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {str(run_dir)!r} is not a directory")
    if not (run_dir / "run.json").exists():
        raise ConfigError(f"--resume {str(run_dir)!r} is not a dasha training run (no run.json)")
    saved = check_record(read_json_object(run_dir / "run.json", "run file"), f"run file {str(run_dir / 'run.json')!r}")
    if saved["task"] != opts.task:
        raise ConfigError(f"--resume run trained task {saved['task']!r}, not {opts.task!r}")
    spec = RunSpec.build(saved["task"], saved["preset"], saved.get("overrides"), saved["seed"], opts.num_env_runners,
                         saved.get("detector"), saved.get("domain") or "wide", saved.get("scenes_arg"),
                         saved.get("backgrounds_arg"))  # fmt: skip
    env_class = env_class_named(saved["env_class"], "run.json") if saved.get("env_class") else None
    run = Run(run_dir, spec, env_class, saved.get("variant"), list(saved.get("init_from") or []))
    newest = checkpoint.newest(run_dir)
    if newest is not None:
        run.resumed = checkpoint.load(newest, module_shapes(spec, env_class))
    return run


def check_record(record: dict[str, Any], where: str) -> dict[str, Any]:
    """``run.json``'s keys and types (the values are checked again when the spec is rebuilt from them)."""
    unknown = sorted(set(record) - set(RECORD_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown[:5]}")
    task, preset = expect(record, "task", (str,), where), expect(record, "preset", (str,), where)
    if task not in TASKS or preset not in PRESETS:
        raise ConfigError(f"{where}: unknown task {task!r} or preset {preset!r}")
    check_seed(expect(record, "seed", (int,), where), f"{where}: seed")
    expect(record, "overrides", (dict,), where, optional=True)
    expect(record, "detector", (str,), where, optional=True)
    expect(record, "domain", (str,), where, optional=True)
    for key in ("scenes_arg", "backgrounds_arg", "init_from"):
        expect_strings(record, key, where)
    if record.get("env_class") is not None:
        check_env_class_name(record["env_class"], where)
    variant = expect(record, "variant", (str,), where, optional=True)
    if variant is not None and not VARIANT.fullmatch(variant):
        raise ConfigError(f"{where}: bad variant name {variant[:40]!r}")
    return record


def module_shapes(spec: RunSpec, env_class: type | None = None) -> dict[str, dict[str, tuple[int, ...]]]:
    """RLlib module id → parameter (``net.…``) → shape, of the networks ``spec`` trains (no Ray needed)."""
    import numpy as np

    from dasha.agents.export import module_ids
    from dasha.agents.module import action_nvec
    from dasha.agents.nets import ActorCritic
    from dasha.agents.rllib import env_creator
    from dasha.envs.hierarchical import module_spaces

    env = (env_class or env_creator(spec.task))(spec.env)
    ids = module_ids(spec.task)
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, (obs_space, act_space) in module_spaces(env, spec.task).items():
        net = ActorCritic(int(np.prod(obs_space.shape)), action_nvec(act_space), spec.ppo.hiddens, spec.ppo.activation)
        out[ids[name]] = {f"net.{k}": tuple(v.shape) for k, v in net.state_dict().items()}
    if hasattr(env, "close"):
        env.close()
    return out


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The iteration records of a run (empty if none; a last line cut short by a kill is dropped)."""
    path = Path(run_dir) / "metrics.jsonl"
    return read_jsonl(path, "metrics file", torn_tail=True) if path.is_file() else []


def latest_checkpoint(run_dir: Path) -> Path | None:
    """Newest complete checkpoint directory of a run, or None."""
    return checkpoint.newest(Path(run_dir))


#: Which module of a policy starts which RLlib module: (policy task, its module) → module id, per trained task.
_WARM_MODULES = {
    "joint": {("exposure", "exposure"): HIGH_MODULE, ("focus", "focus"): LOW_MODULE,
              ("joint", HIGH_MODULE): HIGH_MODULE, ("joint", LOW_MODULE): LOW_MODULE},
    "exposure": {("exposure", "exposure"): "default_policy"},
    "focus": {("focus", "focus"): "default_policy"},
}  # fmt: skip


def warm_start_weights(spec: RunSpec, paths: list[Path], env_class: type | None) -> dict[str, dict[str, Any]]:
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


def load_module_weights(algo: Any, warm: dict[str, dict[str, Any]]) -> None:
    """Load the warm-start weights into the learner's modules and push them to the env runners."""
    import torch

    def load(learner: Any) -> None:
        for mid, w in warm.items():
            learner.module[mid].net.load_state_dict({k: torch.as_tensor(v) for k, v in w["state"].items()})

    algo.learner_group.foreach_learner(load)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, inference_only=True)
