"""UVC webcams: frames through OpenCV, exposure and focus through V4L2 controls. SPEC ``opencv:INDEX`` or
``opencv:/dev/videoN``.

OpenCV's ``CAP_PROP_EXPOSURE`` / ``CAP_PROP_AUTO_EXPOSURE`` / ``CAP_PROP_FOCUS`` are documented as backend- and
device-dependent (the V4L2 backend passes raw values with no range, step or menu), so :class:`UvcCamera` reads
frames with ``cv2.VideoCapture`` (converted to Mono8) and drives exposure and focus through the device's V4L2
controls (:mod:`dasha.camera.v4l2`, over linuxpy: ``pip install 'dasha[uvc]'``):

* ``exposure_time_absolute`` counts 100 µs: the camera's exposure limits are its range and step × 100 µs.
* ``focus_absolute``, where the device has it, is the camera's :class:`UvcFocusLens`, driven in the device's own
  unit (``"step"``) with a step → dpt curve: by default :class:`LinearStepCurve` from 0 dpt (focus at infinity)
  at the lowest step to 10 dpt (0.1 m) at the highest, a rough guess for typical autofocus webcams; measure the
  real one with ``dasha calibrate`` and pass it (``focus_curve=``).
* The auto modes are switched off first — ``auto_exposure`` to Manual, ``focus_automatic_continuous`` to 0 — since
  V4L2 rejects (uvcvideo since Linux 6.3: EACCES) or ignores absolute values while they are on; ``close()``
  restores the values they had.

A UVC camera streams continuously, so the frames queued when a setting changes were exposed with the old one:
after every exposure or focus command the next capture discards ``settle_frames`` frames first.

Units: exposure in µs, focus in device steps, optical power in dpt, time-outs in s.
"""

from __future__ import annotations

import contextlib
import errno
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dasha.camera.base import Camera, Device, Frame, Lens, LensCurve, Limits
from dasha.camera.calibration import OPTICS_KEYS, optics_from_spec
from dasha.camera.errors import CameraDisconnectedError, CameraError, ConfigError, SpecError
from dasha.camera.uvc_frames import FrameSource, OpenCvFrames, to_mono8
from dasha.camera.v4l2 import (
    AUTO_EXPOSURE,
    EXPOSURE_ABSOLUTE,
    FOCUS_ABSOLUTE,
    FOCUS_AUTO,
    V4L2_EXPOSURE_MANUAL,
    LinuxpyControls,
    V4l2Controls,
)

__all__ = ["FrameSource", "LinearStepCurve", "OpenCvFrames", "UvcCamera", "UvcFocusLens", "to_mono8", "uvc_from_spec"]

#: Frame time-out (s) on top of the exposure when ``capture()`` is given none.
DEFAULT_TIMEOUT_S = 2.0
#: errnos that mean the device is gone.
_GONE = {errno.ENODEV, errno.EIO, errno.ENXIO, errno.ESHUTDOWN, errno.EPIPE, errno.EBADF}


def _control_error(what: str, exc: OSError) -> CameraError:
    """A V4L2 failure as a CameraError: a device that is gone is a CameraDisconnectedError."""
    reason = exc.strerror or str(exc)
    if exc.errno in _GONE:
        return CameraDisconnectedError(f"UVC camera gone while {what}: {reason}")
    if exc.errno == errno.EACCES:
        return CameraError(f"V4L2 refused {what}: {reason} (an auto mode on, or a read-only control)")
    return CameraError(f"V4L2 failed {what}: {reason}")


@dataclass(frozen=True, slots=True)
class LinearStepCurve(LensCurve):
    """Focus motor step → added optical power (dpt), linear between two calibrated points.

    The default (0 dpt at ``low_step``, 10 dpt at ``high_step``) is a rough guess for UVC autofocus webcams (lowest
    step = infinity, highest = about 0.1 m); calibrate it for real use.
    """

    unit = "step"

    low_step: float
    """Focus step of the first point."""
    high_step: float
    """Focus step of the second point."""
    low_dpt: float = 0.0
    """Optical power (dpt) at ``low_step``."""
    high_dpt: float = 10.0
    """Optical power (dpt) at ``high_step``."""

    def __post_init__(self) -> None:
        if not (self.high_step != self.low_step and self.high_dpt != self.low_dpt):
            raise ConfigError(f"a linear focus curve needs two distinct points, got {self}")

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Optical power (dpt) at focus step ``setting``."""
        slope = (self.high_dpt - self.low_dpt) / (self.high_step - self.low_step)
        out = self.low_dpt + slope * (np.asarray(setting, np.float64) - self.low_step)
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        """Focus step giving ``diopters`` dpt (clipped to ``[low_step, high_step]``)."""
        t = (diopters - self.low_dpt) / (self.high_dpt - self.low_dpt)
        step = self.low_step + min(max(t, 0.0), 1.0) * (self.high_step - self.low_step)
        return float(step)


class UvcFocusLens(Lens):
    """A webcam's focus motor (``focus_absolute``) as a lens driven in device steps (unit ``"step"``).

    Args:
        controls: the camera's V4L2 controls (its auto focus must already be off).
        curve: step → dpt; default :class:`LinearStepCurve` over the control's range.
        settle_time_s: time for the motor to reach a commanded step (s).
        on_change: called after every command (the camera then discards queued frames).
    """

    def __init__(
        self,
        controls: V4l2Controls,
        curve: LensCurve | None = None,
        settle_time_s: float = 0.15,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._controls = controls
        self._on_change = on_change
        try:
            info = controls.query(FOCUS_ABSOLUTE)
        except OSError as exc:
            raise _control_error(f"reading {FOCUS_ABSOLUTE}", exc) from None
        self.limits = Limits(float(info.minimum), float(info.maximum), "step", resolution=float(info.step))
        self.curve = curve if curve is not None else LinearStepCurve(self.limits.low, self.limits.high)
        if self.curve.unit != "step":
            raise ConfigError(f"a UVC focus curve maps steps to dpt, got one in {self.curve.unit}")
        self.settle_time_s = float(settle_time_s)

    def _do_set_setting(self, value: float) -> None:
        try:
            self._controls.set(FOCUS_ABSOLUTE, round(value))
        except OSError as exc:
            raise _control_error(f"setting {FOCUS_ABSOLUTE}={value:g}", exc) from None
        if self._on_change is not None:
            self._on_change()

    def _do_get_setting(self) -> float:
        try:
            return float(self._controls.get(FOCUS_ABSOLUTE))
        except OSError as exc:
            raise _control_error(f"reading {FOCUS_ABSOLUTE}", exc) from None


# -- the camera -------------------------------------------------------------------------------------------------
def _device_path(device: int | str) -> str:
    """``/dev/videoN`` for an index or a device file; SpecError for anything else."""
    if isinstance(device, int) and not isinstance(device, bool) and device >= 0:
        return f"/dev/video{device}"
    text = str(device).strip()
    if re.fullmatch(r"\d+", text):
        return f"/dev/video{int(text)}"
    if re.fullmatch(r"/dev/[\w./-]+", text):
        return text
    raise SpecError(f"a UVC camera is an index or a V4L2 device file (0, /dev/video0), got {device!r}")


class UvcCamera(Camera):
    """A UVC webcam: Mono8 frames through OpenCV, exposure (µs) and focus (steps) through V4L2 controls.

    Args:
        device: camera index (``0`` = ``/dev/video0``) or V4L2 device file.
        controls: the device's V4L2 controls; default :class:`~dasha.camera.v4l2.LinuxpyControls` on ``device``.
        frames: where images come from; default :class:`OpenCvFrames` on ``device``.
        focus_curve: the focus lens's step → dpt curve (default: :class:`LinearStepCurve` over its range).
        optics: the camera's optics calibration, or None.
        timeout_s: frame time-out (s) on top of the exposure when ``capture()`` is given none.
        settle_frames: frames discarded after an exposure or focus command (queued with the old setting).
        lens_settle_s: focus motor settle time (s).
        spec: the SPEC string this camera was made from.

    Raises:
        DependencyMissingError: linuxpy is not installed (default controls).
        CameraDisconnectedError: the device cannot be opened.
        CameraError: it has no ``exposure_time_absolute`` or no manual exposure mode.
    """

    def __init__(
        self,
        device: int | str = 0,
        *,
        controls: V4l2Controls | None = None,
        frames: FrameSource | None = None,
        focus_curve: LensCurve | None = None,
        optics: Any = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        settle_frames: int = 2,
        lens_settle_s: float = 0.15,
        spec: str = "",
    ) -> None:
        self.path = _device_path(device)
        self.spec = spec or f"opencv:{device}"
        self.optics = optics
        self.timeout_s = float(timeout_s)
        self.settle_frames = int(settle_frames)
        self._stale = self.settle_frames
        self._saved: list[tuple[str, int]] = []
        self._lens: UvcFocusLens | None = None
        self._frames: FrameSource | None = None
        if controls is None:
            try:
                controls = LinuxpyControls(self.path)
            except OSError as exc:
                raise CameraDisconnectedError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        self._controls = controls
        try:
            self._switch_auto_off()
            info = self._query(EXPOSURE_ABSOLUTE)
            self.exposure_limits = Limits(
                100.0 * info.minimum, 100.0 * info.maximum, "µs", resolution=100.0 * info.step
            )
            if self._controls.has(FOCUS_ABSOLUTE):
                self._lens = UvcFocusLens(self._controls, focus_curve, lens_settle_s, on_change=self._settings_changed)
            source = (
                int(self.path.removeprefix("/dev/video")) if re.fullmatch(r"/dev/video\d+", self.path) else self.path
            )
            self._frames = frames if frames is not None else OpenCvFrames(source)
        except BaseException:
            with contextlib.suppress(Exception):
                self.close()
            raise

    @property
    def lens(self) -> UvcFocusLens | None:
        """The focus motor (``focus_absolute``) as a lens in steps, or None for a fixed-focus camera."""
        return self._lens

    # -- auto modes ---------------------------------------------------------------------------------------
    def _query(self, name: str) -> Any:
        try:
            return self._controls.query(name)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise CameraError(f"{self.path} has no V4L2 control {name!r}") from None
            raise _control_error(f"reading {name}", exc) from None

    def _write(self, name: str, value: int) -> None:
        try:
            self._controls.set(name, int(value))
        except OSError as exc:
            raise _control_error(f"setting {name}={value}", exc) from None

    def _switch_auto_off(self) -> None:
        """Auto exposure → Manual, continuous autofocus → 0, remembering both (V4L2 ignores absolute values
        while they are on)."""
        names = set(self._controls.names())
        if AUTO_EXPOSURE in names:
            info = self._query(AUTO_EXPOSURE)
            if V4L2_EXPOSURE_MANUAL not in info.menu:  # index 1 is manual by V4L2's definition
                raise CameraError(f"{self.path}: auto_exposure has no manual mode (menu: {dict(info.menu)})")
            self._saved.append((AUTO_EXPOSURE, self._get(AUTO_EXPOSURE)))
            self._write(AUTO_EXPOSURE, V4L2_EXPOSURE_MANUAL)
        focus_auto = next((n for n in (FOCUS_AUTO, "focus_auto") if n in names), None)
        if focus_auto is not None:
            self._saved.append((focus_auto, self._get(focus_auto)))
            self._write(focus_auto, 0)

    def _get(self, name: str) -> int:
        try:
            return int(self._controls.get(name))
        except OSError as exc:
            raise _control_error(f"reading {name}", exc) from None

    def _settings_changed(self) -> None:
        self._stale = self.settle_frames

    # -- hooks ------------------------------------------------------------------------------------------
    def _do_get_exposure(self) -> float:
        return 100.0 * self._get(EXPOSURE_ABSOLUTE)

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._write(EXPOSURE_ABSOLUTE, round(exposure_us / 100.0))
        self._settings_changed()

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        assert self._frames is not None
        exposure_us = self._do_get_exposure()
        wait_s = self.timeout_s + exposure_us * 1e-6 if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s
        for _ in range(self._stale + 1):  # the queued frames exposed before the last command, then ours
            image = self._frames.read(max(deadline - time.monotonic(), 1e-3))
        self._stale = 0
        stamp = time.monotonic()
        lens = self._lens
        if lens is None:
            return Frame(to_mono8(image), exposure_us, None, stamp)
        return Frame(to_mono8(image), exposure_us, None, stamp, lens_setting=lens.setting, lens_unit="step")

    def _attached_devices(self) -> Iterable[Device]:
        return () if self._lens is None else (self._lens,)

    def _do_close(self) -> None:
        failed: list[str] = []
        for name, value in reversed(self._saved):  # autofocus first, then auto exposure
            try:
                self._controls.set(name, value)
            except OSError as exc:
                if exc.errno not in _GONE:  # a camera that is gone has nothing left to restore
                    failed.append(f"{name}={value}: {exc.strerror or exc}")
        with contextlib.ExitStack() as stack:
            stack.callback(self._controls.close)
            if self._frames is not None:
                stack.callback(self._frames.close)
        if failed:
            raise CameraError(f"{self.path}: could not restore {'; '.join(failed)}")


def uvc_from_spec(spec: str, args: str) -> UvcCamera:
    """A :class:`UvcCamera` from the ``ARGS`` of ``opencv:ARGS``: a camera index or ``/dev/videoN``."""
    if not args:
        raise SpecError(
            f"camera spec {spec!r}: opencv needs a camera index or device, e.g. opencv:0 or opencv:/dev/video0"
        )
    device, *rest = [a.strip() for a in args.split(",")]
    extra = dict(item.partition("=")[::2] for item in rest)
    if "=" in device or any(k not in OPTICS_KEYS or not v for k, v in extra.items()):
        raise SpecError(f"camera spec {spec!r}: opencv takes the device (opencv:0 or opencv:/dev/video0), then "
                        "optionally focal_mm=…,fnumber=…,pitch_um=…")  # fmt: skip
    try:
        _device_path(device)
    except SpecError as exc:
        raise SpecError(f"camera spec {spec!r}: {exc}") from None
    optics = optics_from_spec(spec, extra)
    return UvcCamera(int(device) if device.isdigit() else device, spec=spec, optics=optics)
