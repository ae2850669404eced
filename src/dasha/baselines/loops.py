"""The loops that run a classical method on a camera: capture → measure → decide, until the method says done.

They work on a :class:`~dasha.envs.task.CameraTask`'s camera and perception — any camera that reports its
calibration — and never read ground truth. Each returns the frames it captured (after the one it started from) and
the seconds the method spent measuring and deciding (perception of features the task computes on request is timed by
the task itself).

The AF baselines' stopping tolerance follows from the success criterion: ``tol_v`` is the half-width of the in-focus
zone (blur ≤ 2 px) at the middle of the searched range, from the camera's optics and its lens curve
(:func:`~dasha.camera.calibration.in_focus_half_width_v`: 0.12 V at f/2.8 on a 1 dpt/V lens). A bracket that narrow
holds only in-focus voltages, so a tighter tolerance would only buy moves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from dasha.baselines.autoexposure import AutoExposureMethod, Measurement
from dasha.baselines.autofocus import AfParams, AutofocusMethod, Command
from dasha.baselines.dfd import DepthFromDefocus, DfdParams
from dasha.camera.calibration import curve_slope_d_per_v, in_focus_half_width_v
from dasha.camera.sim import vergence_range_d
from dasha.envs.rewards import IN_FOCUS_PX
from dasha.envs.task import FOCUS_RANGE_M, OURS_EXPOSURE_RANGE_US, CameraTask, Step
from dasha.vision.focus_measures import af_window, tenengrad

Done = Callable[[Step], bool]


def focus_score(step: Step) -> float:
    """Tenengrad of the AF window (what the AF baselines maximise)."""
    return float(tenengrad(af_window(step.frame.image)))


def af_params(task: CameraTask) -> AfParams:
    """Search range (the voltages the episodes start in: the focus range of 0.2 m–∞ with 1 V margin, 46–53 V) and
    tolerance (the in-focus half-width, see the module docstring) of the AF baselines on ``task``'s camera."""
    lo, hi = task.config.start_lens_range_v
    mid = 0.5 * (lo + hi)
    optics, curve = task.optics, task.lens_curve
    tol = in_focus_half_width_v(optics, curve, mid, IN_FOCUS_PX)
    return AfParams(lo_v=lo, hi_v=hi, tol_v=tol, volts_per_diopter=1.0 / abs(curve_slope_d_per_v(curve, mid)))


def make_dfd(task: CameraTask) -> DepthFromDefocus:
    """The ``dfd`` controller with ``task``'s camera calibration (as believed) and the lens's limits."""
    lens = task.camera.lens
    if lens is None:
        raise ValueError("dfd needs a camera with a lens")
    params = DfdParams(lo_v=lens.limits.low, hi_v=lens.limits.high, vergence_d=vergence_range_d(FOCUS_RANGE_M),
                       max_moves=task.config.lens_horizon)  # fmt: skip
    return DepthFromDefocus(task.optics, task.lens_curve, params)


def _lens_loop(task: CameraTask, first: Step, start: Callable[[Step], Command], step: Callable[[Step], Command],
               done: Done | None) -> tuple[list[Step], float]:  # fmt: skip
    """Drive the lens as a method's ``start`` / ``step`` commands say, until it is done or ``done`` holds."""
    lens = task.camera.lens
    assert lens is not None
    steps: list[Step] = []
    if done is not None and done(first):
        return steps, 0.0
    t0 = time.perf_counter()
    command = start(first)
    decide = time.perf_counter() - t0
    while True:
        if command.lens_v is not None:
            lens.set_voltage(lens.limits.clip(command.lens_v))
            steps.append(task.capture())
            if done is not None and done(steps[-1]):
                return steps, decide
        if command.done:
            return steps, decide
        t0 = time.perf_counter()
        command = step(steps[-1])
        decide += time.perf_counter() - t0


def autofocus_loop(task: CameraTask, method: AutofocusMethod, first: Step, done: Done | None = None) -> tuple[
        list[Step], float]:  # fmt: skip
    """Run an AF baseline from the frame ``first`` (taken at the current lens setting).

    The method sees only focus scores of the AF window; ``done`` (e.g. "the detector finds the object") ends the
    search early on any frame, ``first`` included.
    """
    lens = task.camera.lens
    if lens is None:
        raise ValueError("autofocus needs a camera with a lens")
    return _lens_loop(task, first, lambda s: method.start(lens.voltage, focus_score(s)),
                      lambda s: method.step(focus_score(s)), done)  # fmt: skip


def dfd_loop(task: CameraTask, method: DepthFromDefocus, first: Step, done: Done | None = None) -> tuple[
        list[Step], float]:  # fmt: skip
    """Run ``dfd`` from the frame ``first``; same contract as :func:`autofocus_loop`. A lens outside the range the
    agents start from is parked first (:meth:`~dasha.envs.task.CameraTask.home_lens`), as for the agents."""
    lens = task.camera.lens
    if lens is None:
        raise ValueError("dfd needs a camera with a lens")
    if done is not None and done(first):
        return [], 0.0
    homed = task.home_lens()
    if homed is not None and done is not None and done(homed):
        return [homed], 0.0

    def measure(step: Step) -> tuple[float, float]:
        volts = float(step.frame.lens_v if step.frame.lens_v is not None else lens.voltage)
        return volts, 3.0 * task.blur_feature(step)

    steps, decide = _lens_loop(task, homed or first, lambda s: method.start(*measure(s)),
                               lambda s: method.step(*measure(s)), done)  # fmt: skip
    return ([homed] if homed is not None else []) + steps, decide


def autoexposure_loop(task: CameraTask, method: AutoExposureMethod, first: Step) -> tuple[list[Step], float]:
    """Run an AE baseline from the frame ``first``, within the camera's and our exposure range."""
    cam = task.camera
    method.params.min_us = max(OURS_EXPOSURE_RANGE_US[0], cam.exposure_limits.low)  # the range our policy has
    method.params.max_us = min(OURS_EXPOSURE_RANGE_US[1], cam.exposure_limits.high)
    steps: list[Step] = []
    t0 = time.perf_counter()
    command = method.start(cam.exposure_us, Measurement.of(first.frame.image))
    decide = time.perf_counter() - t0
    while not command.done:
        assert command.exposure_us is not None and math.isfinite(command.exposure_us)
        cam.exposure_us = command.exposure_us
        steps.append(task.capture())
        t0 = time.perf_counter()
        command = method.step(Measurement.of(steps[-1].frame.image))
        decide += time.perf_counter() - t0
    return steps, decide


__all__ = ["af_params", "autoexposure_loop", "autofocus_loop", "dfd_loop", "focus_score", "make_dfd"]
