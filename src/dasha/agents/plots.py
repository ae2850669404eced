"""Training figures: the learning curve (the paper's Fig. 3 analogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def learning_curve(rows: list[dict[str, Any]], path: Path, title: str = "learning curve") -> Path | None:
    """Success rate and mean episode return vs sampled env steps (two panels, PNG)."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["env_steps"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    success = [r.get("success_rate") for r in rows]
    if any(s is not None for s in success):
        ax1.plot(steps, [100 * s if s is not None else float("nan") for s in success], color="tab:green")
    ax1.set(xlabel="env steps", ylabel="success rate (%)", ylim=(-2, 102), title="task success")
    ret = [r.get("episode_return_mean") for r in rows]
    ax2.plot(steps, [r if r is not None else float("nan") for r in ret], color="tab:blue")
    ax2.set(xlabel="env steps", ylabel="mean episode return", title="return")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
