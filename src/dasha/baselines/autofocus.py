"""Classical contrast autofocus baselines as bounded state machines with a pure ``step``.

Every method searches the lens voltage range ``[lo, hi]`` (default: the focus range of 0.2 m – ∞, 46–53 V)
for the maximum of a focus measure (Tenengrad by default) and decides itself when it is done. Interface, after
libcamera's AF: the runner shows the method the free first frame's score at the start voltage; each call of
:meth:`AutofocusMethod.step` takes the score measured at the last commanded voltage and returns the next
:class:`Command` — a voltage to move to, or ``done`` (possibly with a final move to the best position). No
method sees ground truth. Each has a hard cap on lens moves (``max_moves``). A score that is not finite (NaN, ±inf:
a broken measurement) counts as the lowest score seen so far, and a search never commands a non-finite voltage:
it would end at the best position sampled instead, so every command is finite and inside ``[lo, hi]``.

=================  ==============================================================================================
``sweep``          every position of an even grid (47 positions), then the argmax (the paper's ref. [12] protocol)
``hill_climb``     step, and on a contrast drop reverse with half the step, until the step is below half the tolerance
``golden``         golden-section search of the range (unimodal contrast curve)
``fibonacci``      Fibonacci search with the number of evaluations fixed by the tolerance
``brent``          Brent's method: parabolic interpolation with golden-section fallback (Micro-Manager OughtaFocus)
``cdaf``           libcamera-style coarse scan in 1.0 dpt steps until contrast falls below 75 % of the best, then
                   3 fine steps of 0.25 dpt around the peak and a parabola fit (to log-contrast)
``curve_fit``      4 samples across the range, fit a Lorentzian (a parabola to 1/contrast), jump to its peak
=================  ==============================================================================================
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass
from enum import Enum

import numpy as np

from dasha.vision.focus_measures import lorentzian_peak, parabola_peak

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618…
DEFAULT_RANGE_V = (46.0, 53.0)


class AfState(Enum):
    """Reported state (libcamera's AfState)."""

    IDLE = "idle"
    SCANNING = "scanning"
    FOCUSED = "focused"
    FAILED = "failed"


@dataclass(frozen=True)
class Command:
    """What the method wants next: move the lens to ``lens_v`` (V), and/or stop (``done``)."""

    lens_v: float | None
    done: bool = False


@dataclass
class AfParams:
    """Tunables shared by the searches (units in the names)."""

    lo_v: float = DEFAULT_RANGE_V[0]
    """Lower end of the searched range (V)."""
    hi_v: float = DEFAULT_RANGE_V[1]
    """Upper end of the searched range (V)."""
    tol_v: float = 0.12
    """Precision (V) at which a search stops (bracket width, or the last step of the hill climb). The bench sets it
    from the success criterion: the in-focus half-width, 2 px / (px per dpt · dpt per V) — 0.12 V at f/2.8
    (:func:`dasha.baselines.loops.af_params`)."""
    max_moves: int = 60
    """Hard cap on lens moves."""
    volts_per_diopter: float = 1.0
    """Lens slope for methods that step in diopters (cdaf); from the lens calibration."""


# Search methods are written as generators: ``pos = yield voltage`` receives the score measured there;
# ``return best`` ends the search. :class:`AutofocusMethod` turns one into a pure step() state machine.
Search = Generator[float, float, float]


class AutofocusMethod(ABC):
    """Base class: bounded ask/tell state machine around a search generator."""

    name: str = ""

    def __init__(self, params: AfParams | None = None) -> None:
        self.params = params or AfParams()
        self.state = AfState.IDLE
        self.moves = 0
        self.history: list[tuple[float, float]] = []
        self._gen: Search | None = None
        self._pending: float | None = None

    def start(self, start_v: float, score: float) -> Command:
        """Begin at ``start_v`` whose (free) frame scored ``score``; returns the first command."""
        self.history = []
        score = self._clean(score)
        self.state, self.moves = AfState.SCANNING, 0
        self.history.append((start_v, score))
        self._gen = self.search(start_v, score)
        return self._advance(lambda: next(self._gen))  # type: ignore[arg-type]

    def step(self, score: float) -> Command:
        """Score measured at the last commanded voltage → next command."""
        if self._gen is None or self._pending is None:
            raise RuntimeError(f"{self.name}: step() before start() or after done")
        score = self._clean(score)
        self.history.append((self._pending, score))
        return self._advance(lambda: self._gen.send(score))  # type: ignore[union-attr]

    def _clean(self, score: float) -> float:
        """``score``, or the lowest score seen so far (0 if none) when it is not finite."""
        if isinstance(score, int | float | np.floating | np.integer) and math.isfinite(score):
            return float(score)
        return min((s for _, s in self.history), default=0.0)

    def _best_seen(self) -> float:
        finite = [h for h in self.history if math.isfinite(h[0])]
        return max(finite, key=lambda h: h[1])[0] if finite else 0.5 * (self.params.lo_v + self.params.hi_v)

    def _advance(self, resume) -> Command:  # type: ignore[no-untyped-def]
        p = self.params
        try:
            target = resume() if self.moves < p.max_moves else None
        except StopIteration as stop:
            return self._finish(float(stop.value))
        if target is None or not math.isfinite(target):  # budget used up (or a broken step): go to the best seen
            return self._finish(self._best_seen(), failed=True)
        target = float(min(max(target, p.lo_v), p.hi_v))
        self.moves += 1
        self._pending = target
        return Command(target)

    def _finish(self, best_v: float, failed: bool = False) -> Command:
        if not math.isfinite(best_v):
            best_v, failed = self._best_seen(), True
        self.state = AfState.FAILED if failed else AfState.FOCUSED
        self._gen, self._pending = None, None
        current = self.history[-1][0]
        if abs(best_v - current) < 1e-6:
            return Command(None, done=True)
        self.moves += 1
        return Command(float(min(max(best_v, self.params.lo_v), self.params.hi_v)), done=True)

    @abstractmethod
    def search(self, start_v: float, start_score: float) -> Search:
        """The search as a generator (see the module docstring)."""


def _best(samples: dict[float, float]) -> float:
    return max(samples, key=samples.__getitem__)


class Sweep(AutofocusMethod):
    """Capture every grid position and take the argmax (``positions`` = 47)."""

    name = "sweep"

    def __init__(self, params: AfParams | None = None, positions: int = 47) -> None:
        super().__init__(params)
        self.positions = positions

    def search(self, start_v: float, start_score: float) -> Search:
        grid = np.linspace(self.params.lo_v, self.params.hi_v, self.positions)
        samples = {}
        for v in grid:
            samples[float(v)] = yield float(v)
        return _best(samples)


class HillClimb(AutofocusMethod):
    """Step ``step_v``; on a drop reverse and halve; stop when the step is below ``tol_v / 2`` (the best position is
    then known to within the last step taken, ≤ ``tol_v``)."""

    name = "hill_climb"

    def __init__(self, params: AfParams | None = None, step_v: float = 0.8) -> None:
        super().__init__(params)
        self.step_v = step_v

    def search(self, start_v: float, start_score: float) -> Search:
        p = self.params
        v, best_v, best = start_v, start_v, start_score
        step = self.step_v if start_v < 0.5 * (p.lo_v + p.hi_v) else -self.step_v
        while abs(step) >= p.tol_v / 2:
            nv = min(max(v + step, p.lo_v), p.hi_v)
            if nv == v:  # at a range end: turn round
                step = -step / 2
                continue
            score = yield nv
            if score > best:
                best_v, best, v = nv, score, nv
            else:
                step = -step / 2
                v = best_v
        return best_v


class Golden(AutofocusMethod):
    """Golden-section search on ``[lo, hi]``."""

    name = "golden"

    def search(self, start_v: float, start_score: float) -> Search:
        p = self.params
        a, b = p.lo_v, p.hi_v
        c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
        fc = yield c
        fd = yield d
        samples = {c: fc, d: fd}
        while b - a > p.tol_v:
            if fc >= fd:
                b, d, fd = d, c, fc
                c = b - GOLDEN * (b - a)
                fc = yield c
                samples[c] = fc
            else:
                a, c, fc = c, d, fd
                d = a + GOLDEN * (b - a)
                fd = yield d
                samples[d] = fd
        return _best(samples)


class Fibonacci(AutofocusMethod):
    """Fibonacci search: the number of evaluations is fixed by the range and the tolerance."""

    name = "fibonacci"

    def search(self, start_v: float, start_score: float) -> Search:
        p = self.params
        fib = [1, 1]
        while fib[-1] < (p.hi_v - p.lo_v) / p.tol_v:
            fib.append(fib[-1] + fib[-2])
        n = len(fib) - 1
        a, b = p.lo_v, p.hi_v
        c = a + fib[n - 2] / fib[n] * (b - a)
        d = a + fib[n - 1] / fib[n] * (b - a)
        fc = yield c
        fd = yield d
        samples = {c: fc, d: fd}
        for k in range(n - 1, 2, -1):
            if fc >= fd:
                b, d, fd = d, c, fc
                c = a + fib[k - 2] / fib[k] * (b - a)
                fc = yield c
                samples[c] = fc
            else:
                a, c, fc = c, d, fd
                d = a + fib[k - 1] / fib[k] * (b - a)
                fd = yield d
                samples[d] = fd
        return _best(samples)


class Brent(AutofocusMethod):
    """Brent's bounded minimisation of −score: parabolic steps when they behave, golden sections otherwise."""

    name = "brent"

    def search(self, start_v: float, start_score: float) -> Search:
        p = self.params
        a, b = p.lo_v, p.hi_v
        x = w = v = a + (1 - GOLDEN) * (b - a)
        fx = -(yield x)
        fw = fv = fx
        samples = {x: -fx}
        d = e = 0.0
        for _ in range(p.max_moves):
            m = 0.5 * (a + b)
            tol1 = p.tol_v / 3.0
            if abs(x - m) <= 2 * tol1 - 0.5 * (b - a):
                break
            use_golden = True
            if abs(e) > tol1:  # try a parabola through x, w, v
                r = (x - w) * (fx - fv)
                q = (x - v) * (fx - fw)
                pp = (x - v) * q - (x - w) * r
                q = 2.0 * (q - r)
                if q > 0:
                    pp = -pp
                q = abs(q)
                if abs(pp) < abs(0.5 * q * e) and q * (a - x) < pp < q * (b - x):
                    e, d = d, pp / q
                    u = x + d
                    if u - a < 2 * tol1 or b - u < 2 * tol1:
                        d = tol1 if x < m else -tol1
                    use_golden = False
            if use_golden:
                e = (b - x) if x < m else (a - x)
                d = (1 - GOLDEN) * e
            u = x + (d if abs(d) >= tol1 else math.copysign(tol1, d))
            fu = -(yield u)
            samples[u] = -fu
            if fu <= fx:
                if u < x:
                    b = x
                else:
                    a = x
                v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
            else:
                if u < x:
                    a = u
                else:
                    b = u
                if fu <= fw or w == x:
                    v, fv, w, fw = w, fw, u, fu
                elif fu <= fv or v in (x, w):
                    v, fv = u, fu
        return _best(samples)


class CDAF(AutofocusMethod):
    """libcamera-style CDAF: coarse scan 1.0 dpt, stop on a drop below ``contrast_ratio``·best, fine 0.25 dpt."""

    name = "cdaf"

    def __init__(self, params: AfParams | None = None, coarse_d: float = 1.0, fine_d: float = 0.25,
                 contrast_ratio: float = 0.75) -> None:  # fmt: skip
        super().__init__(params)
        self.coarse_d, self.fine_d, self.contrast_ratio = coarse_d, fine_d, contrast_ratio

    def search(self, start_v: float, start_score: float) -> Search:
        p = self.params
        coarse = self.coarse_d * p.volts_per_diopter
        fine = self.fine_d * p.volts_per_diopter
        samples: dict[float, float] = {}
        v = p.lo_v
        best = -math.inf
        while v <= p.hi_v + 1e-9:  # coarse scan from the near-infinity end, as libcamera scans
            s = yield v
            samples[v] = s
            best = max(best, s)
            if s < self.contrast_ratio * best:
                break
            v += coarse
        peak = _best(samples)
        for dv in (-fine, fine):  # fine steps either side of the coarse peak …
            u = min(max(peak + dv, p.lo_v), p.hi_v)
            if u not in samples:
                samples[u] = yield u
        best = _best(samples)
        if best != peak:  # … and a third one further along if the peak moved to a side
            u = min(max(best + (best - peak), p.lo_v), p.hi_v)
            if u not in samples:
                samples[u] = yield u
            best = _best(samples)
        xs = sorted(sorted(samples, key=lambda x: abs(x - best))[:3])
        if len(xs) < 3:
            return best
        return parabola_peak(xs, [math.log(max(samples[x], 1e-9)) for x in xs])  # Gaussian fit of the peak


class CurveFit(AutofocusMethod):
    """Sample ``n`` positions, fit a Lorentzian (parabola to 1/contrast), jump to its peak."""

    name = "curve_fit"

    def __init__(self, params: AfParams | None = None, samples: int = 4) -> None:
        super().__init__(params)
        self.n = samples

    def search(self, start_v: float, start_score: float) -> Search:
        p = self.params
        xs = list(np.linspace(p.lo_v, p.hi_v, self.n + 2)[1:-1])
        ys = []
        for x in xs:
            ys.append((yield float(x)))
        xs, ys = [start_v, *xs], [start_score, *ys]  # the free start frame is a sample too
        return lorentzian_peak(np.asarray(xs, float), np.asarray(ys, float), p.lo_v, p.hi_v)


AUTOFOCUS_METHODS: dict[str, type[AutofocusMethod]] = {
    m.name: m for m in (Sweep, HillClimb, Golden, Fibonacci, Brent, CDAF, CurveFit)
}


def make_autofocus(name: str, params: AfParams | None = None) -> AutofocusMethod:
    """An AF baseline by name."""
    if name not in AUTOFOCUS_METHODS:
        raise ValueError(f"unknown AF method {name!r} (choose from: {', '.join(AUTOFOCUS_METHODS)})")
    return AUTOFOCUS_METHODS[name](params)


__all__ = ["AUTOFOCUS_METHODS", "AfParams", "AfState", "AutofocusMethod", "Command", "make_autofocus"]
