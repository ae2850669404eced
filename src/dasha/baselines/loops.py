"""The loops that run a classical method on a camera: capture → measure → decide, until the method says done.

They work on a :class:`~dasha.envs.perception.Perception`'s camera — any camera that reports its calibration: the
simulator, a replay, a hardware backend — and never read ground truth. Each returns the frames it captured (after the
one it started from); the method's decisions, with the measurements they read, count on ``perception.compute``
(:class:`~dasha.envs.clock.ComputeClock`), as the agents' do. :func:`focus_method` runs any AF baseline or
``dfd`` by name, :func:`classical_nets` the deployed safety nets after it: the bench and ``dasha run --method`` use
the very same functions.

The AF baselines' stopping tolerance follows from the success criterion: ``tol_v`` is the half-width of the in-focus
zone (blur ≤ 2 px) at the middle of the searched range, from the camera's optics and its lens curve
(:func:`~dasha.camera.calibration.in_focus_half_width_v`: 0.12 V at f/2.8 on a 1 dpt/V lens). A bracket that narrow
holds only in-focus voltages, so a tighter tolerance would only buy moves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dasha.baselines.autoexposure import AUTOEXPOSURE_METHODS, AutoExposureMethod, Measurement, make_autoexposure
from dasha.baselines.autofocus import AUTOFOCUS_METHODS, AfParams, AutofocusMethod, Command, make_autofocus
from dasha.baselines.dfd import DepthFromDefocus, DfdParams
from dasha.camera.calibration import curve_slope_d_per_v, in_focus_half_width_v, vergence_range_d
from dasha.envs.actions import exposure_range_us
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES
from dasha.envs.perception import FOCUS_RANGE_M, Perception, Shot
from dasha.envs.phases import home_lens
from dasha.envs.rewards import IN_FOCUS_PX
from dasha.envs.safety_nets import safety_nets
from dasha.vision.focus_measures import af_window, tenengrad

Done = Callable[[Shot], bool]


def focus_score(step: Shot) -> float:
    """Tenengrad of the AF window (what the AF baselines maximise)."""
    return float(tenengrad(af_window(step.frame.image)))


def af_params(perception: Perception) -> AfParams:
    """Search range and tolerance of the AF baselines on ``perception``'s camera, in its lens's drive unit and within
    its limits: for a volt lens the voltages the episodes start in (the focus range of 0.2 m–∞ with 1 V margin,
    46–53 V), for an mA or dpt lens the drives of that range by its own curve (1 dpt margin); the tolerance is the
    in-focus half-width (see the module docstring)."""
    lens = perception.camera.lens
    if lens is None:
        raise ValueError("autofocus needs a camera with a lens")
    optics, curve = perception.optics, perception.lens_curve
    if lens.unit == "V":
        lo, hi = perception.config.start_lens_range_v
    else:  # the drives that focus 0.2 m–∞, with the same 1 dpt margin (the curve is the lens's own)
        near_far = zip(vergence_range_d(FOCUS_RANGE_M), (-1.0, 1.0), strict=True)
        powers = [optics.in_focus_power(d) + margin for d, margin in near_far]
        lo, hi = sorted(float(curve.drive(p)) for p in powers)
    lo, hi = max(lo, lens.limits.low), min(hi, lens.limits.high)  # never search outside the driven lens's limits
    mid = 0.5 * (lo + hi)
    tol = in_focus_half_width_v(optics, curve, mid, IN_FOCUS_PX)
    return AfParams(lo_v=lo, hi_v=hi, tol_v=tol, volts_per_diopter=1.0 / abs(curve_slope_d_per_v(curve, mid)))


def make_dfd(perception: Perception) -> DepthFromDefocus:
    """The ``dfd`` controller with ``perception``'s camera calibration (as believed) and the lens's limits."""
    lens = perception.camera.lens
    if lens is None:
        raise ValueError("dfd needs a camera with a lens")
    params = DfdParams(lo_v=lens.limits.low, hi_v=lens.limits.high, vergence_d=vergence_range_d(FOCUS_RANGE_M),
                       max_moves=perception.config.lens_horizon)  # fmt: skip
    return DepthFromDefocus(perception.optics, perception.lens_curve, params)


def _lens_loop(perception: Perception, first: Shot, start: Callable[[Shot], Command], step: Callable[[Shot], Command],
               done: Done | None) -> list[Shot]:  # fmt: skip
    """Drive the lens as a method's ``start`` / ``step`` commands say, until it is done or ``done`` holds."""
    lens = perception.camera.lens
    assert lens is not None
    steps: list[Shot] = []
    if done is not None and done(first):
        return steps
    with perception.compute:
        command = start(first)
    while True:
        if command.lens_v is not None:
            perception.move_lens(lens.limits.clip(command.lens_v))
            steps.append(perception.capture())
            if done is not None and done(steps[-1]):
                return steps
        if command.done:
            return steps
        with perception.compute:
            command = step(steps[-1])


def autofocus_loop(perception: Perception, method: AutofocusMethod, first: Shot,
                   done: Done | None = None) -> list[Shot]:  # fmt: skip
    """Run an AF baseline from the frame ``first`` (taken at the current lens setting).

    The method sees only focus scores of the AF window; ``done`` (e.g. "the detector finds the object") ends the
    search early on any frame, ``first`` included.
    """
    lens = perception.camera.lens
    if lens is None:
        raise ValueError("autofocus needs a camera with a lens")
    return _lens_loop(perception, first, lambda s: method.start(lens.setting, focus_score(s)),
                      lambda s: method.step(focus_score(s)), done)  # fmt: skip


def dfd_loop(perception: Perception, method: DepthFromDefocus, first: Shot,
             done: Done | None = None) -> list[Shot]:  # fmt: skip
    """Run ``dfd`` from the frame ``first``; same contract as :func:`autofocus_loop`. A lens outside the range the
    agents start from is parked first (:func:`~dasha.envs.phases.home_lens`), as for the agents."""
    lens = perception.camera.lens
    if lens is None:
        raise ValueError("dfd needs a camera with a lens")
    if done is not None and done(first):
        return []
    homed = home_lens(perception)
    if homed is not None and done is not None and done(homed):
        return [homed]

    def measure(step: Shot) -> tuple[float, float, float]:
        volts = float(step.frame.lens_setting if step.frame.lens_setting is not None else lens.setting)
        return volts, 3.0 * perception.blur_feature(step), (perception.side_feature(step) + 1.0) / 2.0

    steps = _lens_loop(perception, homed or first, lambda s: method.start(*measure(s)),
                       lambda s: method.step(*measure(s)), done)  # fmt: skip
    return ([homed] if homed is not None else []) + steps


def autoexposure_loop(perception: Perception, method: AutoExposureMethod, first: Shot) -> list[Shot]:
    """Run an AE baseline from the frame ``first``, within the camera's and our exposure range."""
    cam = perception.camera
    method.params.min_us, method.params.max_us = exposure_range_us(cam)  # the range our policy has
    steps: list[Shot] = []
    with perception.compute:
        command = method.start(cam.exposure_us, Measurement.of(first.frame.image))
    while not command.done:
        assert command.exposure_us is not None and math.isfinite(command.exposure_us)
        cam.exposure_us = command.exposure_us
        steps.append(perception.capture())
        with perception.compute:
            command = method.step(Measurement.of(steps[-1].frame.image))
    return steps


FOCUS_METHODS: tuple[str, ...] = (*AUTOFOCUS_METHODS, "dfd")
"""Every classical lens method by name: the AF baselines and the ``dfd`` ablation."""
EXPOSURE_METHODS: tuple[str, ...] = tuple(AUTOEXPOSURE_METHODS)
"""Every classical exposure method by name."""


def focus_method(perception: Perception, method: str, first: Shot, done: Done | None = None) -> list[Shot]:
    """A classical lens phase by name (an AF baseline or ``dfd``) from ``first``: the frames it captured."""
    if method == "dfd":
        return dfd_loop(perception, make_dfd(perception), first, done)
    return autofocus_loop(perception, make_autofocus(method, af_params(perception)), first, done)


def exposure_method(perception: Perception, method: str, first: Shot) -> list[Shot]:
    """A classical AE baseline by name from ``first``: the frames it captured."""
    return autoexposure_loop(perception, make_autoexposure(method), first)


def classical_nets(perception: Perception, history: list[Shot], done: Done | None = None,
                   bracket_frames: int = EVAL_BRACKET_MOVES) -> tuple[list[Shot], list[Shot]]:  # fmt: skip
    """The deployed safety nets after a classical lens phase whose frames are ``history`` (nothing if ``done``
    already holds on its last frame): the same nets, with the same budgets, as the deployed policy's. Returns
    ``(lens frames, bracket frames)``: lens moves and exposure moves."""
    if done is not None and done(history[-1]):
        return [], []
    return safety_nets(perception, history, EVAL_FALLBACK_MOVES, bracket_frames)


__all__ = [
    "EXPOSURE_METHODS",
    "FOCUS_METHODS",
    "af_params",
    "autoexposure_loop",
    "autofocus_loop",
    "classical_nets",
    "dfd_loop",
    "exposure_method",
    "focus_method",
    "focus_score",
    "make_dfd",
]
