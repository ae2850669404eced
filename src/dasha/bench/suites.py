"""``dasha bench`` suites: identical seeded episodes for every method; JSON, figures and a markdown table.

============  ======================================================================================
``af``        autofocus from a well-exposed start: in-focus success (blur ≤ 2 px), lens moves
``ae``        auto-exposure: well-exposed success (histogram peak P ∈ [50, 150]), exposure moves
``joint``     exposure + focus: detection rate of the configured detector, plus the grid ``oracle``
``detection-grid``  Fig. 4: detection over the exposure × focus grid for every available detector
``robustness``      Fig. 7: success vs illuminance (1–10 000 lx) and vs f-number
``table1``    Table I: our numbers beside the paper's
``all``       every suite above, plus the learning curves of the shipped RL policies (Fig. 3)
============  ======================================================================================

Methods: the classical baselines, the paper's RL baselines, ``dasha_paper``, ``dasha`` (the shipped ours-mode
policy with its deployed safety nets) and ``dasha_policy`` (the same policy alone, nets off; ``af`` and ``joint``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dasha.agents.evaluate import EpisodeResult, make_env, summarise
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import AUTOEXPOSURE_METHODS
from dasha.baselines.autofocus import AUTOFOCUS_METHODS
from dasha.bench.runner import (
    AutoExposurePlayer,
    AutofocusPlayer,
    JointBaselinePlayer,
    OraclePlayer,
    PolicyPlayer,
    play_episodes,
)
from dasha.camera.errors import SpecError
from dasha.envs.config import EVAL_SCENES, EnvConfig
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES

SUITES = ("af", "ae", "joint", "detection-grid", "robustness", "table1", "all")
#: ``dasha_policy``: the shipped ``dasha`` policy alone, its safety nets off (what the RL agent learned by itself).
BARE_POLICY = "dasha_policy"
RL_METHODS = ("dasha", BARE_POLICY, "dasha_paper", "phase_shift_rl", "ten_rl")
JOINT_BASELINES = {"mean_luminance+brent": ("mean_luminance", "brent"), "basler_once+sweep": ("basler_once", "sweep"),
                   "agc+hill_climb": ("agc", "hill_climb")}  # fmt: skip
#: Policy directory (under the policies root) of each RL method, per suite.
POLICY_DIRS = {
    "af": {
        "dasha": "focus",
        BARE_POLICY: "focus",
        "dasha_paper": "focus_paper",
        "phase_shift_rl": "phase_shift_rl",
        "ten_rl": "ten_rl",
    },
    "ae": {"dasha": "exposure", "dasha_paper": "exposure_paper"},  # the exposure env has no safety net
    "joint": {"dasha": "joint", BARE_POLICY: "joint", "dasha_paper": "joint_paper"},
}


@dataclass
class BenchOptions:
    """Options shared by the suites."""

    episodes: int = 200
    seed: int = 0
    scenes: list[str] | None = None
    methods: list[str] | None = None
    detector: str = "haar-face"
    policies: Path = Path("policies")
    plots: Path | None = None
    progress: Callable[[str, int], Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)


def suite_config(suite: str, opts: BenchOptions) -> EnvConfig:
    """The environment of a suite: held-out photos, 0.2 m – ∞, 5–1 000 lx, f/2.8, ours-mode observations, the
    lens agent's safety net and, in the joint suite, the detection safety net on (as deployed;
    :mod:`dasha.envs.lens_fallback`, :mod:`dasha.envs.exposure_bracket`)."""
    scenes = tuple(opts.scenes) if opts.scenes else EVAL_SCENES
    cfg = EnvConfig(scenes=scenes, lux=(5.0, 1000.0), lens_fallback_moves=EVAL_FALLBACK_MOVES,
                    bracket_moves=EVAL_BRACKET_MOVES)  # fmt: skip
    if suite == "af":
        return cfg.replace(detector="in-focus")
    if suite == "ae":
        return cfg.replace(detector="in-focus")
    if opts.detector == "haar-face" and not opts.scenes:
        return cfg.replace(detector=opts.detector, scenes=("astronaut",))
    return cfg.replace(detector=opts.detector)


def players(suite: str, opts: BenchOptions) -> dict[str, Any]:
    """Every method of a suite that can run here (RL policies need their directory under ``policies``)."""
    out: dict[str, Any] = {}
    for name, sub in POLICY_DIRS.get(suite, {}).items():
        path = opts.policies / sub
        if (path / "policy.json").is_file():
            out[name] = PolicyPlayer(name, Policy.load(path), safety_nets=name != BARE_POLICY)
        else:
            opts.notes[f"{suite}/{name}"] = f"skipped: no policy at {path}"
    if suite == "af":
        out.update({name: AutofocusPlayer(name) for name in AUTOFOCUS_METHODS})
    elif suite == "ae":
        out.update({name: AutoExposurePlayer(name) for name in AUTOEXPOSURE_METHODS})
    elif suite == "joint":
        out.update({name: JointBaselinePlayer(name, ae, af) for name, (ae, af) in JOINT_BASELINES.items()})
        out["oracle"] = OraclePlayer()
    if opts.methods:
        unknown = sorted(set(opts.methods) - set(out) - set(RL_METHODS) - set(AUTOFOCUS_METHODS)
                         - set(AUTOEXPOSURE_METHODS) - set(JOINT_BASELINES) - {"oracle"})  # fmt: skip
        if unknown:
            raise SpecError(f"unknown method(s) {unknown} for bench {suite}")
        out = {k: v for k, v in out.items() if k in opts.methods}
    return out


def env_for(player: Any, suite: str, cfg: EnvConfig) -> Any:
    """Env of a player: a policy keeps its own observation/action mode; baselines use ``cfg``."""
    task = {"af": "focus", "ae": "exposure", "joint": "joint"}[suite]
    env_class = None
    if isinstance(player, PolicyPlayer):
        cfg = cfg.with_agent_fields(player.policy.env_config())
        if not player.safety_nets:
            cfg = cfg.replace(lens_fallback_moves=0, bracket_moves=0)
        env_class = player.policy.meta.get("env_class")
        env = make_env(task, cfg, env_class)
        player.policy.check_env(env)
        return env
    return make_env(task, cfg, env_class)


def run_method_suite(suite: str, opts: BenchOptions) -> tuple[dict[str, Any], dict[str, list[EpisodeResult]]]:
    """Run the ``af``, ``ae`` or ``joint`` suite: JSON document (contract) and per-method results."""
    cfg = suite_config(suite, opts)
    results: dict[str, list[EpisodeResult]] = {}
    methods: dict[str, Any] = {}
    for name, player in players(suite, opts).items():
        env = env_for(player, suite, cfg)
        tick = (lambda n=name: opts.progress(f"{suite}:{n}", 1)) if opts.progress else None
        results[name] = play_episodes(player, env, opts.episodes, opts.seed, tick)
        methods[name] = summarise(results[name])
        if suite == "joint":
            methods[name]["detection_rate"] = methods[name]["success_rate"]
    doc = {"suite": suite, "episodes": opts.episodes, "seed": opts.seed, "scenes": list(cfg.scenes),
           "methods": methods}  # fmt: skip
    if suite == "joint":
        doc["detector"] = cfg.detector
    notes = {k: v for k, v in opts.notes.items() if k.startswith(f"{suite}/")}
    if notes:
        doc["notes"] = notes
    return doc, results


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    """Write a JSON document (``inf`` as a string)."""
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


def markdown_table(doc: dict[str, Any]) -> str:
    """A markdown table of one method suite."""
    head = "| method | success | mean steps | p95 steps | ms/step | paper rig s | fast rig s |"
    lines = [f"**{doc['suite']}** — {doc['episodes']} episodes, seed {doc['seed']}, scenes {', '.join(doc['scenes'])}",
             "", head, "|---|---|---|---|---|---|---|"]  # fmt: skip
    ranked = sorted(doc["methods"].items(), key=lambda kv: (-kv[1]["success_rate"], kv[1]["mean_steps"]))
    for name, m in ranked:
        lines.append(
            f"| {name} | {100 * m['success_rate']:.1f} % | {m['mean_steps']:.2f} | {m['p95_steps']:.0f} | "
            f"{m['ms_per_step']:.2f} | {m['rig_seconds']['paper']:.1f} | {m['rig_seconds']['fast']:.3f} |"
        )
    return "\n".join(lines) + "\n"


LUX_LEVELS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
F_NUMBERS = (1.8, 2.8, 4.0, 5.6, 8.0)


def robustness(opts: BenchOptions) -> dict[str, Any]:
    """Fig. 7: joint success vs illuminance (1–10 000 lx) and vs f-number, for dasha and a classical pipeline."""
    base = suite_config("joint", opts)
    chosen = {k: v for k, v in players("joint", opts).items() if k in ("dasha", "dasha_paper", "mean_luminance+brent")}
    per_level = max(4, opts.episodes // 5)
    curves: dict[str, dict[str, list[float]]] = {}
    for name, player in chosen.items():
        c: dict[str, list[float]] = {"lux": list(LUX_LEVELS), "lux_success": [], "f_number": list(F_NUMBERS),
                                     "f_success": []}  # fmt: skip
        for lux in LUX_LEVELS:
            env = env_for(player, "joint", base.replace(lux=(lux, lux)))
            c["lux_success"].append(summarise(play_episodes(player, env, per_level, opts.seed))["success_rate"])
            _tick(opts, name)
        for fn in F_NUMBERS:
            env = env_for(player, "joint", base.replace(f_number=(fn, fn), lux=(50.0, 500.0)))
            c["f_success"].append(summarise(play_episodes(player, env, per_level, opts.seed))["success_rate"])
            _tick(opts, name)
        curves[name] = c
    return {"suite": "robustness", "episodes_per_point": per_level, "seed": opts.seed, "detector": base.detector,
            "scenes": list(base.scenes), "curves": curves}  # fmt: skip


def _tick(opts: BenchOptions, name: str) -> None:
    if opts.progress is not None:
        opts.progress(f"robustness:{name}", 1)


def run_suite(suite: str, opts: BenchOptions, json_out: Path | None = None) -> dict[str, Any]:
    """Run one suite (or ``all``); write JSON, figures and ``results.md`` (under ``opts.plots``)."""
    from dasha.bench import figures

    if suite not in SUITES:
        raise SpecError(f"unknown bench suite {suite!r} (choose from: {', '.join(SUITES)})")
    plots = opts.plots or Path("runs/bench")
    docs: dict[str, Any] = {}
    md: list[str] = []
    for name in ("af", "ae", "joint", "detection-grid", "robustness", "table1") if suite == "all" else (suite,):
        if name in ("af", "ae", "joint"):
            doc, _ = run_method_suite(name, opts)
            figures.method_bars(doc, plots)
            md.append(markdown_table(doc))
        elif name == "detection-grid":
            doc = figures.detection_grid(["haar-face", "aruco", "haar-cat", "yolo", "faster-rcnn", "retinanet"], plots,
                                         seed=opts.seed)  # fmt: skip
        elif name == "robustness":
            doc = robustness(opts)
            figures.robustness_plot(doc["curves"], plots, doc["episodes_per_point"])
        else:
            af = docs.get("af") or run_method_suite("af", opts)[0]
            doc = figures.table1(af)
            md.append("**Table I** (paper's numbers beside ours)\n\n" + figures.table1_markdown(doc))
        docs[name] = doc
        write_json(plots / f"{name}.json", doc)
    if suite == "all":
        figures.learning_curves(opts.policies, plots)
    if md:
        (plots / "results.md").write_text("\n".join(md))
    result = docs[suite] if suite != "all" else {"suite": "all", "episodes": opts.episodes, "seed": opts.seed,
                                                 "suites": docs}  # fmt: skip
    if json_out is not None:
        write_json(json_out, result)
    return result


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
