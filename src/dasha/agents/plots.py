"""Training figures: the learning curve (the paper's Fig. 3 analogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dasha.plotting import pyplot, save_figure


def learning_curve(rows: list[dict[str, Any]], path: Path, title: str = "learning curve") -> Path | None:
    """Success rate and mean episode return vs sampled env steps, and success vs wall-clock minutes (PNG)."""
    if not rows:
        return None
    plt = pyplot()
    from matplotlib.ticker import EngFormatter

    steps = [r["env_steps"] for r in rows]
    minutes = [r.get("wall_s", float("nan")) / 60.0 for r in rows]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.6))
    success = [100 * s if (s := r.get("success_rate")) is not None else float("nan") for r in rows]
    ax1.plot(steps, success, color="tab:green")
    ax1.set(xlabel="env steps", ylabel="success rate (%)", ylim=(-2, 102), title="task success")
    ret = [r.get("episode_return_mean") for r in rows]
    ax2.plot(steps, [r if r is not None else float("nan") for r in ret], color="tab:blue")
    ax2.set(xlabel="env steps", ylabel="mean episode return", title="return")
    ax3.plot(minutes, success, color="tab:green")
    ax3.axhline(90, color="grey", ls="--", lw=0.8)
    ax3.set(xlabel="wall-clock time (min)", ylabel="success rate (%)", ylim=(-2, 102), title="success vs wall time")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
