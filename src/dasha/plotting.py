"""The one matplotlib setup of dasha's figures: the headless ``Agg`` backend, PNG at one resolution.

Every figure (training curves, evaluation contact sheets, bench plots, the demo) gets pyplot from :func:`pyplot`
and saves through :func:`save_figure`, so the backend and the output format are decided here only. matplotlib is
imported on first use, not with this module. This module imports nothing of dasha, so every part of the package
may use it.
"""

from __future__ import annotations

import os
import tempfile
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
    """Save ``fig`` as a PNG at :data:`DPI` (parent directories created) and close it; returns ``path``.

    Atomic: the PNG is written beside ``path`` and renamed over it, so a failed write (a full disk, Ctrl-C) leaves
    the old figure as it was; ``OSError`` names ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.png", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        pyplot().close(fig)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        fig.savefig(name, dpi=DPI, format="png")
        os.chmod(name, 0o644)
        os.replace(name, path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        pyplot().close(fig)
        if os.path.exists(name):
            os.unlink(name)
    return path
