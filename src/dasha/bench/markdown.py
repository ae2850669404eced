"""The bench's markdown: the tables of every suite, ``results.md`` and the README's results block."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dasha.bench.methods import TASK_OF_SUITE, group_of
from dasha.camera.errors import SpecError
from dasha.jsonio import write_atomic


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
    if doc.get("partial"):
        lines[0] += f" **Partial** (interrupted): {doc.get('episodes_done', 0)} episodes finished."
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


SWEEP_CAPTIONS = {
    "calibration": "the lens model the controllers believe is off (offset in dpt, slope in %); the world stays true",
    "conditions": "the same af world clear, under rain, dust, glare, motion blur (strength 1) and at 1 lx",
}


def calibration_markdown(doc: dict[str, Any]) -> str:
    """A method × point sweep (calibration, conditions) as a markdown table: success and mean moves per column."""
    labels = doc["perturbations"]
    suite = doc.get("suite", "calibration")
    lines = [f"**{suite}** — af, {doc['episodes_per_point']} episodes per column, seed {doc['seed']}: "
             f"{SWEEP_CAPTIONS.get(suite, '')}. Cells: success % / mean lens moves.", "",
             "| method | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]  # fmt: skip
    for name, m in doc["methods"].items():
        cells = [f"{100 * s:.1f} / {st:.2f}" for s, st in zip(m["success_rate"], m["mean_steps"], strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
RESULTS_ORDER = (
    "af",
    "ae",
    "joint",
    "af-paper",
    "ae-paper",
    "joint-paper",
    "calibration",
    "conditions",
    "robustness",
    "table1",
)
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
        elif suite in ("calibration", "conditions"):
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
    write_atomic(readme, head + "\n".join(body) + tail)
