"""The one matplotlib setup of dasha's figures: the headless ``Agg`` backend, PNG at one resolution.

Every figure (training curves, evaluation contact sheets, bench plots, the demo) gets pyplot from :func:`pyplot`
and saves through :func:`save_figure`, so the backend and the output format are decided here only. matplotlib is
imported on first use, not with this module. This module imports nothing of dasha, so every part of the package
may use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DPI", "pyplot", "save_figure"]

#: Resolution of every PNG dasha writes.
DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive ``Agg`` backend (figures are files; no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Save ``fig`` as a PNG at :data:`DPI` (parent directories created) and close it; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    pyplot().close(fig)
    return path
