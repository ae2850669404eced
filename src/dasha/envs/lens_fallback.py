"""The lens safety net: a short contrast search when a lens phase ends on a frame that fails the acceptance test.

Every focus method decides itself when it is done — an ours-mode agent with its stop action (or a forced stop
after ``lens_horizon`` moves), a classical search by its own rule, ``dfd`` by its blur estimate. When the frame it
ends on does not pass the acceptance test below, the net takes over (the same net for every method: the bench's
``+nets`` rows, and ``dasha`` as deployed). Camera AF has long answered a lost search with a contrast search
(libcamera's CDAF fine stage, Micro-Manager's OughtaFocus); the net does the same over the frames the method has
already taken, so it usually needs only a few moves:

1. **Accept** the current frame if it passes the acceptance test — the estimated object blur is ≤
   :data:`ACCEPT_BLUR_PX` (stricter than the 2 px criterion: the estimate errs by ≈ 0.4 px near focus) and, with a
   detector, the detector finds the object (a detector also fires on a blurred object).
2. **Return** to the best earlier frame that passes it (lowest estimated blur), if there is one: one move.
3. **Refine** by contrast: take the sharpest frame so far (AF-window Tenengrad) and its nearest sampled
   neighbours below and above; probe outward by :data:`PROBE_V` where a side has no sample (both sides: the
   way the estimator's side of focus points, :meth:`~dasha.envs.perception.Perception.side_feature`), probe the short
   side's mirror image where the bracket is lopsided (> 2:1), else move to the vertex of the parabola through
   the three log-contrast values (a Gaussian peak; :func:`~dasha.vision.focus_measures.parabola_peak`). Stop
   as soon as a frame passes the acceptance test, when the vertex lies within :data:`TOL_V` of the sharpest
   frame, or when the move budget is spent; then go back to the sharpest frame if the lens is elsewhere.

No ground truth is used. Every move is within the lens's limits and counts as a lens move; a sharpness that is not
finite (a broken frame) is no sample, and the net never commands a non-finite drive. The training
environments leave the net off (``EnvConfig.lens_fallback_moves = 0``) so the agent learns to finish by itself;
``dasha eval``, ``dasha bench``, ``dasha demo`` and ``dasha run`` turn it on (:data:`EVAL_FALLBACK_MOVES`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dasha.camera.calibration import curve_slope_d_per_v
from dasha.envs.perception import ACCEPT_BLUR_PX, Perception, Shot
from dasha.vision.focus_measures import parabola_peak

__all__ = ["ACCEPT_BLUR_PX", "EVAL_FALLBACK_MOVES", "accepted", "lens_fallback", "next_probe"]
PROBE_V = 0.5
"""Outward probe (V) where the sharpest frame has no sampled neighbour on one side (≈ 8 px of blur at 0.2 m)."""
TOL_V = 0.05
"""The refinement stops when the parabola's vertex is this close (V) to the sharpest frame (≈ 0.8 px)."""
EVAL_FALLBACK_MOVES = 6
"""Move budget of the net in evaluation and deployment (at most 5 probes and the return to the sharpest)."""


def accepted(perception: Perception, step: Shot) -> bool:
    """The net's acceptance test (:meth:`~dasha.envs.perception.Perception.accepted`): estimated blur ≤ 1.5 px and,
    with a detector, a detection."""
    return perception.accepted(step)


def next_probe(samples: dict[float, float], lo_v: float, hi_v: float, toward: float = 1.0,
               scale: float = 1.0) -> float | None:  # fmt: skip
    """Next lens drive of the contrast refinement from ``{drive: log-contrast}``, or None when converged.

    A side of the sharpest sample whose nearest sample is closer than :data:`TOL_V` counts as unexplored;
    with both sides unexplored the probe goes ``toward`` (+1: up, −1: down). ``scale``: drive units per volt of a
    ≈1 dpt/V Varioptic lens, where the constants were set (1 for a volt lens; 1/slope for an mA or dpt lens).
    """
    samples = {v: s for v, s in samples.items() if math.isfinite(v) and math.isfinite(s)}
    if not samples:
        return None
    probe, tol = PROBE_V * scale, TOL_V * scale
    vb = max(samples, key=samples.__getitem__)
    below = [v for v in samples if v < vb - tol]
    above = [v for v in samples if v > vb + tol]
    if not below or not above:
        up = bool(below) or (not above and toward > 0)
        u = vb + (probe if up else -probe)
    else:
        vl, vh = max(below), min(above)
        dl, dh = vb - vl, vh - vb
        if dl > 2 * dh:  # lopsided bracket: mirror the short side first
            u = vb - dh
        elif dh > 2 * dl:
            u = vb + dl
        else:
            u = parabola_peak([vl, vb, vh], [samples[vl], samples[vb], samples[vh]])
            if abs(u - vb) < tol:
                return None
    if not math.isfinite(u):
        return None
    u = min(max(u, lo_v), hi_v)
    return None if any(abs(u - v) < 0.01 * scale for v in samples) else u  # nothing new to learn there


def lens_fallback(perception: Perception, history: Sequence[Shot], max_moves: int) -> list[Shot]:
    """Run the safety net when a lens phase ends, from its frames ``history`` (ending with the current frame).

    Moves the camera's lens at most ``max_moves`` times and returns the frames it captured (empty when the
    current frame is accepted or ``max_moves`` is 0).
    """
    if max_moves <= 0 or not history or accepted(perception, history[-1]):
        return []
    lens = perception.camera.lens
    if lens is None:
        raise ValueError("the lens safety net needs a camera with a lens")
    taken: list[Shot] = []

    def move(v: float) -> Shot:
        perception.move_lens(v)
        taken.append(perception.capture())
        return taken[-1]

    def drive(shot: Shot, default: float) -> float:
        return float(shot.frame.lens_setting if shot.frame.lens_setting is not None else default)

    good = [s for s in history if accepted(perception, s)]
    if good:
        move(drive(min(good, key=perception.estimated_blur_px), lens.setting))
        return taken
    samples: dict[float, float] = {}
    for s in history:
        v = drive(s, lens.setting)
        samples[v] = max(samples.get(v, -math.inf), perception.sharpness_feature(s))
    lo_v, hi_v = lens.limits.low, lens.limits.high
    slope = curve_slope_d_per_v(perception.lens_curve, lens.setting)  # dpt per drive unit
    scale = 1.0 if lens.unit == "V" else 1.0 / max(abs(slope), 1e-9)
    sharpest = max(history, key=perception.sharpness_feature)
    toward = -1.0 if perception.side_feature(sharpest) > 0 else 1.0  # the estimator's side of focus (+: front focus)
    toward *= 1.0 if slope >= 0 else -1.0  # less power = less drive on an increasing curve
    while len(taken) < max_moves - 1:
        u = next_probe(samples, lo_v, hi_v, toward, scale)
        if u is None:
            break
        step = move(u)
        v = drive(step, u)
        samples[v] = max(samples.get(v, -math.inf), perception.sharpness_feature(step))
        if accepted(perception, step):
            return taken
    finite = {v: s for v, s in samples.items() if math.isfinite(s)}
    vb = max(finite, key=finite.__getitem__) if finite else lens.setting
    if abs(lens.setting - vb) > 1e-9:
        move(vb)
    return taken
