"""dasha — cameras that tune themselves.

Exposure (high-level agent) and liquid-lens focus (low-level agent) control after the DASHA paper
(Anikina, Rogov, Dylov), with a physically based simulated camera, classical baselines and benchmarks.

Layout, in the direction imports flow: ``camera`` → ``vision`` → ``envs`` → ``agents`` →
``baselines`` / ``bench`` / ``runtime`` → ``cli``.
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("dasha")  # one source: pyproject.toml's [project] version
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]


def _register() -> None:
    from dasha.envs import register_envs

    register_envs()


_register()
