"""``dasha train``: RLlib PPO on the exposure, focus or joint (hierarchical) task — one readable loop.

Phases, in order: parse options → run directory (or resume one: :mod:`dasha.agents.rundir` checks it all before Ray
starts) → Ray → RLlib algorithm → train loop (progress bar, TensorBoard, ``metrics.jsonl``, checkpoint every N
iterations) → final checkpoint → export a Ray-free policy (``policy/``) → ``learning_curve.png``.

Run directory layout (every file written atomically: a temporary file or directory, then a rename)::

    run.json                 what was trained (task, preset, PPO settings, env config, seed)
    metrics.jsonl            one JSON line per iteration (steps, returns, success rate, moves, time)
    tb/                      TensorBoard event files (charts/…, losses/…)
    checkpoints/iter_NNNNNN  pickle-free checkpoints (:mod:`dasha.agents.checkpoint`; the last ``keep`` are kept);
                             checkpoints/latest names the newest
    cluster.json             the Ray nodes of the driver and the env runners
    policy/                  the exported policy (policy.json + one .pt state_dict per module)
    learning_curve.png       success rate and return vs env steps (the paper's Fig. 3 analogue)

Interrupts lose nothing: Ctrl-C or SIGTERM exports the newest complete checkpoint's policy and raises
:class:`TrainingInterrupted` (the CLI: exit 130, one line saying what was kept); a kill at any moment — inside a
checkpoint save included — leaves the previous checkpoint intact, and ``--resume`` continues from it: the iterations
after it are trained again, never recorded twice. A resumed segment is seeded with ``seed + 7919 × iteration``, so it
does not replay the episodes the run began with.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dasha.agents import checkpoint
from dasha.agents.checks import check_seed
from dasha.agents.raycluster import check_cpus, init_ray, ray_host_port
from dasha.agents.rllib import RunSpec, build_config
from dasha.agents.rundir import (
    Run,
    create_run,
    latest_checkpoint,
    load_module_weights,
    open_run,
    read_metrics,
    write_record,
)
from dasha.camera.errors import ConfigError
from dasha.jsonio import dumps, write_atomic

__all__ = ["TrainOptions", "TrainingInterrupted", "latest_checkpoint", "prepare", "read_metrics", "train"]


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
    """Seed of the algorithm and the environments (0 … 2³² − 1)."""
    num_env_runners: int = 0
    """Remote env runners (0: sample in the driver process); one CPU each."""
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
    """Stop (and checkpoint) after this wall-clock time (min)."""
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


def import_object(path: str) -> Any:
    """The env class a run or policy file names — only one of the allow-list
    (:func:`dasha.agents.envclasses.env_class_named`; anything else is a ConfigError, nothing is imported)."""
    from dasha.agents.envclasses import env_class_named

    return env_class_named(path)


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped :func:`train` after it kept what was complete; ``str()`` says what (one line)."""


def train(
    opts: TrainOptions,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
    env_class: type | None = None,
    variant: str | None = None,
    prepared: Run | None = None,
) -> Path:
    """Train a policy; returns the run directory (see the module docstring for its layout).

    ``env_class``/``variant`` train a variant environment of the task (the paper's RL baselines); ``prepared``: what
    :func:`prepare` returned for these options (it is called otherwise).
    """
    run = prepared or prepare(opts, env_class, variant)
    spec, run_dir, kept = run.spec, run.run_dir, run.resumed
    history = list(kept.history) if kept else []
    algo = writer = None
    with _Signals() as signals:
        try:
            init_ray(opts.address)
            check_cpus(spec.num_env_runners)
            write_record(run)
            _write_metrics(run_dir, history)  # the checkpoint's records: the iterations after it are trained again
            algo = build_config(_segment_spec(spec, kept), run.env_class).build_algo()
            signals.install()  # after Ray: its core worker replaced the SIGTERM handler
            _record_cluster(algo, run_dir, spec.num_env_runners)
            if kept is not None:
                checkpoint.restore(algo, kept)
            elif run.warm:
                load_module_weights(algo, run.warm)
            from torch.utils.tensorboard import SummaryWriter

            iteration, steps, wall0 = (kept.iteration, kept.env_steps, kept.wall_s) if kept else (0, 0, 0.0)
            resumed = opts.resume is not None
            writer = SummaryWriter(str(run_dir / "tb"), purge_step=steps + 1 if resumed else None)
            start = time.monotonic()
            while steps < opts.timesteps:
                if opts.max_minutes is not None and (time.monotonic() - start) / 60 >= opts.max_minutes:
                    break
                result = algo.train()
                iteration += 1
                row = _summarise(result, iteration, wall0 + time.monotonic() - start)
                steps = row["env_steps"] = max(row["env_steps"], steps + 1)
                history.append(row)
                _log(writer, row)
                _write_metrics(run_dir, history)
                if iteration % max(opts.checkpoint_every, 1) == 0:
                    with signals.critical():  # a signal waits until the checkpoint is whole and recorded as kept
                        ckpt = checkpoint.capture(algo, iteration, steps, row["wall_s"], history)
                        checkpoint.save(ckpt, run_dir, opts.keep)
                        kept = ckpt
                if on_iteration is not None:
                    on_iteration(row)
            if kept is None or kept.iteration != iteration:
                with signals.critical():
                    ckpt = checkpoint.capture(algo, iteration, steps, wall0 + time.monotonic() - start, history)
                    checkpoint.save(ckpt, run_dir, opts.keep)
                    kept = ckpt
            with signals.critical():
                _export(run, kept)
        except KeyboardInterrupt:
            with signals.critical(reraise=False):
                message = _keep(run, kept)
            raise TrainingInterrupted(message) from None
        finally:
            if writer is not None:
                writer.close()
            if algo is not None:
                _stop(algo)
    from dasha.agents.plots import learning_curve

    learning_curve(history, run_dir / "learning_curve.png", title=f"dasha train {spec.task} ({spec.preset})")
    return run_dir


def prepare(opts: TrainOptions, env_class: type | None = None, variant: str | None = None) -> Run:
    """Every check that needs no Ray, before anything is written: the options, the TOML file or the resumed run
    directory (``run.json`` and the newest checkpoint, verified), the Ray address's form and this machine's CPUs
    for a local Ray. ConfigError (exit 2) with one line for anything wrong."""
    check_options(opts)
    if opts.address and opts.address not in ("auto", "local"):
        ray_host_port(opts.address)  # its form; whether it answers is init_ray's (bounded) business
    if not opts.address:
        check_cpus(opts.num_env_runners)  # this machine's CPUs, before a local Ray starts
    return open_run(opts) if opts.resume is not None else create_run(opts, env_class, variant)


def check_options(opts: TrainOptions) -> None:
    """The numbers of :class:`TrainOptions` (ConfigError: exit 2)."""
    check_seed(opts.seed)
    for name, low in (("timesteps", 0), ("checkpoint_every", 1), ("keep", 1), ("num_env_runners", 0)):
        value = getattr(opts, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"--{name.replace('_', '-')} must be an integer ≥ {low}, got {value!r}")
    m = opts.max_minutes
    if m is not None and (isinstance(m, bool) or not isinstance(m, int | float) or not 0 < m < math.inf):
        raise ConfigError(f"--max-minutes must be a positive number, got {m!r}")


def _segment_spec(spec: RunSpec, kept: checkpoint.Checkpoint | None) -> RunSpec:
    """The spec a (resumed) training segment's algorithm is built from: the run's, seeded anew after a resume."""
    if kept is None or kept.iteration == 0:
        return spec
    return dataclasses.replace(spec, seed=(spec.seed + 7919 * kept.iteration) % 2**32)


def _export(run: Run, kept: checkpoint.Checkpoint) -> Path:
    from dasha.agents.export import export_weights

    return export_weights(kept.weights, run.spec, run.run_dir / "policy", history=kept.history,
                          env_class=run.env_class, variant=run.variant, init_from=run.init_from)  # fmt: skip


def _keep(run: Run, kept: checkpoint.Checkpoint | None) -> str:
    """After an interrupt: export the newest complete checkpoint's policy; one line saying what was kept."""
    where = run.run_dir
    if kept is None:
        return f"no checkpoint was complete yet, nothing trained was kept ({where}/run.json only; --resume starts over)"
    try:
        policy = _export(run, kept)
    except Exception as exc:  # the checkpoint is kept all the same; say why the policy is not
        return (f"kept checkpoint {kept.path} (iteration {kept.iteration}, {kept.env_steps} env steps) but could not "
                f"export its policy ({' '.join(str(exc).split())[:120]}); continue with --resume {where}")  # fmt: skip
    return (f"kept iteration {kept.iteration} ({kept.env_steps} env steps): policy {policy}, checkpoint "
            f"{kept.path}; continue with --resume {where}")  # fmt: skip


def _stop(algo: Any) -> None:
    """Stop the algorithm; an interrupt or a failure while stopping (env runners already gone) changes nothing
    that was kept."""
    with contextlib.suppress(Exception, KeyboardInterrupt):
        algo.stop()


class _Signals:
    """While training: SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, except inside
    :meth:`critical`, where they wait for its end (a checkpoint is never recorded half-kept)."""

    def __init__(self) -> None:
        self.depth, self.pending = 0, None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        return self.install()

    def install(self) -> _Signals:
        """(Re-)install the handlers: ``ray.init`` puts its own SIGTERM handler in place (absl's, which aborts the
        process), so this runs again once Ray is up."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous = signal.signal(sig, self._handle)
                self.previous.setdefault(sig, previous)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.depth:
            self.pending = name
            return
        raise KeyboardInterrupt(name)

    @contextlib.contextmanager
    def critical(self, reraise: bool = True) -> Iterator[None]:
        """Hold signals back for the block; at its end, raise the one that came (``reraise``) or drop it."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            pending, self.pending = (self.pending, None) if not self.depth else (None, self.pending)
        if pending and reraise:
            raise KeyboardInterrupt(pending)


def _summarise(result: dict[str, Any], iteration: int, wall_s: float) -> dict[str, Any]:
    """One ``metrics.jsonl`` record of an RLlib result (non-finite numbers become null)."""
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
    return {k: (_number(v) if k not in ("iteration", "env_steps") else v) for k, v in row.items()}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(run_dir / "metrics.jsonl", "".join(dumps(r, indent=None) + "\n" for r in rows))


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
    write_atomic(run_dir / "cluster.json", dumps(info))


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
