"""Figures and the non-method suites: detection grid (Fig. 4), robustness (Fig. 7), Table I, learning curves (Fig. 3).

All figures are PNG (matplotlib, Agg).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dasha.camera import EXPOSURE_TABLE_US
from dasha.camera.sim import Scene, SimCamera

#: The paper's Table I (AF time in s, AF steps; RB = reference-based, NR = no-reference).
PAPER_TABLE1 = {
    "phase_shift_rl": {
        "iqa": "RB",
        "af_time_s": 58.0,
        "af_steps": 12.5,
        "virtual_pretrain": False,
        "deep_features": False,
    },
    "ten_rl": {"iqa": "RB", "af_time_s": 366.0, "af_steps": None, "virtual_pretrain": True, "deep_features": False},
    "dasha_paper": {"iqa": "NR", "af_time_s": 10.0, "af_steps": 2.0, "virtual_pretrain": False, "deep_features": True},
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# -- Fig. 4: detection over the exposure × focus grid ------------------------------------------------------
def detection_grid(
    detectors: list[str], out: Path, exposures: int = 37, lens_steps: int = 47, size: int = 256, seed: int = 0
) -> dict[str, Any]:
    """Detect on every cell of an exposure × lens grid of a simulated scene, per detector; heat-map PNG.

    Each detector looks at a scene it can find: ``aruco`` a printed marker, ``haar-cat`` the cat photo,
    the rest the astronaut photo (object at 1.7 m as the paper's 1.4–2 m, 100 lx).
    """
    from dasha.vision.detectors import aruco_marker_texture, iou, make_detector

    plt = _plt()
    table = np.asarray(EXPOSURE_TABLE_US, float)
    exp = table[np.linspace(0, len(table) - 1, exposures).round().astype(int)]
    volts = np.linspace(24.0, 70.0, lens_steps)
    doc: dict[str, Any] = {"suite": "detection-grid", "exposure_us": exp.tolist(), "lens_v": volts.tolist(),
                           "detectors": {}}  # fmt: skip
    usable = []
    for name in detectors:
        try:
            det = make_detector(name)
        except (ImportError, ValueError) as exc:
            doc["detectors"][name] = {"skipped": str(exc)}
            continue
        if name == "aruco":
            tex = aruco_marker_texture(7).astype(np.float32) / 255.0
            scene = Scene(name="aruco-7", object_texture=tex, background_texture=_bg(), object_distance_m=1.7,
                          object_fraction=0.5)  # fmt: skip
        elif name == "haar-cat":
            scene = Scene.from_names("chelsea", "brick", object_distance_m=1.7, object_fraction=0.35)
        else:
            scene = Scene.from_names("astronaut", "brick", object_distance_m=1.7, object_fraction=0.85)
        cam = SimCamera(scene, size=size, lux=100.0, seed=seed)
        cam.exposure_us = 40_000
        cam.lens.voltage = cam.in_focus_voltage()
        ref = det.detect(cam.render(noise=False).image)
        hits = np.zeros((len(exp), len(volts)), bool)
        for i, e in enumerate(exp):
            cam.exposure_us = float(e)
            for j, v in enumerate(volts):
                cam.lens.snap(float(v))
                boxes = det.detect(cam.capture().image)
                hits[i, j] = any(iou(b, r) >= 0.5 for b in boxes for r in ref) if ref else bool(boxes)
        doc["detectors"][name] = {"scene": scene.name, "in_focus_v": cam.in_focus_voltage(),
                                  "detection_rate": float(hits.mean()), "hits": hits.astype(int).tolist()}  # fmt: skip
        usable.append((name, hits, cam.in_focus_voltage()))
    if usable:
        fig, axes = plt.subplots(1, len(usable), figsize=(4.2 * len(usable), 3.8), squeeze=False)
        for ax, (name, hits, v_focus) in zip(axes[0], usable, strict=True):
            ax.imshow(hits, aspect="auto", origin="lower", cmap="Greens", vmin=0, vmax=1,
                      extent=(volts[0], volts[-1], 0, len(exp)))  # fmt: skip
            ticks = np.linspace(0, len(exp) - 1, 6).round().astype(int)
            ax.set_yticks(ticks + 0.5, [f"{exp[t] / 1000:g}" for t in ticks])
            ax.axvline(v_focus, color="crimson", lw=1, ls="--")
            ax.set(
                xlabel="lens voltage (V)", ylabel="exposure (ms)", title=f"{name}: detected {100 * hits.mean():.0f} %"
            )
        fig.suptitle("Detection over the exposure × focus grid (green = detected; dashed = in focus)")
        fig.tight_layout()
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / "detection_grid.png", dpi=110)
        plt.close(fig)
    return doc


def _bg() -> np.ndarray:
    from dasha.camera.sim import load_texture

    return load_texture("gravel")


# -- Fig. 7: robustness ------------------------------------------------------------------------------------
def robustness_plot(curves: dict[str, dict[str, list[float]]], out: Path, per_point: int | None = None) -> Path:
    """Success vs illuminance and vs f-number, one line per method (``per_point`` episodes per marker)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", "-")]
    for i, (name, c) in enumerate(curves.items()):  # methods often coincide (e.g. all at 100 %): later ones
        marker, ls = styles[i % len(styles)]  # are drawn smaller and on top, so every line stays visible
        kw = {"marker": marker, "linestyle": ls, "markersize": max(10 - 2.5 * i, 3), "linewidth": max(3 - 0.8 * i, 1),
              "zorder": 2 + i, "label": name}  # fmt: skip
        ax1.plot(c["lux"], [100 * s for s in c["lux_success"]], **kw)
        ax2.plot(c["f_number"], [100 * s for s in c["f_success"]], **kw)
    ax1.set(xscale="log", xlabel="illuminance (lx)", ylabel="success (%)", ylim=(-3, 105), title="vs illuminance")
    ax2.set(xlabel="f-number", ylabel="success (%)", ylim=(-3, 105), title="vs aperture")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=len(curves), fontsize=9, frameon=False)
    if per_point:
        fig.suptitle(f"Joint task success ({per_point} seeded episodes per point; f-number sweep at 50–500 lx)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "robustness.png", dpi=110)
    plt.close(fig)
    return out / "robustness.png"


# -- bar charts of a method suite ---------------------------------------------------------------------------
def _method_color(name: str) -> str:
    """dasha green (the policy alone lighter), the paper's RL baselines purple, classical methods grey."""
    if name == "dasha_policy":
        return "yellowgreen"
    if name.startswith("dasha"):
        return "tab:green"
    return "tab:purple" if name.endswith("_rl") else "tab:gray"


def method_bars(doc: dict[str, Any], out: Path) -> Path:
    """Success rate and mean steps per method (one PNG per suite)."""
    plt = _plt()
    items = sorted(doc["methods"].items(), key=lambda kv: (-kv[1]["success_rate"], kv[1]["mean_steps"]))
    names = [k for k, _ in items]
    colors = [_method_color(n) for n in names]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.45 * len(names) + 1.6))
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    success = [100 * m["success_rate"] for _, m in items]
    steps = [m["mean_steps"] for _, m in items]
    ax1.barh(names, success, color=colors)
    ax1.set(xlabel="success (%)", xlim=(0, 118), title=f"{doc['suite']}: success")
    ax2.barh(names, steps, color=colors)
    ax2.set(xlabel="mean steps (log)", xscale="log", xlim=(None, max(steps) * 2.2), title="steps until it stops")
    ax2.xaxis.set_major_formatter(ScalarFormatter())
    ax2.xaxis.set_minor_formatter(NullFormatter())
    for y, (sv, st) in enumerate(zip(success, steps, strict=True)):
        ax1.text(sv + 1, y, f"{sv:.0f} %", va="center", fontsize=8)
        ax2.text(st * 1.05, y, f"{st:.1f}", va="center", fontsize=8)
    for ax in (ax1, ax2):
        ax.invert_yaxis()
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"{doc['episodes']} seeded episodes, same for every method")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{doc['suite']}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- Fig. 3: learning curves ---------------------------------------------------------------------------------
def learning_curves(policies: Path, out: Path) -> Path | None:
    """Success rate vs env steps of every shipped policy that kept its training log."""
    plt = _plt()
    runs = []
    for metrics in sorted(policies.glob("*/training_metrics.jsonl")):
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r.get("success_rate") is not None]
        if rows:
            runs.append((metrics.parent.name, rows))
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, rows in runs:
        ax.plot([r["env_steps"] for r in rows], [100 * r["success_rate"] for r in rows], label=name)
    ax.set(
        xlabel="env steps (log)",
        xscale="log",
        ylabel="training success (%)",
        ylim=(-3, 103),
        title="Learning curves (cf. paper Fig. 3)",
    )
    from matplotlib.ticker import EngFormatter

    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "learning_curves.png", dpi=110)
    plt.close(fig)
    return out / "learning_curves.png"


def table1(af_doc: dict[str, Any] | None) -> dict[str, Any]:
    """Table I: the paper's numbers beside ours (AF time on both rig models, AF steps, success)."""
    rows: dict[str, Any] = {}
    ours = (af_doc or {}).get("methods", {})
    for name in ("phase_shift_rl", "ten_rl", "dasha_paper", "dasha", "sweep", "brent"):
        m = ours.get(name)
        paper = PAPER_TABLE1.get(name, {})
        rows[name] = {
            "iqa": paper.get("iqa", "NR" if name.startswith("dasha") else "contrast"),
            "paper_af_time_s": paper.get("af_time_s"),
            "paper_af_steps": paper.get("af_steps"),
            "af_time_s_paper_rig": m["rig_seconds"]["paper"] if m else None,
            "af_time_s_fast_rig": m["rig_seconds"]["fast"] if m else None,
            "af_steps": m["mean_steps"] if m else None,
            "success_rate": m["success_rate"] if m else None,
            "virtual_pretrain": paper.get("virtual_pretrain", name == "dasha"),
            "deep_features": paper.get("deep_features", False),
        }
    return {"suite": "table1", "rows": rows}


def table1_markdown(doc: dict[str, Any]) -> str:
    """Table I as markdown."""

    def f(x: Any, fmt: str) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)

    lines = ["| method | IQA | AF time, paper (s) | AF time, ours on paper rig (s) | ours on fast rig (s) | "
             "AF steps, paper | AF steps, ours | in focus |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in doc["rows"].items():
        success = None if r["success_rate"] is None else 100 * r["success_rate"]
        cells = [name, r["iqa"], f(r["paper_af_time_s"], "g"), f(r["af_time_s_paper_rig"], ".1f"),
                 f(r["af_time_s_fast_rig"], ".3f"), f(r["paper_af_steps"], "g"), f(r["af_steps"], ".2f"),
                 f(success, ".1f") + " %"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
