"""dasha — cameras that tune themselves.

Exposure (high-level agent) and liquid-lens focus (low-level agent) control after the DASHA paper
(Anikina, Rogov, Dylov), with a physically based simulated camera, classical baselines and benchmarks.

Layout, in the direction imports flow: ``camera`` → ``vision`` → ``envs`` → ``agents`` →
``baselines`` / ``bench`` / ``runtime`` → ``cli``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]


def _register() -> None:
    from dasha.envs import register_envs

    register_envs()


_register()
