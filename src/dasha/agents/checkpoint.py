"""Pickle-free training checkpoints: what ``dasha train --resume`` continues from, written and verified by dasha.

RLlib's own checkpoints are cloudpickle files, and loading one runs whatever code it carries; dasha never writes
or reads them. A checkpoint is a directory ``checkpoints/iter_NNNNNN`` written under a temporary name
(``.tmp_iter_NNNNNN``) and renamed once complete, so a kill at any moment leaves either the whole checkpoint or
none of it::

    weights.pt     the learner's module weights: {"<module id>/<parameter>": tensor}
    optimizer.pt   the Adam state of each parameter: {"<optimizer>/<parameter index>/<field>": tensor}
    metrics.jsonl  the iteration records up to this checkpoint (the run's metrics.jsonl is rewritten from it)
    state.json     written last: format and version, iteration, env steps, wall time (s), the shape and dtype of
                   every tensor, the size and SHA-256 of every other file, RLlib's lifetime counters (the
                   learning-rate and entropy schedules read them) and PPO's adaptive KL coefficients

``.pt`` files hold a flat dict of tensors only (``torch.save``) and are read with ``torch.load(weights_only=True)``
after their SHA-256 matched. Anything else — a missing or extra file, a tensor of another shape, a non-finite
weight, a counter that is not a number — refuses the run directory (:class:`~dasha.camera.errors.ConfigError`).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dasha.agents.runfiles import KEY, check_metrics_rows, expect, read_json_object, read_jsonl, sha256
from dasha.camera.errors import ConfigError
from dasha.jsonio import dumps, write_atomic

FORMAT, VERSION = "dasha-checkpoint", 1
NAME = re.compile(r"iter_(\d{6,9})")
#: Adam's per-parameter fields (``max_exp_avg_sq`` with amsgrad).
OPTIMIZER_FIELDS = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
DTYPES = ("float32", "float64")
FILES = ("weights.pt", "optimizer.pt", "metrics.jsonl")


@dataclass
class Checkpoint:
    """One training checkpoint in memory (see the module docstring for its files)."""

    iteration: int
    env_steps: int
    wall_s: float
    weights: dict[str, dict[str, np.ndarray]]
    """RLlib module id → parameter name (``net.…``) → array."""
    optimizer: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Optimizer name → ``{"module_id": id, "state": {parameter index: {field: array}}}``."""
    kl_coeffs: dict[str, float] = field(default_factory=dict)
    counters: dict[str, dict[str, Any]] = field(default_factory=dict)
    """RLlib lifetime counters (``MetricsLogger`` keys) → their ``lifetime_sum`` stats state."""
    history: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None


# ---- from / to an RLlib algorithm ------------------------------------------------------------------------------
def capture(algo: Any, iteration: int, env_steps: int, wall_s: float, history: list[dict[str, Any]]) -> Checkpoint:
    """The learner's weights, optimizer state, KL coefficients and the algorithm's lifetime counters, now."""
    learner = algo.learner_group.get_state(components=["learner/rl_module", "learner/optimizer"])["learner"]
    weights = {mid: {k: np.array(v) for k, v in params.items()} for mid, params in learner["rl_module"].items()}
    optimizer = {
        name: {"module_id": str(o["module_id"]), "state": _arrays(o["state"]["state"])}
        for name, o in learner.get("optimizer", {}).items()
    }
    kl = _first(algo.learner_group.foreach_learner(
        lambda lr: {m: float(v) for m, v in getattr(lr, "curr_kl_coeffs_per_module", {}).items()}))  # fmt: skip
    stats = algo.metrics.get_state().get("stats", {})
    lifetime = {k: s for k, s in stats.items() if s.get("stats_cls_identifier") == "lifetime_sum" and _is_counter(k)}
    counters = {k: {"is_root": bool(s.get("is_root")), "is_leaf": bool(s.get("is_leaf")),
                    "latest_merged": _scalar(s.get("latest_merged")), "lifetime_sum": float(s.get("lifetime_sum", 0)),
                    "track_throughputs": bool(s.get("track_throughputs"))} for k, s in lifetime.items()}  # fmt: skip
    return Checkpoint(iteration, env_steps, wall_s, weights, optimizer, kl or {}, counters, list(history))


def restore(algo: Any, ckpt: Checkpoint) -> None:
    """Set a freshly built algorithm's learner (weights, optimizer state, KL coefficients) and counters from
    ``ckpt``, then push the weights to the env runners; ConfigError if the checkpoint does not fit the algorithm."""
    where = f"checkpoint {str(ckpt.path)!r}"
    template = algo.learner_group.get_state(components=["learner/rl_module", "learner/optimizer"])["learner"]
    shapes = {mid: {k: tuple(np.shape(v)) for k, v in p.items()} for mid, p in template["rl_module"].items()}
    check_weights(ckpt, shapes, where)
    optimizers = template.get("optimizer", {})
    if set(ckpt.optimizer) != set(optimizers):
        raise ConfigError(f"{where}: optimizers {sorted(ckpt.optimizer)} do not match this run's {sorted(optimizers)}")
    import torch

    state: dict[str, Any] = {"rl_module": ckpt.weights, "optimizer": {}}
    for name, opt in ckpt.optimizer.items():
        if opt["module_id"] != optimizers[name]["module_id"]:
            raise ConfigError(f"{where}: optimizer {name!r} belongs to {opt['module_id']!r}")
        per_param = {i: {f: torch.as_tensor(v) for f, v in s.items()} for i, s in opt["state"].items()}
        groups = optimizers[name]["state"]["param_groups"]  # this run's own hyper-parameters, never the file's
        state["optimizer"][name] = {"module_id": opt["module_id"],
                                    "state": {"state": per_param, "param_groups": groups}}  # fmt: skip
    try:
        algo.learner_group.set_state({"learner": state})
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"{where} does not fit this run: {' '.join(str(exc).split())[:200]}") from None
    kl = dict(ckpt.kl_coeffs)

    def set_kl(learner: Any) -> None:
        coeffs = getattr(learner, "curr_kl_coeffs_per_module", None)
        for mid, value in kl.items():
            if coeffs is not None and mid in shapes:
                coeffs[mid].data.fill_(value)

    algo.learner_group.foreach_learner(set_kl)
    metrics = algo.metrics.get_state()
    metrics.setdefault("stats", {}).update(
        {k: {"stats_cls_identifier": "lifetime_sum", **v} for k, v in ckpt.counters.items()}
    )
    algo.metrics.set_state(metrics)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, inference_only=True)


def _arrays(per_param: dict[Any, dict[str, Any]]) -> dict[int, dict[str, np.ndarray]]:
    return {int(i): {f: np.array(v, np.float32 if f == "step" else None) for f, v in fields.items()}
            for i, fields in per_param.items()}  # fmt: skip


def _is_counter(key: str) -> bool:
    """An RLlib lifetime counter's key (``env_runners--num_env_steps_sampled_lifetime``, ``…_lifetime--<module>``):
    only these are restored, so a file cannot turn another statistic into a counter."""
    return bool(KEY.fullmatch(key)) and any(part.endswith("_lifetime") for part in key.split("--"))


def _scalar(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _first(results: Any) -> Any:
    for r in results:
        return r.get() if hasattr(r, "get") else r
    return None


# ---- on disk ---------------------------------------------------------------------------------------------------
def save(ckpt: Checkpoint, run_dir: Path, keep: int, critical: Callable[[], Any] = contextlib.nullcontext) -> Path:
    """Write ``ckpt`` as ``checkpoints/iter_N`` (temporary directory, then one rename), point ``checkpoints/latest``
    at it and keep the newest ``keep``; ``critical()`` guards the rename and the pointer (signals wait)."""
    import torch

    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final, tmp = root / f"iter_{ckpt.iteration:06d}", root / f".tmp_iter_{ckpt.iteration:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors = {"weights.pt": {f"{m}/{k}": v for m, p in ckpt.weights.items() for k, v in p.items()},
               "optimizer.pt": {f"{n}/{i}/{f}": v for n, o in ckpt.optimizer.items()
                                for i, s in o["state"].items() for f, v in s.items()}}  # fmt: skip
    manifest: dict[str, Any] = {"format": FORMAT, "version": VERSION, "iteration": ckpt.iteration,
                                "env_steps": ckpt.env_steps, "wall_s": round(float(ckpt.wall_s), 3),
                                "tensors": {}, "files": {},
                                "optimizers": {n: o["module_id"] for n, o in ckpt.optimizer.items()},
                                "kl_coeffs": ckpt.kl_coeffs, "counters": ckpt.counters}  # fmt: skip
    for name, flat in tensors.items():
        buffer = io.BytesIO()
        torch.save({k: torch.as_tensor(np.asarray(v)) for k, v in flat.items()}, buffer)
        write_atomic(tmp / name, buffer.getvalue())
        manifest["tensors"][name] = {k: {"shape": list(np.shape(v)), "dtype": str(np.asarray(v).dtype)}
                                     for k, v in flat.items()}  # fmt: skip
    write_atomic(tmp / "metrics.jsonl", "".join(dumps(r, indent=None) + "\n" for r in ckpt.history))
    for name in FILES:
        manifest["files"][name] = {"bytes": (tmp / name).stat().st_size, "sha256": sha256(tmp / name)}
    write_atomic(tmp / "state.json", dumps(manifest))
    with critical():
        if final.exists():
            _discard(final)
        tmp.rename(final)
        write_atomic(root / "latest", final.name)
    for old in sorted((p for p in root.iterdir() if NAME.fullmatch(p.name)), key=_number)[: -max(keep, 1)]:
        _discard(old)
    ckpt.path = final
    return final


def _discard(path: Path) -> None:
    """Remove a checkpoint directory: renamed out of the ``iter_*`` namespace first, so a kill mid-way leaves no
    partial checkpoint."""
    trash = path.with_name(f".trash_{path.name}")
    shutil.rmtree(trash, ignore_errors=True)
    path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def newest(run_dir: Path) -> Path | None:
    """The newest ``checkpoints/iter_N`` directory (complete by construction), or None; leftovers of interrupted
    saves (``.tmp_*``, ``.trash_*``) are removed."""
    root = run_dir / "checkpoints"
    if not root.exists():
        return None
    if not root.is_dir():
        raise ConfigError(f"{str(root)!r} is not a directory")
    found = []
    for p in root.iterdir():
        if p.name.startswith((".tmp_iter_", ".trash_iter_")) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif NAME.fullmatch(p.name):
            found.append(p)
    return max(found, key=_number) if found else None


def _number(path: Path) -> int:
    match = NAME.fullmatch(path.name)
    return int(match.group(1)) if match else -1


def load(path: Path, shapes: dict[str, dict[str, tuple[int, ...]]]) -> Checkpoint:
    """Read and verify a checkpoint directory against the run's module ``shapes`` (module id → parameter → shape);
    ConfigError on anything dasha did not write exactly so."""
    where = f"checkpoint {str(path)!r}"
    if path.is_symlink() or not path.is_dir():
        raise ConfigError(f"{where} is not a directory")
    if not (path / "state.json").is_file():
        raise ConfigError(f"{where} has no state.json: not a checkpoint written by this dasha (RLlib's pickled "
                          f"checkpoints are never loaded); start a new run")  # fmt: skip
    m = read_json_object(path / "state.json", "checkpoint state")
    if m.get("format") != FORMAT or m.get("version") != VERSION:
        raise ConfigError(f"{where}: state.json is not a {FORMAT} version {VERSION}")
    iteration = expect(m, "iteration", (int,), where)
    if iteration < 0 or path.name != f"iter_{iteration:06d}":
        raise ConfigError(f"{where}: state.json says iteration {iteration}")
    env_steps, wall_s = expect(m, "env_steps", (int,), where), expect(m, "wall_s", (float,), where)
    files, tensors = expect(m, "files", (dict,), where), expect(m, "tensors", (dict,), where)
    if sorted(files) != sorted(FILES) or sorted(tensors) != ["optimizer.pt", "weights.pt"]:
        raise ConfigError(f"{where}: state.json must list exactly {list(FILES)}")
    extra = sorted({p.name for p in path.iterdir()} - {*FILES, "state.json"})
    if extra:
        raise ConfigError(f"{where} holds files dasha did not write: {extra[:5]}")
    for name in FILES:
        _verify_file(path / name, expect(files, name, (dict,), where), where)
    flat_w = _load_tensors(path / "weights.pt", tensors["weights.pt"], where)
    flat_o = _load_tensors(path / "optimizer.pt", tensors["optimizer.pt"], where)
    weights: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat_w.items():
        mid, _, param = key.partition("/")
        weights.setdefault(mid, {})[param] = value
    ckpt = Checkpoint(iteration, env_steps, float(wall_s), weights, path=path)
    check_weights(ckpt, shapes, where)
    ckpt.optimizer = _optimizer(flat_o, expect(m, "optimizers", (dict,), where), shapes, where)
    ckpt.kl_coeffs = _numbers(expect(m, "kl_coeffs", (dict,), where), set(shapes), f"{where} kl_coeffs")
    ckpt.counters = _counters(expect(m, "counters", (dict,), where), where)
    ckpt.history = check_metrics_rows(read_jsonl(path / "metrics.jsonl", "checkpoint metrics"), where)
    last = ckpt.history[-1] if ckpt.history else {"iteration": 0, "env_steps": 0}
    if last["iteration"] != iteration or last["env_steps"] != env_steps:
        raise ConfigError(f"{where}: metrics.jsonl ends at iteration {last['iteration']}, state.json says {iteration}")
    return ckpt


def check_weights(ckpt: Checkpoint, shapes: dict[str, dict[str, tuple[int, ...]]], where: str) -> None:
    """ConfigError unless the checkpoint has exactly the modules, parameters and shapes of ``shapes``."""
    if set(ckpt.weights) != set(shapes):
        raise ConfigError(f"{where}: modules {sorted(ckpt.weights)} do not match this run's {sorted(shapes)}")
    for mid, want in shapes.items():
        got = {k: tuple(np.shape(v)) for k, v in ckpt.weights[mid].items()}
        if got != want:
            bad = sorted(set(got) ^ set(want)) or [k for k in want if got[k] != want[k]]
            raise ConfigError(f"{where}: module {mid!r} does not match this run's network (first difference: "
                              f"{bad[0]!r})")  # fmt: skip


def _verify_file(path: Path, info: dict[str, Any], where: str) -> None:
    if path.is_symlink() or not path.is_file():
        raise ConfigError(f"{where}: {path.name} is missing")
    size, digest = expect(info, "bytes", (int,), where), expect(info, "sha256", (str,), where)
    if path.stat().st_size != size or sha256(path) != digest:
        raise ConfigError(f"{where}: {path.name} is not the file state.json lists (truncated or changed)")


def _load_tensors(path: Path, spec: dict[str, Any], where: str) -> dict[str, np.ndarray]:
    """A ``.pt`` of a flat {name: tensor} dict, read with ``weights_only=True`` and checked against ``spec``."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, … for anything but plain tensors
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ConfigError(f"{where}: {path.name} is not a tensors-only file ({first})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and type(v) is torch.Tensor for k, v in data.items()):
        raise ConfigError(f"{where}: {path.name} must hold a flat dict of tensors")
    if set(data) != set(spec):
        raise ConfigError(f"{where}: {path.name} does not hold the tensors state.json lists")
    out: dict[str, np.ndarray] = {}
    for key, tensor in data.items():
        info = spec[key] if isinstance(spec[key], dict) else {}
        if tensor.layout != torch.strided or str(tensor.dtype).removeprefix("torch.") not in DTYPES:
            raise ConfigError(f"{where}: {path.name} {key!r} is not a dense float tensor")
        array = tensor.detach().numpy().copy()
        if list(array.shape) != info.get("shape") or str(array.dtype) != info.get("dtype"):
            raise ConfigError(f"{where}: {path.name} {key!r} is not the shape and dtype state.json lists")
        if not np.all(np.isfinite(array)):
            raise ConfigError(f"{where}: {path.name} {key!r} holds NaN or infinite values")
        out[key] = array
    return out


def _optimizer(flat: dict[str, np.ndarray], owners: dict[str, Any], shapes: dict[str, dict[str, tuple[int, ...]]],
               where: str) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``optimizer.pt``'s tensors → per optimizer, per parameter index, per Adam field, checked against the shapes
    of the module that optimizer trains (parameters in the module's order)."""
    out: dict[str, dict[str, Any]] = {}
    for name, mid in owners.items():
        if not KEY.fullmatch(name) or mid not in shapes:
            raise ConfigError(f"{where}: optimizer {name!r} does not belong to a module of this run")
        out[name] = {"module_id": mid, "state": {}}
    for key, value in flat.items():
        name, index, fname = key.split("/") if key.count("/") == 2 else ("", "", "")
        if name not in out or not index.isdigit() or fname not in OPTIMIZER_FIELDS:
            raise ConfigError(f"{where}: optimizer.pt has an unexpected tensor {key[:80]!r}")
        params = list(shapes[out[name]["module_id"]].values())
        i = int(index)
        if i >= len(params) or value.shape != (() if fname == "step" else params[i]):
            raise ConfigError(f"{where}: optimizer.pt {key!r} does not fit parameter {i}")
        out[name]["state"].setdefault(i, {})[fname] = value
    return out


def _numbers(doc: dict[str, Any], allowed: set[str], where: str) -> dict[str, float]:
    out = {}
    for key in doc:
        value = expect(doc, key, (float,), where)
        if key not in allowed or value < 0:
            raise ConfigError(f"{where}: bad entry {key[:80]!r}")
        out[key] = float(value)
    return out


def _counters(doc: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    out = {}
    for key, stat in doc.items():
        if not _is_counter(key) or not isinstance(stat, dict):
            raise ConfigError(f"{where}: bad counter {key[:80]!r}")
        here = f"{where} counter {key!r}"
        if sorted(stat) != ["is_leaf", "is_root", "latest_merged", "lifetime_sum", "track_throughputs"]:
            raise ConfigError(f"{here}: unexpected fields")
        total = expect(stat, "lifetime_sum", (float,), here)
        merged = expect(stat, "latest_merged", (float,), here, optional=True)
        flags = [expect(stat, f, (bool,), here) for f in ("is_root", "is_leaf", "track_throughputs")]
        if total < 0 or not math.isfinite(total):
            raise ConfigError(f"{here}: must be a finite count ≥ 0")
        out[key] = {"is_root": flags[0], "is_leaf": flags[1], "latest_merged": merged, "lifetime_sum": float(total),
                    "track_throughputs": flags[2]}  # fmt: skip
    return out
