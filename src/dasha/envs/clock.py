"""Compute time of what a method computes, counted once however the timed regions nest (``ms_per_step``)."""

from __future__ import annotations

import time


class ComputeClock:
    """Seconds of compute, counted once however timed regions nest: a feature computed inside a decision, or an
    observation built from features, adds its time once (only the outermost region is timed).

    Use as a context manager: ``with perception.compute: ...``; :attr:`seconds` is the total since the last
    :meth:`reset`.
    """

    __slots__ = ("_depth", "_t0", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0
        self._t0 = 0.0

    def __enter__(self) -> ComputeClock:
        if self._depth == 0:
            self._t0 = time.perf_counter()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._t0

    def reset(self) -> None:
        """Start counting from zero (an episode start)."""
        self.seconds = 0.0


__all__ = ["ComputeClock"]
