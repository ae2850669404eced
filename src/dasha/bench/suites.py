"""``dasha bench`` suites: identical seeded episodes for every method; JSON, figures and a markdown table.

================  ====================================================================================
``af``            autofocus from a well-exposed start: in focus (blur ≤ 2 px) on the final frame, lens moves
``ae``            auto-exposure: well exposed (histogram peak P ∈ [50, 150]) and the object's clipped fraction
``joint``         exposure + focus: ``success_rate`` = detected **and** in focus, ``detection_rate`` beside it
``calibration``   af with the lens model the controllers *believe* off by ±0.2 / ±0.5 dpt or ±5 % slope
``detection-grid`` Fig. 4: detection over the exposure × focus grid for every available detector
``robustness``    Fig. 7: joint success vs illuminance (0.01–100 000 lx) and vs f-number (f/1.4–f/22)
``table1``        Table I: our numbers beside the paper's, each row with its domain
``all``           every suite above (and af / ae / joint in the paper domain), plus the learning curves (Fig. 3)
================  ====================================================================================

Every table puts the **methods alone** first — the policies with their safety nets off (``dasha_policy``), the
ablation ``dfd`` (dasha's perception, no learning), the baselines as published — then the same methods **with the
deployed safety nets** (``NAME+nets``; ``dasha`` is ``dasha_policy+nets``), then the ``oracle`` bound. Held-out
object *and* background photos by default (``EVAL_SCENES``, ``EVAL_BACKGROUNDS``); ``domain="paper"`` draws the
paper's world (object 1.4–2.0 m, the 13–300 lx ramp, factory start settings) instead of 0.2 m–∞, 5–1 000 lx.
Methods run in parallel worker processes (one method's episodes in one process, so results do not depend on it).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dasha.agents.evaluate import SUCCESS, EpisodeResult, make_env, summarise
from dasha.agents.policy import Policy, policies_root
from dasha.baselines.autoexposure import AUTOEXPOSURE_METHODS
from dasha.baselines.autofocus import AUTOFOCUS_METHODS
from dasha.bench.runner import (
    NETS,
    AutoExposurePlayer,
    AutofocusPlayer,
    JointBaselinePlayer,
    OraclePlayer,
    PolicyPlayer,
    play_episodes,
)
from dasha.camera.errors import SpecError
from dasha.envs.config import DOMAIN_LABELS, EVAL_BACKGROUNDS, EVAL_SCENES, EnvConfig, domain_changes
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES

SUITES = ("af", "ae", "joint", "calibration", "detection-grid", "robustness", "table1", "all")
#: ``dasha_policy``: the shipped ``dasha`` policy alone, its safety nets off (what the RL agent learned by itself).
BARE_POLICY = "dasha_policy"
RL_METHODS = ("dasha", BARE_POLICY, "dasha_paper", "phase_shift_rl", "ten_rl")
#: Joint pipelines: an AE baseline, then an AF method (``dfd``: the ablation).
JOINT_PIPELINES = {"mean_luminance+dfd": ("mean_luminance", "dfd"), "mean_luminance+brent": ("mean_luminance", "brent"),
                   "basler_once+sweep": ("basler_once", "sweep"), "agc+hill_climb": ("agc", "hill_climb")}  # fmt: skip
#: Policy directory (under the policies root) of each RL method, per suite.
POLICY_DIRS = {
    "af": {"dasha": "focus", BARE_POLICY: "focus", "dasha_paper": "focus_paper", "phase_shift_rl": "phase_shift_rl",
           "ten_rl": "ten_rl"},
    "ae": {"dasha": "exposure", "dasha_paper": "exposure_paper"},  # the exposure task has no safety net
    "joint": {"dasha": "joint", BARE_POLICY: "joint", "dasha_paper": "joint_paper"},
}  # fmt: skip
TASK_OF_SUITE = {"af": "focus", "ae": "exposure", "joint": "joint"}
#: What a row's method is, where the name does not say it (reference-based methods: Table I "RB"), per suite.
METHOD_NOTES = {
    "phase_shift_rl": "RB: trained on a reward from the ground-truth lens distance to focus, as ref. [11]; observes a "
                      "simulated phase-detection reading (extra hardware) and its last lens travel; stops with its own "
                      "stop action; trained in the paper domain",
    "ten_rl": "RB: the reference is a sweep of every lens position per episode (its frames are counted as steps); "
              "stops at TEN ≥ 0.9·TEN_max of that sweep, as in ref. [12]; trained in the paper domain",
    "dasha_paper": {
        "af": "the paper's lens agent, trained in the paper domain; its episode ends when the detector finds the "
              "object — here, where no detector sees most photos, when the no-reference estimated blur is ≤ 1.5 px",
        "ae": "the paper's exposure agent, trained in the paper domain: one absolute exposure per episode",
        "joint": "the paper's two agents, trained in the paper domain; the lens search ends when the detector finds "
                 "the object (the paper's rule), sharp or not",
    },
    "dfd": "no learning: the policies' own perception (blur estimate, depth-from-defocus fit), jump and stop by rule",
}  # fmt: skip


def method_note(name: str, suite: str) -> str | None:
    """The note of ``name`` in ``suite`` (:data:`METHOD_NOTES`; ``+nets`` variants share their method's)."""
    note = METHOD_NOTES.get(name)
    return note.get(suite) if isinstance(note, dict) else note


def method_names(suite: str) -> list[str]:
    """Every method of a method suite, in table order: alone, then with the nets, then the bound."""
    if suite == "af":
        alone = [BARE_POLICY, "dfd", *AUTOFOCUS_METHODS, "phase_shift_rl", "ten_rl", "dasha_paper"]
        return [*alone, "dasha", "dfd" + NETS, *(m + NETS for m in AUTOFOCUS_METHODS)]
    if suite == "ae":
        return ["dasha", "dasha_paper", *AUTOEXPOSURE_METHODS]
    if suite == "joint":
        return [BARE_POLICY, "dasha_paper", *JOINT_PIPELINES, "dasha", *(p + NETS for p in JOINT_PIPELINES), "oracle"]
    raise SpecError(f"{suite!r} is not a method suite")


def group_of(name: str, suite: str = "af") -> str:
    """``alone``, ``nets`` (the deployed safety nets: ``dasha`` and ``NAME+nets``) or ``bound`` (the oracle); the
    exposure task has no nets, so every ``ae`` method is alone."""
    if name == "oracle":
        return "bound"
    if suite == "ae":
        return "alone"
    return "nets" if name == "dasha" or name.endswith(NETS) else "alone"


@dataclass
class BenchOptions:
    """Options shared by the suites."""

    episodes: int = 200
    seed: int = 0
    scenes: list[str] | None = None
    methods: list[str] | None = None
    detector: str = "haar-face"
    policies: Path = field(default_factory=policies_root)  # the shipped policies, wherever dasha is installed
    plots: Path | None = None
    progress: Callable[[str, int], Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)
    backgrounds: list[str] | None = None
    domain: str = "wide"
    workers: int | None = None
    """Worker processes (default: the machine's cores); 1 runs everything in this process."""


def suite_config(suite: str, opts: BenchOptions, domain: str | None = None) -> EnvConfig:
    """The world of a suite: held-out objects and backgrounds, the domain (``opts.domain`` unless given), f/2.8,
    ours-mode observations, success at 2 px and the deployed net budgets (a method without nets gets 0)."""
    scenes = tuple(opts.scenes) if opts.scenes else EVAL_SCENES
    backgrounds = tuple(opts.backgrounds) if opts.backgrounds else EVAL_BACKGROUNDS
    cfg = EnvConfig(scenes=scenes, backgrounds=backgrounds, lens_fallback_moves=EVAL_FALLBACK_MOVES,
                    bracket_moves=EVAL_BRACKET_MOVES, **domain_changes(domain or opts.domain))  # fmt: skip
    if suite in ("af", "ae", "calibration"):
        return cfg.replace(detector="estimated-focus")  # no decision may read ground truth; judged on the final frame
    if opts.detector == "haar-face" and not opts.scenes:
        return cfg.replace(detector=opts.detector, scenes=("astronaut",))
    return cfg.replace(detector=opts.detector)


def make_player(suite: str, name: str, policies: Path) -> Any | None:
    """The player of method ``name`` in ``suite`` (None when its policy directory is missing)."""
    base, nets = (name[: -len(NETS)], True) if name.endswith(NETS) else (name, name == "dasha")
    if base in RL_METHODS and not name.endswith(NETS):
        sub = POLICY_DIRS.get(suite, {}).get(name)
        if sub is None:
            raise SpecError(f"method {name!r} has no policy in bench {suite}")
        path = policies / sub
        return PolicyPlayer(name, Policy.load(path), nets=nets) if (path / "policy.json").is_file() else None
    if suite == "af" and (base in AUTOFOCUS_METHODS or base == "dfd"):
        return AutofocusPlayer(name, base, nets)
    if suite == "ae" and base in AUTOEXPOSURE_METHODS and not nets:
        return AutoExposurePlayer(name, base)
    if suite == "joint" and base in JOINT_PIPELINES:
        ae, af = JOINT_PIPELINES[base]
        return JointBaselinePlayer(name, ae, af, nets)
    if suite == "joint" and name == "oracle":
        return OraclePlayer()
    raise SpecError(f"unknown method {name!r} for bench {suite} (choose from: {', '.join(method_names(suite))})")


def env_for(player: Any, suite: str, cfg: EnvConfig) -> Any:
    """Env of a player: a policy keeps its own observation/action mode; nets only for players that have them."""
    env_class = None
    if not getattr(player, "nets", False):
        cfg = cfg.replace(lens_fallback_moves=0, bracket_moves=0)
    if isinstance(player, PolicyPlayer):
        cfg = cfg.with_agent_fields(player.policy.env_config())
        env_class = player.policy.meta.get("env_class")
        env = make_env(TASK_OF_SUITE[suite], cfg, env_class)
        player.policy.check_env(env)
        return env
    return make_env(TASK_OF_SUITE[suite], cfg, env_class)


@dataclass(frozen=True)
class Job:
    """One method's episodes in one world (picklable: runs in a worker process)."""

    suite: str
    name: str
    config: EnvConfig
    episodes: int
    seed: int
    policies: Path
    key: str = ""


def run_job(job: Job) -> tuple[Job, list[EpisodeResult] | None]:
    """Play a job's episodes (None when the method's policy is missing); images are dropped."""
    player = make_player(job.suite, job.name, job.policies)
    if player is None:
        return job, None
    env = env_for(player, job.suite, job.config)
    results = play_episodes(player, env, job.episodes, job.seed)
    for r in results:
        r.first = r.last = None
    return job, results


def _init_worker() -> None:
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def run_jobs(jobs: list[Job], opts: BenchOptions, label: str) -> dict[str, list[EpisodeResult] | None]:
    """Run jobs (in parallel worker processes when ``opts.workers`` > 1); results by ``job.key or job.name``."""
    workers = max(1, min(opts.workers or os.cpu_count() or 1, len(jobs)))
    out: dict[str, list[EpisodeResult] | None] = {}

    def done(job: Job, results: list[EpisodeResult] | None) -> None:
        out[job.key or job.name] = results
        if opts.progress is not None:
            opts.progress(f"{label}:{job.key or job.name}", job.episodes)

    if workers == 1:
        for job in jobs:
            done(*run_job(job))
        return out
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker) as ex:
        for future in as_completed([ex.submit(run_job, job) for job in jobs]):
            done(*future.result())
    return out


def _suffix(domain: str) -> str:
    return "" if domain == "wide" else f"-{domain}"


def run_method_suite(
    suite: str, opts: BenchOptions, domain: str | None = None, methods: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, list[EpisodeResult]]]:
    """Run the ``af``, ``ae`` or ``joint`` suite: JSON document (contract) and per-method results."""
    domain = domain or opts.domain
    cfg = suite_config(suite, opts, domain)
    names = method_names(suite)
    chosen = methods or opts.methods
    if chosen:
        unknown = sorted(set(chosen) - set(names))
        if unknown:
            raise SpecError(f"unknown method(s) {unknown} for bench {suite} (choose from: {', '.join(names)})")
        names = [n for n in names if n in chosen]
    jobs = [Job(suite, n, cfg, opts.episodes, opts.seed, opts.policies) for n in names]
    got = run_jobs(jobs, opts, suite + _suffix(domain))
    results: dict[str, list[EpisodeResult]] = {}
    methods_doc: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for name in names:  # table order, whatever order the workers finished in
        res = got.get(name)
        if res is None:
            notes[name] = f"skipped: no policy at {opts.policies / POLICY_DIRS[suite][name]}"
            continue
        results[name] = res
        methods_doc[name] = {**summarise(res), "group": group_of(name, suite)}
        if note := method_note(name, suite):
            methods_doc[name]["note"] = note
    doc = {"suite": suite, "domain": domain, "domain_label": DOMAIN_LABELS[domain], "episodes": opts.episodes,
           "seed": opts.seed, "scenes": list(cfg.scenes), "backgrounds": list(cfg.backgrounds),
           "success": SUCCESS[TASK_OF_SUITE[suite]], "methods": methods_doc}  # fmt: skip
    if suite == "joint":
        doc["detector"] = cfg.detector
    if notes:
        doc["notes"] = notes
        opts.notes.update({f"{suite}/{k}": v for k, v in notes.items()})
    return doc, results


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    """Write a JSON document (``inf`` / NaN as strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_safe(doc), indent=2))
    return path


def _safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def pct(rate: float | None, ci: list[float] | None = None) -> str:
    """``97.5 % (94.3–98.9)``: a rate with its 95 % interval."""
    if rate is None:
        return "–"
    text = f"{100 * rate:.1f} %"
    return text + (f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")


def _num(x: Any, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


GROUP_TITLES = {"alone": "methods alone", "nets": "with the deployed safety nets (`+nets`; `dasha` = "
                "`dasha_policy+nets`)", "bound": "upper bound (ground truth)"}  # fmt: skip


def markdown_table(doc: dict[str, Any]) -> str:
    """Markdown tables of one method suite: methods alone, then with the nets, then the bound."""
    joint, ae = doc["suite"] == "joint", doc["suite"] == "ae"
    head = ["method", "success (95 % CI)"] + (["detected (95 % CI)"] if joint else []) + (
        ["object clipped"] if ae else []) + ["mean steps", "p95 steps", "ms/step", "of it detector",
                                             "paper rig s ✓", "fast rig s ✓"]  # fmt: skip
    where = f"{doc['episodes']} episodes, seed {doc['seed']}, {doc.get('domain_label', '')}; objects " \
            f"{', '.join(doc['scenes'])}; backgrounds {', '.join(doc.get('backgrounds', []))}"  # fmt: skip
    lines = [f"**{doc['suite']}**{' (paper domain)' if doc.get('domain') == 'paper' else ''} — {where}. Success: "
             f"{doc.get('success', '')}. ✓: rig time of the successful episodes only."]  # fmt: skip
    for group in ("alone", "nets", "bound"):
        items = [(k, m) for k, m in doc["methods"].items() if m.get("group", group_of(k, doc["suite"])) == group]
        if not items:
            continue
        items.sort(key=lambda kv: (-kv[1]["success_rate"], kv[1]["mean_steps"]))
        lines += ["", f"*{GROUP_TITLES[group]}*", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, m in items:
            cells = [name, pct(m["success_rate"], m.get("success_ci95"))]
            if joint:
                cells.append(pct(m.get("detection_rate"), m.get("detection_ci95")))
            if ae:
                cells.append(pct(m.get("object_clipped_fraction")))
            rig = m["rig_seconds"]
            cells += [
                f"{m['mean_steps']:.2f}",
                f"{m['p95_steps']:.0f}",
                f"{m['ms_per_step']:.2f}",
                f"{m.get('detector_ms_per_step', 0.0):.2f}",
                _num(rig["paper"], ".1f"),
                _num(rig["fast"], ".3f"),
            ]
            lines.append("| " + " | ".join(cells) + " |")  # fmt: skip
    notes = {k: m["note"] for k, m in doc["methods"].items() if "note" in m}
    if notes:
        lines += [""] + [f"- `{k}`: {v}." for k, v in notes.items()]
    return "\n".join(lines) + "\n"


# -- calibration: what the controllers believe about the lens is wrong --------------------------------------------
CALIBRATION_ERRORS: tuple[tuple[str, float, float], ...] = (
    ("exact", 0.0, 0.0), ("−0.5 dpt", -0.5, 0.0), ("−0.2 dpt", -0.2, 0.0), ("+0.2 dpt", 0.2, 0.0),
    ("+0.5 dpt", 0.5, 0.0), ("slope −5 %", 0.0, -0.05), ("slope +5 %", 0.0, 0.05),
)  # fmt: skip
CALIBRATION_METHODS = (BARE_POLICY, "dasha", "dfd", "dfd" + NETS, "brent", "cdaf")


def calibration(opts: BenchOptions) -> dict[str, Any]:
    """The af suite with the controllers' lens model perturbed (offset, slope) while the world stays true."""
    base = suite_config("af", opts)
    per_point = max(4, opts.episodes // 2)
    names = [m for m in CALIBRATION_METHODS if not opts.methods or m in opts.methods]
    jobs = [Job("af", name, base.replace(calibration_error=(off, slope)), per_point, opts.seed, opts.policies,
                key=f"{name}@{label}") for name in names for label, off, slope in CALIBRATION_ERRORS]  # fmt: skip
    got = run_jobs(jobs, opts, "calibration")
    methods: dict[str, Any] = {}
    for name in names:
        rows = [got.get(f"{name}@{label}") for label, _, _ in CALIBRATION_ERRORS]
        if any(r is None for r in rows):
            continue
        summaries = [summarise(r) for r in rows if r is not None]
        methods[name] = {"success_rate": [s["success_rate"] for s in summaries],
                         "success_ci95": [s["success_ci95"] for s in summaries],
                         "mean_steps": [s["mean_steps"] for s in summaries]}  # fmt: skip
    return {"suite": "calibration", "domain": opts.domain, "episodes_per_point": per_point, "seed": opts.seed,
            "scenes": list(base.scenes), "backgrounds": list(base.backgrounds),
            "perturbations": [label for label, _, _ in CALIBRATION_ERRORS],
            "offset_d": [o for _, o, _ in CALIBRATION_ERRORS], "slope_error": [s for _, _, s in CALIBRATION_ERRORS],
            "methods": methods}  # fmt: skip


def calibration_markdown(doc: dict[str, Any]) -> str:
    """The calibration suite as a markdown table: success and mean moves per believed-model error."""
    labels = doc["perturbations"]
    lines = [f"**calibration** — af, {doc['episodes_per_point']} episodes per column, seed {doc['seed']}: the lens "
             "model the controllers believe is off (offset in dpt, slope in %); the world stays true. "
             "Cells: success % / mean lens moves.", "",
             "| method | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]  # fmt: skip
    for name, m in doc["methods"].items():
        cells = [f"{100 * s:.1f} / {st:.2f}" for s, st in zip(m["success_rate"], m["mean_steps"], strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- robustness (Fig. 7) ----------------------------------------------------------------------------------------
LUX_LEVELS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0)
F_NUMBERS = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0)
ROBUSTNESS_METHODS = ("dasha", BARE_POLICY, "dasha_paper", "mean_luminance+dfd", "mean_luminance+brent" + NETS)


def robustness(opts: BenchOptions) -> dict[str, Any]:
    """Fig. 7: joint success vs illuminance and vs f-number (the f-number sweep at 50–500 lx), wide enough that
    every method breaks somewhere."""
    base = suite_config("joint", opts)
    per_level = max(4, opts.episodes // 10)
    names = [m for m in ROBUSTNESS_METHODS if not opts.methods or m in opts.methods]
    worlds = [(f"lux={lux:g}", base.replace(lux=(lux, lux), lux_schedule="log-uniform")) for lux in LUX_LEVELS]
    worlds += [(f"f={fn:g}", base.replace(f_number=(fn, fn), lux=(50.0, 500.0), lux_schedule="log-uniform"))
               for fn in F_NUMBERS]  # fmt: skip
    jobs = [Job("joint", name, cfg, per_level, opts.seed, opts.policies, key=f"{name}@{w}")
            for name in names for w, cfg in worlds]  # fmt: skip
    got = run_jobs(jobs, opts, "robustness")
    curves: dict[str, dict[str, list[Any]]] = {}
    for name in names:
        rows = {w: got.get(f"{name}@{w}") for w, _ in worlds}
        if any(r is None for r in rows.values()):
            continue
        s = {w: summarise(r) for w, r in rows.items() if r is not None}
        curves[name] = {
            "lux": list(LUX_LEVELS), "lux_success": [s[f"lux={x:g}"]["success_rate"] for x in LUX_LEVELS],
            "lux_ci95": [s[f"lux={x:g}"]["success_ci95"] for x in LUX_LEVELS],
            "f_number": list(F_NUMBERS), "f_success": [s[f"f={x:g}"]["success_rate"] for x in F_NUMBERS],
            "f_ci95": [s[f"f={x:g}"]["success_ci95"] for x in F_NUMBERS],
        }  # fmt: skip
    return {"suite": "robustness", "episodes_per_point": per_level, "seed": opts.seed, "detector": base.detector,
            "scenes": list(base.scenes), "backgrounds": list(base.backgrounds), "success": SUCCESS["joint"],
            "curves": curves}  # fmt: skip


# -- running suites -------------------------------------------------------------------------------------------
PAPER_DOMAIN_AF = ("dasha_paper", "phase_shift_rl", "ten_rl", BARE_POLICY, "dasha", "dfd", "brent", "sweep")
PAPER_DOMAIN_JOINT = ("dasha_paper", BARE_POLICY, "dasha", "mean_luminance+dfd", "mean_luminance+brent",
                      "mean_luminance+brent" + NETS, "oracle")  # fmt: skip
PAPER_DOMAIN_AE = ("dasha_paper", "dasha", "mean_luminance", "basler_once")
TABLE1_WIDE = ("dasha", BARE_POLICY, "dfd", "brent", "sweep")


def run_suite(suite: str, opts: BenchOptions, json_out: Path | None = None) -> dict[str, Any]:
    """Run one suite (or ``all``); write JSON, figures and ``results.md`` under ``opts.plots`` (``results.md``
    describes every suite whose JSON is in that directory, so re-running one suite keeps the others' tables)."""
    from dasha.bench import figures

    if suite not in SUITES:
        raise SpecError(f"unknown bench suite {suite!r} (choose from: {', '.join(SUITES)})")
    domain_changes(opts.domain)  # validates the name
    plots = opts.plots or Path("runs/bench")
    docs: dict[str, Any] = {}
    if suite == "all":  # (suite, domain, methods): the wide suites, then af and joint in the paper's domain
        plan = [("af", opts.domain, None), ("ae", opts.domain, None), ("joint", opts.domain, None),
                ("af", "paper", list(PAPER_DOMAIN_AF)), ("ae", "paper", list(PAPER_DOMAIN_AE)),
                ("joint", "paper", list(PAPER_DOMAIN_JOINT)),
                ("calibration", opts.domain, None), ("detection-grid", "", None), ("robustness", opts.domain, None),
                ("table1", "", None)]  # fmt: skip
    else:
        plan = [(suite, opts.domain, None)]
    for name, domain, chosen in plan:
        key = name + _suffix(domain) if name in TASK_OF_SUITE else name
        if name in TASK_OF_SUITE:
            doc, _ = run_method_suite(name, opts, domain, chosen)
            figures.method_bars(doc, plots, stem=key)
        elif name == "calibration":
            doc = calibration(opts)
            figures.calibration_plot(doc, plots)
        elif name == "detection-grid":
            doc = figures.detection_grid(["haar-face", "aruco", "haar-cat", "yolo", "faster-rcnn", "retinanet"], plots,
                                         seed=opts.seed)  # fmt: skip
        elif name == "robustness":
            doc = robustness(opts)
            figures.robustness_plot(doc, plots)
        else:  # table1: the paper's methods in the paper's domain, ours in both
            paper = docs.get("af-paper") or run_method_suite("af", opts, "paper", list(PAPER_DOMAIN_AF))[0]
            wide = docs.get("af") or run_method_suite("af", opts, "wide", list(TABLE1_WIDE))[0]
            doc = figures.table1(paper, wide, keep=(*PAPER_DOMAIN_AF, *TABLE1_WIDE))
        docs[key] = doc
        write_json(plots / f"{key}.json", doc)
    if suite == "all":
        figures.learning_curves(opts.policies, plots)
    on_disk = {}  # results.md describes every suite in the directory, the ones just run included
    for path in sorted(plots.glob("*.json")):
        if path.stem in docs:  # just written from memory
            continue
        try:
            on_disk[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
    md = results_markdown({**on_disk, **docs})
    if md.strip():
        (plots / "results.md").write_text(md)
    only = next(iter(docs.values()))
    result = only if suite != "all" else {"suite": "all", "episodes": opts.episodes, "seed": opts.seed,
                                          "suites": docs}  # fmt: skip
    if json_out is not None:
        write_json(json_out, result)
    return result


def robustness_markdown(doc: dict[str, Any]) -> str:
    """The robustness suite as two compact tables: success (%) per illuminance and per f-number."""
    curves = doc["curves"]
    if not curves:
        return ""
    first = next(iter(curves.values()))
    lines = [f"**robustness** — joint, {doc['episodes_per_point']} episodes per point, success (detected and in "
             "focus, %) vs illuminance (lx) and vs f-number (at 50–500 lx)", ""]  # fmt: skip
    for axis, key, unit in (("lux", "lux_success", "lx"), ("f_number", "f_success", "f/")):
        cols = [f"{x:g}" for x in first[axis]]
        lines += ["| method | " + " | ".join(f"{unit}{c}" if unit == "f/" else f"{c} {unit}" for c in cols) + " |",
                  "|" + "---|" * (len(cols) + 1)]  # fmt: skip
        lines += [f"| {name} | " + " | ".join(f"{100 * v:.0f}" for v in c[key]) + " |" for name, c in curves.items()]
        lines.append("")
    return "\n".join(lines)


#: The order of the README results block (keys of the JSON files under ``docs/results``).
RESULTS_ORDER = ("af", "ae", "joint", "af-paper", "ae-paper", "joint-paper", "calibration", "robustness", "table1")
TABLE1_TITLE = ("**Table I** — the paper's numbers beside ours; every row says its domain; AF time counts the "
                "successful episodes only.\n\n")  # fmt: skip


def results_markdown(docs: dict[str, Any]) -> str:
    """The markdown of every suite document in ``docs`` (keyed as the JSON files), in :data:`RESULTS_ORDER`."""
    from dasha.bench import figures

    parts = []
    for key in sorted(docs, key=lambda k: RESULTS_ORDER.index(k) if k in RESULTS_ORDER else len(RESULTS_ORDER)):
        doc = docs[key]
        suite = doc.get("suite")
        if suite in TASK_OF_SUITE:
            parts.append(markdown_table(doc))
        elif suite == "calibration":
            parts.append(calibration_markdown(doc))
        elif suite == "robustness":
            parts.append(robustness_markdown(doc))
        elif suite == "table1":
            parts.append(TABLE1_TITLE + figures.table1_markdown(doc))
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def update_readme(readme: Path, plots: Path, command: str) -> None:
    """Replace the README's results block with ``results.md`` and the figures of ``plots``."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise SpecError(f"{readme} has no {README_START} … {README_END} block")
    rel = plots.resolve().relative_to(readme.resolve().parent) if plots.resolve().is_relative_to(
        readme.resolve().parent) else plots  # fmt: skip
    figures = [f"![{p.stem}]({rel / p.name})" for p in sorted(plots.glob("*.png"))]
    body = [README_START, "", f"Regenerate with `{command}`.", "", (plots / "results.md").read_text(), *figures, "",
            README_END]  # fmt: skip
    head, _, rest = text.partition(README_START)
    _, _, tail = rest.partition(README_END)
    readme.write_text(head + "\n".join(body) + tail)
