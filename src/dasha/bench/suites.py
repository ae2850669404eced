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

This module runs the suites; the pieces live beside it: :mod:`~dasha.bench.methods` (the methods of each suite and
their players), :mod:`~dasha.bench.jobs` (options, the world of a suite, jobs in worker processes),
:mod:`~dasha.bench.sweeps` (``calibration``, ``robustness``), :mod:`~dasha.bench.markdown` (tables, ``results.md``,
the README block) and :mod:`~dasha.bench.figures` (figures, ``detection-grid``, ``table1``). Their public names are
importable from here too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dasha.agents.evaluate import SUCCESS, EpisodeResult, summarise
from dasha.bench.jobs import (
    BenchInterrupted,
    BenchOptions,
    Job,
    mark_partial,
    run_job,
    run_jobs,
    run_jobs_or_partial,
    suite_config,
)
from dasha.bench.markdown import (
    GROUP_TITLES,
    README_END,
    README_START,
    RESULTS_ORDER,
    TABLE1_TITLE,
    calibration_markdown,
    markdown_table,
    pct,
    results_markdown,
    robustness_markdown,
    update_readme,
)
from dasha.bench.methods import (
    BARE_POLICY,
    JOINT_PIPELINES,
    METHOD_NOTES,
    POLICY_DIRS,
    RL_METHODS,
    TASK_OF_SUITE,
    env_for,
    group_of,
    make_player,
    method_names,
    method_note,
)
from dasha.bench.runner import NETS
from dasha.bench.sweeps import (
    CALIBRATION_ERRORS,
    CALIBRATION_METHODS,
    CONDITION_POINTS,
    F_NUMBERS,
    LUX_LEVELS,
    ROBUSTNESS_METHODS,
    calibration,
    conditions,
    robustness,
)
from dasha.camera.errors import SpecError
from dasha.envs.config import DOMAIN_LABELS, EnvConfig, domain_changes
from dasha.jsonio import write_atomic, write_json

__all__ = [
    "BARE_POLICY", "CALIBRATION_ERRORS", "CALIBRATION_METHODS", "CONDITION_POINTS", "F_NUMBERS", "GROUP_TITLES",
    "JOINT_PIPELINES", "LUX_LEVELS", "METHOD_NOTES", "PAPER_DOMAIN_AE", "PAPER_DOMAIN_AF", "PAPER_DOMAIN_JOINT",
    "POLICY_DIRS", "README_END", "README_START", "RESULTS_ORDER", "RL_METHODS", "ROBUSTNESS_METHODS", "SUITES",
    "TABLE1_TITLE", "TABLE1_WIDE", "TASK_OF_SUITE", "BenchInterrupted", "BenchOptions", "Job", "calibration",
    "calibration_markdown", "conditions", "env_for", "group_of", "make_player", "markdown_table", "method_names",
    "method_note", "pct", "results_markdown", "robustness", "robustness_markdown", "run_job", "run_jobs",
    "run_method_suite", "run_suite", "suite_config", "update_readme", "write_json",
]  # fmt: skip

SUITES = ("af", "ae", "joint", "calibration", "conditions", "detection-grid", "robustness", "table1", "all")


# -- the method suites (af, ae, joint) ---------------------------------------------------------------------------
def _suffix(domain: str) -> str:
    return "" if domain == "wide" else f"-{domain}"


def domain_label(cfg: EnvConfig, domain: str) -> str:
    """The domain's label (:data:`~dasha.envs.config.DOMAIN_LABELS`) and the world's f-number (range)."""
    lo, hi = cfg.f_number
    return f"{DOMAIN_LABELS[domain]}, f/{lo:g}" + (f"–f/{hi:g}" if hi > lo else "")


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
    got, interrupted = run_jobs_or_partial(jobs, opts, suite + _suffix(domain))
    results: dict[str, list[EpisodeResult]] = {}
    methods_doc: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for name in names:  # table order, whatever order the workers finished in
        if name not in got or got[name] == []:  # interrupted before this method finished an episode
            continue
        res = got[name]
        if res is None:
            notes[name] = f"skipped: no policy at {opts.policies / POLICY_DIRS[suite][name]}"
            continue
        results[name] = res
        methods_doc[name] = {**summarise(res), "group": group_of(name, suite)}
        if note := method_note(name, suite):
            methods_doc[name]["note"] = note
        if interrupted is not None:
            methods_doc[name]["episodes_done"] = len(res)
    doc = {"suite": suite, "domain": domain, "domain_label": domain_label(cfg, domain), "episodes": opts.episodes,
           "seed": opts.seed, "scenes": list(cfg.scenes), "backgrounds": list(cfg.backgrounds),
           "success": SUCCESS[TASK_OF_SUITE[suite]], "methods": methods_doc}  # fmt: skip
    if suite == "joint":
        doc["detector"] = cfg.detector
    if notes:
        doc["notes"] = notes
        opts.notes.update({f"{suite}/{k}": v for k, v in notes.items()})
    if interrupted is not None:
        raise mark_partial(interrupted, doc, sum(len(r) for r in results.values()))
    return doc, results


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
                ("calibration", opts.domain, None), ("conditions", opts.domain, None), ("detection-grid", "", None),
                ("robustness", opts.domain, None),
                ("table1", "", None)]  # fmt: skip
    else:
        plan = [(suite, opts.domain, None)]
    interrupted: BenchInterrupted | None = None
    for name, domain, chosen in plan:
        key = name + _suffix(domain) if name in TASK_OF_SUITE else name
        try:
            doc = _run_one(name, domain, chosen, opts, plots, docs)
        except KeyboardInterrupt as exc:  # write what was finished (marked partial), then stop
            interrupted = exc if isinstance(exc, BenchInterrupted) else BenchInterrupted({})
            if interrupted.doc is None:
                break
            doc = interrupted.doc
        docs[key] = doc
        write_json(plots / f"{key}.json", doc)
        if interrupted is not None:
            break
    if suite == "all" and interrupted is None:
        figures.learning_curves(opts.policies, plots)
    md = results_markdown({**_docs_on_disk(plots, skip=docs), **docs})
    if md.strip():
        write_atomic(plots / "results.md", md)
    only = next(iter(docs.values()), {"suite": suite, "episodes": opts.episodes, "seed": opts.seed, "methods": {}})
    result = only if suite != "all" else {"suite": "all", "episodes": opts.episodes, "seed": opts.seed,
                                          "suites": docs}  # fmt: skip
    if interrupted is not None:
        result = {**result, "partial": True}
        result.setdefault("episodes_done", sum(d.get("episodes_done", 0) for d in docs.values() if d.get("partial")))
    if json_out is not None:
        write_json(json_out, result)
    if interrupted is not None:
        interrupted.doc = result
        raise interrupted
    return result


def _docs_on_disk(plots: Path, skip: dict[str, Any]) -> dict[str, Any]:
    """The suite documents already in ``plots`` (``results.md`` describes every suite in the directory); files that
    are not a JSON object are left out."""
    out = {}
    for path in sorted(plots.glob("*.json")):
        if path.stem in skip:  # just written from memory
            continue
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue
        if isinstance(doc, dict):
            out[path.stem] = doc
    return out


def _run_one(name: str, domain: str, chosen: list[str] | None, opts: BenchOptions, plots: Path,
             docs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """One step of a suite's plan: its document (figures written beside it); BenchInterrupted with the partial
    document when interrupted."""
    from dasha.bench import figures

    if name in TASK_OF_SUITE:
        doc, _ = run_method_suite(name, opts, domain, chosen)
        figures.method_bars(doc, plots, stem=name + _suffix(domain))
    elif name in ("calibration", "conditions"):
        doc = calibration(opts) if name == "calibration" else conditions(opts)
        figures.calibration_plot(doc, plots)
    elif name == "detection-grid":
        doc = figures.detection_grid(["haar-face", "aruco", "haar-cat", "yolo", "faster-rcnn", "retinanet"], plots,
                                     seed=opts.seed)  # fmt: skip
    elif name == "robustness":
        doc = robustness(opts)
        figures.robustness_plot(doc, plots)
    else:  # table1: the paper's methods in the paper's domain, ours in both
        try:
            paper = docs.get("af-paper") or run_method_suite("af", opts, "paper", list(PAPER_DOMAIN_AF))[0]
            wide = docs.get("af") or run_method_suite("af", opts, "wide", list(TABLE1_WIDE))[0]
        except BenchInterrupted as exc:
            exc.doc = None  # an af document is not table 1
            raise
        doc = figures.table1(paper, wide, keep=(*PAPER_DOMAIN_AF, *TABLE1_WIDE))
    return doc
