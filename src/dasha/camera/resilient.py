"""Bounded retry of device commands: the one place the episode engine copes with device faults.

:class:`~dasha.envs.perception.Perception` captures and moves the lens through :func:`capture` and :func:`set_lens`,
so every controller — policies, AF/AE baselines, ``dfd``, the safety nets, ``dasha run`` — gets the same handling:

* **capture**: a time-out, a disconnect (while the device is not closed), a frame that is not Mono8
  (:class:`~dasha.camera.errors.InvalidFrameError`), a frame of another size than the frames before it (a truncated
  transfer), or the previous frame delivered again (stale: not newer, same pixels) — the capture is retried, at most
  :attr:`RetryPolicy.attempts` times in all, with a doubling back-off. Retrying a grab is always safe: it commands
  nothing. A frame size that every retry confirms is accepted (the camera's size changed).
* **lens**: a refused command (NACK), no reply, or a setting the lens does not read back (stuck) — the **absolute**
  setting is sent again (idempotent: a repeated absolute setting cannot overshoot), with the same bound.
* anything else — a command outside the limits (:class:`~dasha.camera.errors.OutOfRangeError`: nothing was sent), a
  device's own fault report (:class:`~dasha.camera.errors.DeviceFaultError`), a closed device, a missing
  dependency — is raised at once: retrying cannot help.

When the retries are spent the last error is raised again, its type kept and its message saying how many tries
were made: an **unrecovered fault**. Episodes that end on one are reported as faulted (``EpisodeResult.fault``), not
as the agent's failure; ``dasha run`` exits 1 with that one line. :data:`DEVICE_FAULTS` are the errors that count.
Black and saturated frames are valid measurements (a lights-off scene looks the same), not faults: the controllers
meter them as clipped. Units: s.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dasha.camera.base import Camera, Frame, Lens
from dasha.camera.errors import (
    CameraDisconnectedError,
    CameraError,
    CameraTimeoutError,
    DeviceFaultError,
    InvalidFrameError,
    ProtocolError,
)

DEVICE_FAULTS: tuple[type[CameraError], ...] = (
    CameraTimeoutError, CameraDisconnectedError, InvalidFrameError, ProtocolError, DeviceFaultError,
)  # fmt: skip
"""Device errors that make an episode *faulted* rather than failed (not a command outside the limits, not a missing
dependency or calibration: those are bugs or bad input)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` tries in all (≥ 1), waiting ``backoff_s`` s before the first retry, doubling up
    to ``max_backoff_s`` s."""

    attempts: int = 4
    backoff_s: float = 0.005
    max_backoff_s: float = 0.05

    def wait_s(self, retry: int) -> float:
        """The wait (s) before retry number ``retry`` (0 for the first)."""
        return min(self.backoff_s * 2.0**retry, self.max_backoff_s)


DEFAULT_RETRY = RetryPolicy()


@dataclass
class Recovery:
    """What the retries did: ``retries`` by reason, ``recovered`` commands that a retry saved, ``unrecovered`` ones."""

    retries: Counter[str] = field(default_factory=Counter)
    recovered: int = 0
    unrecovered: int = 0


def is_device_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is a device fault (:data:`DEVICE_FAULTS`): an episode ending on it is faulted, not failed."""
    return isinstance(exc, DEVICE_FAULTS)


def _retryable(exc: CameraError, device: Camera | Lens) -> bool:
    if isinstance(exc, CameraDisconnectedError):
        return not device.closed  # a closed device is a bug, not a glitch
    if isinstance(exc, ProtocolError):
        return exc.retryable
    return isinstance(exc, CameraTimeoutError | InvalidFrameError)


def _gave_up(exc: CameraError, tries: int, device: Camera | Lens) -> CameraError:
    """``exc`` again (same type), its message naming the device and saying how many tries were made."""
    name = device.spec or type(device).__name__
    where = "" if name in str(exc) else f"{'lens' if isinstance(device, Lens) else 'camera'} {name!r}: "
    message = f"{where}{exc} (gave up after {tries} tries)"
    try:
        return type(exc)(message)
    except TypeError:  # an error type with a constructor of its own
        return exc


def stale(frame: Frame, previous: Frame | None) -> bool:
    """Whether ``frame`` is not newer than ``previous``: an older timestamp, or the same one with the same pixels."""
    if previous is None or frame is previous:
        return previous is not None
    if frame.timestamp < previous.timestamp:
        return True
    same = frame.timestamp == previous.timestamp and isinstance(frame.image, np.ndarray)
    return same and frame.image.shape == previous.image.shape and bool(np.array_equal(frame.image, previous.image))


def capture(camera: Camera, previous: Frame | None = None, *, shape: tuple[int, ...] | None = None,
            policy: RetryPolicy = DEFAULT_RETRY, recovery: Recovery | None = None,
            sleep: Callable[[float], None] = time.sleep) -> Frame:  # fmt: skip
    """One frame from ``camera``, retried on a transient fault (see the module docstring).

    Args:
        camera: the camera.
        previous: the frame before (a frame not newer than it is stale); None at an episode start.
        shape: the frame size (px) expected — a frame of another size is retried, unless every try confirms it.
        policy: how often and how patiently to retry.
        recovery: counts the retries (by reason) and their outcome.

    Raises:
        CameraError: a fault that is not transient, or the last one after ``policy.attempts`` tries.
    """
    recovery = recovery if recovery is not None else Recovery()
    last: CameraError | None = None
    shapes: list[tuple[int, ...]] = []
    for attempt in range(max(policy.attempts, 1)):
        if attempt:
            sleep(policy.wait_s(attempt - 1))
        try:
            frame = camera.capture()
        except CameraError as exc:
            if not _retryable(exc, camera):
                raise
            last, reason = exc, type(exc).__name__
        else:
            if stale(frame, previous):
                last, reason = InvalidFrameError(f"camera {camera.spec!r} delivered a stale frame"), "stale"
            elif shape is not None and frame.image.shape != tuple(shape):
                shapes.append(frame.image.shape)
                if len(shapes) == policy.attempts and len(set(shapes)) == 1:
                    return frame  # every try agrees: the frame size changed
                last = InvalidFrameError(f"camera {camera.spec!r} delivered a {frame.image.shape} frame, "
                                         f"expected {tuple(shape)}")  # fmt: skip
                reason = "shape"
            else:
                recovery.recovered += attempt > 0
                return frame
        recovery.retries[reason] += 1
    recovery.unrecovered += 1
    assert last is not None
    raise _gave_up(last, policy.attempts, camera) from last


def _tolerance(lens: Lens) -> float:
    lim = lens.limits
    return max(1.5 * lim.resolution, 1e-6 * (lim.high - lim.low), 1e-9)


def set_lens(lens: Lens, value: float, *, policy: RetryPolicy = DEFAULT_RETRY, recovery: Recovery | None = None,
             sleep: Callable[[float], None] = time.sleep) -> float:  # fmt: skip
    """Command the absolute lens setting ``value`` (the lens's unit) and check it reads back; re-send it on a NACK,
    no reply or a stuck lens, at most ``policy.attempts`` times in all.

    Returns:
        The setting commanded (quantised to the lens resolution).

    Raises:
        OutOfRangeError: ``value`` is outside the lens limits (nothing sent, no retry).
        CameraError: a fault that is not transient, or the last one after ``policy.attempts`` tries (a stuck lens:
            :class:`~dasha.camera.errors.DeviceFaultError`).
    """
    recovery = recovery if recovery is not None else Recovery()
    last: CameraError | None = None
    for attempt in range(max(policy.attempts, 1)):
        if attempt:
            sleep(policy.wait_s(attempt - 1))
        try:
            sent = lens.set_setting(value)
            got = lens.setting
        except CameraError as exc:
            if not _retryable(exc, lens):
                raise
            last, reason = exc, type(exc).__name__
        else:
            if math.isfinite(got) and abs(got - sent) <= _tolerance(lens):
                recovery.recovered += attempt > 0
                return sent
            last = DeviceFaultError(f"lens {lens.spec or type(lens).__name__!r} reads {got:g} {lens.unit} after a "
                                    f"command of {sent:g} {lens.unit} (stuck)")  # fmt: skip
            reason = "stuck"
        recovery.retries[reason] += 1
    recovery.unrecovered += 1
    assert last is not None
    raise _gave_up(last, policy.attempts, lens) from last


__all__ = [
    "DEFAULT_RETRY", "DEVICE_FAULTS", "Recovery", "RetryPolicy", "capture", "is_device_fault", "set_lens", "stale",
]  # fmt: skip
