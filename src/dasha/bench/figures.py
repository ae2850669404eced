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
from dasha.plotting import pyplot, save_figure

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


# -- Fig. 4: detection over the exposure × focus grid ------------------------------------------------------
def detection_grid(
    detectors: list[str], out: Path, exposures: int = 37, lens_steps: int = 47, size: int = 256, seed: int = 0
) -> dict[str, Any]:
    """Detect on every cell of an exposure × lens grid of a simulated scene, per detector; heat-map PNG.

    Each detector looks at a scene it can find: ``aruco`` a printed marker, ``haar-cat`` the cat photo,
    the rest the astronaut photo (object at 1.7 m as the paper's 1.4–2 m, 100 lx).
    """
    from dasha.vision.detectors import aruco_marker_texture, iou, make_detector

    plt = pyplot()
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
        save_figure(fig, out / "detection_grid.png")
    return doc


def _bg() -> np.ndarray:
    from dasha.camera.sim import load_texture

    return load_texture("gravel")


# -- colours -----------------------------------------------------------------------------------------------------
#: Distinct colours for the methods readers look for; paper RL baselines purple, classical methods grey.
METHOD_COLORS = {"dasha": "tab:green", "dasha_policy": "yellowgreen", "dasha_paper": "tab:red", "dfd": "tab:blue",
                 "oracle": "black"}  # fmt: skip


def method_color(name: str) -> str:
    """Colour of a method (a ``+nets`` variant and a pipeline take their AF method's colour)."""
    base = name.removesuffix("+nets")
    if base in METHOD_COLORS:
        return METHOD_COLORS[base]
    if base.split("+")[-1] in METHOD_COLORS:
        return METHOD_COLORS[base.split("+")[-1]]
    return "tab:purple" if base.endswith("_rl") else "tab:gray"


def _ci_err(rates: list[float], cis: list[list[float]]) -> np.ndarray:
    """Asymmetric error bars (%) from 95 % intervals."""
    r = 100 * np.asarray(rates, float)
    c = 100 * np.asarray(cis, float).reshape(-1, 2)
    return np.vstack([np.maximum(r - c[:, 0], 0), np.maximum(c[:, 1] - r, 0)])


# -- Fig. 7: robustness ------------------------------------------------------------------------------------
def robustness_plot(doc: dict[str, Any], out: Path) -> Path:
    """Success (detected and in focus) vs illuminance and vs f-number, one line per method, 95 % bands."""
    plt = pyplot()
    curves = doc["curves"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", "-")]
    for i, (name, c) in enumerate(curves.items()):  # methods often coincide (e.g. all at 100 %): later ones
        marker, ls = styles[i % len(styles)]  # are drawn smaller and on top, so every line stays visible
        kw = {"marker": marker, "linestyle": ls, "markersize": max(9 - 1.5 * i, 3), "linewidth": max(2.6 - 0.4 * i, 1),
              "zorder": 2 + i, "label": name, "color": method_color(name)}  # fmt: skip
        for ax, x, key in ((ax1, c["lux"], "lux"), (ax2, c["f_number"], "f")):
            rates = [100 * v for v in c[f"{key}_success"]]
            ax.plot(x, rates, **kw)
            if c.get(f"{key}_ci95"):
                ci = 100 * np.asarray(c[f"{key}_ci95"], float)
                ax.fill_between(x, ci[:, 0], ci[:, 1], color=kw["color"], alpha=0.08, zorder=1)
    ax1.set(xscale="log", xlabel="illuminance (lx)", ylabel="success (%)", ylim=(-3, 105), title="vs illuminance")
    ax2.set(xscale="log", xlabel="f-number (log)", ylabel="success (%)", ylim=(-3, 105), title="vs aperture")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax2.set_xticks(F_TICKS, [f"{t:g}" for t in F_TICKS])
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.xaxis.set_major_formatter(ScalarFormatter())
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=len(curves), fontsize=9, frameon=False)
    fig.suptitle(f"Joint task: detected and in focus ({doc['episodes_per_point']} seeded episodes per point, 95 % "
                 "bands; f-number sweep at 50–500 lx)", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save_figure(fig, out / "robustness.png")


F_TICKS = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0)


def calibration_plot(doc: dict[str, Any], out: Path) -> Path:
    """Success and mean lens moves per sweep point (believed-lens-model error, or condition), one line per method."""
    plt = pyplot()
    labels = doc["perturbations"]
    x = np.arange(len(labels))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    for i, (name, m) in enumerate(doc["methods"].items()):
        kw = {"marker": "os^Dv<>"[i % 7], "label": name, "color": method_color(name),
              "linestyle": "--" if name.endswith("+nets") or name == "dasha" else "-"}  # fmt: skip
        ax1.errorbar(x + 0.06 * (i - 2), [100 * s for s in m["success_rate"]],
                     yerr=_ci_err(m["success_rate"], m["success_ci95"]), capsize=2, **kw)  # fmt: skip
        ax2.plot(x, m["mean_steps"], **kw)
    ax1.set(ylabel="in focus (%)", ylim=(-3, 105), title="success (95 % CI)")
    ax2.set(ylabel="mean lens moves", title="moves until the method stops")
    for ax in (ax1, ax2):
        ax.set_xticks(x, labels, rotation=20)
        ax.grid(alpha=0.3)
    fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=len(doc["methods"]), fontsize=9,
               frameon=False)  # fmt: skip
    suite = doc.get("suite", "calibration")
    what = {"calibration": "the lens model the controllers believe perturbed, the world true",
            "conditions": "rain, dust, glare, motion blur and darkness"}.get(suite, suite)  # fmt: skip
    fig.suptitle(f"af under {what} ({doc['episodes_per_point']} episodes per point)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(fig, out / f"{suite}.png")


# -- bar charts of a method suite ---------------------------------------------------------------------------
def method_bars(doc: dict[str, Any], out: Path, stem: str | None = None) -> Path:
    """Success rate (95 % CI) and mean steps per method, methods alone above the ``+nets`` rows (one PNG)."""
    plt = pyplot()
    order = {"alone": 0, "nets": 1, "bound": 2}
    items = sorted(doc["methods"].items(), key=lambda kv: (order.get(kv[1].get("group", "alone"), 0),
                                                           -kv[1]["success_rate"], kv[1]["mean_steps"]))  # fmt: skip
    names = [k for k, _ in items]
    colors = [method_color(n) for n in names]
    hatches = ["//" if m.get("group") == "nets" else "" for _, m in items]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.5, 0.42 * len(names) + 1.8))
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    success = [100 * m["success_rate"] for _, m in items]
    err = _ci_err([m["success_rate"] for _, m in items], [m.get("success_ci95", [m["success_rate"]] * 2)
                                                          for _, m in items])  # fmt: skip
    steps = [max(m["mean_steps"], 0.01) for _, m in items]
    ax1.barh(names, success, color=colors, hatch=hatches, xerr=err, capsize=2, edgecolor="white")
    what = "detected and in focus" if doc["suite"] == "joint" else doc.get("success", "success").split(":")[0]
    ax1.set(xlabel=f"{what} (%), 95 % CI", xlim=(0, 122), title=f"{doc['suite']}: success")
    ax2.barh(names, steps, color=colors, hatch=hatches, edgecolor="white")
    ax2.set(xlabel="mean steps (log)", xscale="log", xlim=(None, max(steps) * 2.2), title="steps until it stops")
    ax2.xaxis.set_major_formatter(ScalarFormatter())
    ax2.xaxis.set_minor_formatter(NullFormatter())
    for y, (sv, st) in enumerate(zip(success, steps, strict=True)):
        ax1.text(min(sv + err[1][y], 100) + 1.5, y, f"{sv:.1f} %", va="center", fontsize=8)
        ax2.text(st * 1.05, y, f"{st:.2f}", va="center", fontsize=8)
    n_alone = sum(1 for _, m in items if m.get("group", "alone") == "alone")
    for ax in (ax1, ax2):
        ax.invert_yaxis()
        ax.grid(alpha=0.3, axis="x")
        if 0 < n_alone < len(items):
            ax.axhline(n_alone - 0.5, color="black", lw=0.8)
    domain = " · paper domain" if doc.get("domain") == "paper" else ""
    fig.suptitle(f"{doc['episodes']} seeded episodes, the same for every method{domain} · above the line: methods "
                 "alone; below (hatched): with the deployed safety nets", fontsize=9)  # fmt: skip
    fig.tight_layout()
    return save_figure(fig, out / f"{stem or doc['suite']}.png")


# -- Fig. 3: learning curves ---------------------------------------------------------------------------------
def learning_curves(policies: Path, out: Path) -> Path | None:
    """Training success rate of every shipped policy that kept its training log, against env steps and against
    wall-clock minutes (the log's ``wall_s``: the machine it was trained on, 2 cores for the shipped policies)."""
    plt = pyplot()
    runs = []
    for metrics in sorted(policies.glob("*/training_metrics.jsonl")):
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r.get("success_rate") is not None]
        if rows:
            runs.append((metrics.parent.name, rows))
    if not runs:
        return None
    fig, (ax, ax_wall) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for name, rows in runs:
        ax.plot([r["env_steps"] for r in rows], [100 * r["success_rate"] for r in rows], label=name)
        timed = [r for r in rows if r.get("wall_s") is not None]
        if timed:
            ax_wall.plot([r["wall_s"] / 60.0 for r in timed], [100 * r["success_rate"] for r in timed], label=name)
    ax.set(xlabel="env steps (log)", xscale="log", ylabel="training success (%)", ylim=(-3, 103),
           title="Learning curves (cf. paper Fig. 3)")  # fmt: skip
    ax_wall.axvline(10.0, color="0.5", linestyle="--", linewidth=1)
    ax_wall.set(xlabel="wall clock (min, the training machine)", title="… against wall clock (--- 10 min)")
    from matplotlib.ticker import EngFormatter

    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    for a in (ax, ax_wall):
        a.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out / "learning_curves.png")


def table1(paper_doc: dict[str, Any] | None, wide_doc: dict[str, Any] | None = None,
           keep: tuple[str, ...] | None = None) -> dict[str, Any]:  # fmt: skip
    """Table I: the paper's numbers beside ours — the paper's methods in the paper's domain, ours in both (AF time on
    both rig models over successful episodes, AF steps, in-focus rate with its 95 % interval); ``keep``: only these
    methods."""
    rows: list[dict[str, Any]] = []
    for doc, label in ((paper_doc, "paper domain"), (wide_doc, "0.2 m–∞")):
        for name, m in ((doc or {}).get("methods", {})).items():
            if keep is not None and name not in keep:
                continue
            paper = PAPER_TABLE1.get(name, {})
            rows.append({
                "method": name, "domain": label,
                "iqa": paper.get("iqa", "NR" if name.startswith("dasha") or name.startswith("dfd") else "contrast"),
                "paper_af_time_s": paper.get("af_time_s"), "paper_af_steps": paper.get("af_steps"),
                "af_time_s_paper_rig": m["rig_seconds"]["paper"], "af_time_s_fast_rig": m["rig_seconds"]["fast"],
                "af_steps": m["mean_steps"], "success_rate": m["success_rate"], "success_ci95": m.get("success_ci95"),
                "virtual_pretrain": paper.get("virtual_pretrain", name.startswith("dasha")),
                "deep_features": paper.get("deep_features", False), "note": m.get("note"),
            })  # fmt: skip
    return {"suite": "table1", "rows": rows}


def table1_markdown(doc: dict[str, Any]) -> str:
    """Table I as markdown."""

    def f(x: Any, fmt: str) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)

    lines = [
        "| method | domain | IQA | AF time, paper (s) | AF time, ours on paper rig (s) ✓ | ours on fast rig (s) ✓ "
        "| AF steps, paper | AF steps, ours | in focus (95 % CI) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        ci = r.get("success_ci95")
        success = "–" if r["success_rate"] is None else f"{100 * r['success_rate']:.1f} %" + (
            f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")  # fmt: skip
        cells = [
            r["method"],
            r["domain"],
            r["iqa"],
            f(r["paper_af_time_s"], "g"),
            f(r["af_time_s_paper_rig"], ".1f"),
            f(r["af_time_s_fast_rig"], ".3f"),
            f(r["paper_af_steps"], "g"),
            f(r["af_steps"], ".2f"),
            success,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
