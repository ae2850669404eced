"""``dfd``: the ablation — dasha's own perception with no learning at all, as a bounded state machine.

It sees exactly what the ours-mode lens agents see of each frame — the learned single-shot estimate of the object's
blur (:func:`dasha.vision.blur_estimator.defocus_estimate`) at a known lens voltage — and the same depth-from-defocus
fit of all the phase's frames (:mod:`dasha.envs.focus_fit`), with the driven camera's optics and lens curve as the
controllers believe them. Its rule, written by hand:

1. **Stop** when the current frame's estimated blur is ≤ :data:`~dasha.envs.perception.ACCEPT_BLUR_PX` (1.5 px).
2. Else **jump** to the fit's best voltage; where that is where the lens already is (or was), jump to the best fit on
   the other side of the lens instead; where both were visited, stop on the sharpest-estimated frame. One frame's
   fit has two mirror answers, one either side of the lens: where the two fit about equally well (RMS within
   ``side_margin``), the estimator's side-of-focus cue (``P(front focus)``, the same the agents observe) picks the
   side when it is sure (``P`` ≤ 1 − ``side_confidence`` or ≥ ``side_confidence``) — the one-move jump.
3. At most ``max_moves`` moves (the agents' lens horizon, 10); then go back to the frame with the lowest estimated
   blur if the lens is elsewhere.

A blur estimate that is not finite (a broken frame) is left out of the fit and never accepted; every command is
finite and inside ``[lo_v, hi_v]``.

What the learned agents add over their perception is what they gain over this controller (``dasha bench``). The
interface is libcamera-AF-like and pure: :meth:`DepthFromDefocus.start` and :meth:`DepthFromDefocus.step` take the
last frame's lens voltage (V), estimated ``log(1 + blur px)`` and ``P(front focus)`` and return the next
:class:`Command`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dasha.baselines.autofocus import AfState, Command
from dasha.camera.base import LensCurve
from dasha.camera.calibration import Optics
from dasha.envs.focus_fit import MAX_RMS, fit_focus
from dasha.envs.perception import ACCEPT_BLUR_PX

VISITED_V = 0.01
"""A target within this (V) of a voltage already sampled brings nothing new."""


@dataclass
class DfdParams:
    """Tunables of :class:`DepthFromDefocus` (units in the names)."""

    lo_v: float = 24.0
    """Lowest voltage it may command (V): the lens's limit."""
    hi_v: float = 70.0
    """Highest voltage it may command (V)."""
    vergence_d: tuple[float, float] = (0.0, 5.0)
    """Prior range of the object's vergence (dpt): what the lens can focus, 0.2 m–∞."""
    accept_blur_px: float = ACCEPT_BLUR_PX
    """Stop when the estimated blur is at most this (px)."""
    max_moves: int = 10
    """Hard cap on lens moves (the agents' lens horizon)."""
    side_confidence: float = 0.75
    """``P(front focus)`` at least this (or at most 1 − this) lets the side cue choose between mirror answers."""
    side_margin: float = 0.15
    """Mirror answers whose RMS log errors differ by less than this count as equally good."""


class DepthFromDefocus:
    """Jump to the depth-from-defocus fit, stop on the blur estimate (see the module docstring)."""

    name = "dfd"

    def __init__(self, optics: Optics, curve: LensCurve, params: DfdParams | None = None) -> None:
        self.optics, self.curve = optics, curve
        self.params = params or DfdParams()
        self.state = AfState.IDLE
        self.moves = 0
        self.volts: list[float] = []
        self.log_blur: list[float] = []

    def start(self, lens_v: float, log_blur: float, p_front: float = 0.5) -> Command:
        """The free first frame, at ``lens_v`` (V) with estimated ``log(1 + blur px)`` and ``P(front focus)`` (the
        lens focuses nearer than the object: lower its power; 0.5 = no cue)."""
        self.state, self.moves, self.volts, self.log_blur = AfState.SCANNING, 0, [], []
        return self.step(lens_v, log_blur, p_front)

    def step(self, lens_v: float, log_blur: float, p_front: float = 0.5) -> Command:
        """The frame taken at the last command → the next command."""
        if self.state is not AfState.SCANNING:
            raise RuntimeError("dfd: step() before start() or after done")
        p = self.params
        if not (math.isfinite(lens_v) and math.isfinite(log_blur)):  # a broken measurement: no sample
            if self.moves >= p.max_moves or not self.volts:
                return self._give_up()
        else:
            self.volts.append(float(lens_v))
            self.log_blur.append(float(log_blur))
            if math.expm1(min(max(log_blur, 0.0), 700.0)) <= p.accept_blur_px:
                self.state = AfState.FOCUSED
                return Command(None, done=True)
        if self.moves >= p.max_moves:
            return self._give_up()
        fit = fit_focus(self.volts, self.log_blur, self.optics, self.curve, p.vergence_d)
        candidates = [fit.best_v] + ([fit.other_v] if fit.other_rms < MAX_RMS else [])
        sure = math.isfinite(p_front) and abs(p_front - 0.5) >= p.side_confidence - 0.5
        if len(candidates) == 2 and sure and fit.other_rms - fit.best_rms < p.side_margin:
            here = float(self.curve.power(self.volts[-1]))
            lower_first = p_front > 0.5  # front focus: the answer that lowers the lens power first
            candidates.sort(key=lambda v: (float(self.curve.power(v)) < here) != lower_first)
        for target in candidates:
            if not math.isfinite(target):
                continue
            target = min(max(target, p.lo_v), p.hi_v)
            if all(abs(target - v) >= VISITED_V for v in self.volts):
                self.moves += 1
                return Command(target)
        return self._give_up()

    def _give_up(self) -> Command:
        """Budget spent or nothing new to try: back to the frame with the lowest estimated blur."""
        self.state = AfState.FAILED
        if not self.volts:
            return Command(None, done=True)
        best = self.volts[min(range(len(self.volts)), key=self.log_blur.__getitem__)]
        if abs(best - self.volts[-1]) < 1e-9:
            return Command(None, done=True)
        self.moves += 1
        return Command(best, done=True)


__all__ = ["DepthFromDefocus", "DfdParams"]
