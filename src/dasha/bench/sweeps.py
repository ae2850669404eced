"""The sweep suites: one condition varied over many points, every point a job of its own.

* ``calibration``: the af suite with the lens model the controllers *believe* off by ±0.2 / ±0.5 dpt or ±5 % slope,
  while the world stays true;
* ``conditions``: every af method clear and under rain, dust, glare, motion blur and at 1 lx (the paper's future
  work);
* ``robustness`` (the paper's Fig. 7): joint success vs illuminance (0.01–100 000 lx) and vs f-number (f/1.4–f/22).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dasha.agents.evaluate import SUCCESS, summarise
from dasha.bench.jobs import BenchInterrupted, BenchOptions, Job, mark_partial, run_jobs_or_partial, suite_config
from dasha.bench.methods import BARE_POLICY, method_names
from dasha.bench.runner import NETS
from dasha.envs.config import EnvConfig

# -- calibration: what the controllers believe about the lens is wrong --------------------------------------------
CALIBRATION_ERRORS: tuple[tuple[str, float, float], ...] = (
    ("exact", 0.0, 0.0), ("−0.5 dpt", -0.5, 0.0), ("−0.2 dpt", -0.2, 0.0), ("+0.2 dpt", 0.2, 0.0),
    ("+0.5 dpt", 0.5, 0.0), ("slope −5 %", 0.0, -0.05), ("slope +5 %", 0.0, 0.05),
)  # fmt: skip
CALIBRATION_METHODS = (BARE_POLICY, "dasha", "dfd", "dfd" + NETS, "brent", "cdaf")


def _method_sweep(suite: str, opts: BenchOptions, names: Sequence[str], points: Sequence[tuple[str, EnvConfig]],
                  per_point: int) -> tuple[dict[str, Any], BenchInterrupted | None, int]:  # fmt: skip
    """Every method at every point (an af world each): ``{method: success_rate, success_ci95, mean_steps lists}``,
    the interruption if any, and the episodes done."""
    jobs = [Job("af", name, cfg, per_point, opts.seed, opts.policies, key=f"{name}@{label}")
            for name in names for label, cfg in points]  # fmt: skip
    got, interrupted = run_jobs_or_partial(jobs, opts, suite)
    methods: dict[str, Any] = {}
    for name in names:
        rows = [got.get(f"{name}@{label}") for label, _ in points]
        if any(not r for r in rows):  # no policy, or interrupted before every point had an episode
            continue
        summaries = [summarise(r) for r in rows if r is not None]
        methods[name] = {"success_rate": [s["success_rate"] for s in summaries],
                         "success_ci95": [s["success_ci95"] for s in summaries],
                         "mean_steps": [s["mean_steps"] for s in summaries]}  # fmt: skip
    return methods, interrupted, sum(len(r) for r in got.values() if r)


def calibration(opts: BenchOptions) -> dict[str, Any]:
    """The af suite with the controllers' lens model perturbed (offset, slope) while the world stays true."""
    base = suite_config("af", opts)
    per_point = max(4, opts.episodes // 2)
    names = [m for m in CALIBRATION_METHODS if not opts.methods or m in opts.methods]
    points = [(label, base.replace(calibration_error=(off, slope))) for label, off, slope in CALIBRATION_ERRORS]
    methods, interrupted, done = _method_sweep("calibration", opts, names, points, per_point)
    doc = {"suite": "calibration", "domain": opts.domain, "episodes_per_point": per_point, "seed": opts.seed,
           "scenes": list(base.scenes), "backgrounds": list(base.backgrounds),
           "perturbations": [label for label, _, _ in CALIBRATION_ERRORS],
           "offset_d": [o for _, o, _ in CALIBRATION_ERRORS], "slope_error": [s for _, _, s in CALIBRATION_ERRORS],
           "methods": methods}  # fmt: skip
    if interrupted is not None:
        raise mark_partial(interrupted, doc, done)
    return doc


# -- conditions: the paper's future work, extreme conditions -------------------------------------------------------
CONDITION_POINTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("clear", {}), ("rain", {"condition": "rain"}), ("dust", {"condition": "dust"}), ("glare", {"condition": "glare"}),
    ("motion blur", {"condition": "motion"}), ("dark (1 lx)", {"lux": (1.0, 1.0)}),
)  # fmt: skip
"""The conditions suite's columns: the af world clear, then under each condition (:mod:`dasha.camera.sim.conditions`,
strength 1) and at 1 lx."""


def conditions(opts: BenchOptions) -> dict[str, Any]:
    """Every af method clear and under rain, dust, glare, motion blur and darkness (1 lx): success and moves."""
    base = suite_config("af", opts)
    per_point = max(4, opts.episodes // 4)
    names = [m for m in method_names("af") if not opts.methods or m in opts.methods]
    points = [(label, base.replace(**changes)) for label, changes in CONDITION_POINTS]
    methods, interrupted, done = _method_sweep("conditions", opts, names, points, per_point)
    doc = {"suite": "conditions", "domain": opts.domain, "episodes_per_point": per_point, "seed": opts.seed,
           "scenes": list(base.scenes), "backgrounds": list(base.backgrounds),
           "perturbations": [label for label, _ in CONDITION_POINTS], "methods": methods}  # fmt: skip
    if interrupted is not None:
        raise mark_partial(interrupted, doc, done)
    return doc


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
    got, interrupted = run_jobs_or_partial(jobs, opts, "robustness")
    curves: dict[str, dict[str, list[Any]]] = {}
    for name in names:
        rows = {w: got.get(f"{name}@{w}") for w, _ in worlds}
        if any(not r for r in rows.values()):  # no policy, or interrupted before every point had an episode
            continue
        s = {w: summarise(r) for w, r in rows.items() if r is not None}
        curves[name] = {
            "lux": list(LUX_LEVELS), "lux_success": [s[f"lux={x:g}"]["success_rate"] for x in LUX_LEVELS],
            "lux_ci95": [s[f"lux={x:g}"]["success_ci95"] for x in LUX_LEVELS],
            "f_number": list(F_NUMBERS), "f_success": [s[f"f={x:g}"]["success_rate"] for x in F_NUMBERS],
            "f_ci95": [s[f"f={x:g}"]["success_ci95"] for x in F_NUMBERS],
        }  # fmt: skip
    doc = {"suite": "robustness", "episodes_per_point": per_level, "seed": opts.seed, "detector": base.detector,
           "scenes": list(base.scenes), "backgrounds": list(base.backgrounds), "success": SUCCESS["joint"],
           "curves": curves}  # fmt: skip
    if interrupted is not None:
        raise mark_partial(interrupted, doc, sum(len(r) for r in got.values() if r))
    return doc
