"""Scene illuminance schedules (lx) as functions of the simulator clock (s).

* :class:`ConstantLight` — fixed illuminance.
* :class:`PaperRamp` — the paper's protocol: 13 lx → 300 lx in +10 lx steps every 30 min, then back down.
* :class:`RandomLight` — a new log-uniform level in [lo, hi] every ``period_s`` (deterministic per seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_LUX = 1e-3
MAX_LUX = 1e5


class LightSchedule:
    """Illuminance as a function of time."""

    def lux_at(self, t_s: float) -> float:  # pragma: no cover - interface
        """Scene illuminance (lx) at simulator time ``t_s`` (s)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ConstantLight(LightSchedule):
    """Constant illuminance ``lux`` (lx)."""

    lux: float

    def lux_at(self, t_s: float) -> float:
        return self.lux


@dataclass(frozen=True, slots=True)
class PaperRamp(LightSchedule):
    """Triangle ramp ``lo`` → ``hi`` → ``lo`` in ``step`` lx increments every ``period_s`` (paper §IV-A)."""

    lo: float = 13.0
    hi: float = 300.0
    step: float = 10.0
    period_s: float = 1800.0

    def lux_at(self, t_s: float) -> float:
        n_up = math.ceil((self.hi - self.lo) / self.step)  # steps from lo to hi
        k = int(max(t_s, 0.0) // self.period_s) % (2 * n_up)
        level = k if k <= n_up else 2 * n_up - k
        return min(self.lo + level * self.step, self.hi)


@dataclass(frozen=True, slots=True)
class RandomLight(LightSchedule):
    """Log-uniform random illuminance in [``lo``, ``hi``] lx, redrawn every ``period_s`` seconds."""

    lo: float = 1.0
    hi: float = 10_000.0
    period_s: float = 1800.0
    seed: int = 0

    def lux_at(self, t_s: float) -> float:
        k = int(max(t_s, 0.0) // self.period_s)
        u = np.random.default_rng([self.seed, k]).random()
        return float(math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo))))
