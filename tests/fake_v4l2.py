"""A fake UVC webcam at the V4L2 boundary: :class:`FakeV4l2` (controls, with the kernel's rules) and
:class:`FakeFrames` (a frame stream with the latency of a real one).

The rules are uvcvideo's (``drivers/media/usb/uvc/uvc_ctrl.c``): integers are rounded to ``minimum + k·step`` and
clamped without an error, booleans clamped to 0/1, a menu index outside ``[minimum, maximum]`` is ERANGE and one
the device lacks EINVAL, an unknown control EINVAL, a read-only one EACCES. ``exposure_time_absolute`` is a slave of
``auto_exposure`` (manual value 1) and ``focus_absolute`` of ``focus_automatic_continuous`` (manual value 0): while
the master is not manual the slave is flagged INACTIVE, reads return what the camera's own loop chose, and a write
fails with EACCES (``uvc_ctrl_is_accessible``, Linux ≥ 6.3) or — ``auto_write="ignore"``, an older kernel with a
lenient device — is accepted and ignored. Every write is logged with its outcome.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field

import numpy as np

from dasha.camera import CameraDisconnectedError, CameraTimeoutError
from dasha.camera.uvc import FrameSource
from dasha.camera.v4l2 import ControlInfo, V4l2Controls


@dataclass
class FakeControl:
    """One control's state: type, range, step, default, current value, menu, master (name, manual value)."""

    kind: str
    minimum: int
    maximum: int
    step: int
    default: int
    value: int
    menu: dict[int, str] = field(default_factory=dict)
    master: tuple[str, int] | None = None
    auto_value: int | None = None
    read_only: bool = False


def webcam_controls(
    exposure: tuple[int, int, int, int] | None = (3, 2047, 1, 250),
    focus: tuple[int, int, int, int] | None = (0, 250, 5, 0),
    focus_auto_name: str = "focus_automatic_continuous",
    menu: dict[int, str] | None = None,
) -> dict[str, FakeControl]:
    """Controls of a Logitech C920-like webcam: ``(min, max, step, default)`` for exposure (100 µs) and focus."""
    menu = {1: "Manual Mode", 3: "Aperture Priority Mode"} if menu is None else menu
    ctrls = {
        "brightness": FakeControl("integer", 0, 255, 1, 128, 128),
        "auto_exposure": FakeControl("menu", min(menu), max(menu), 1, max(menu), max(menu), menu=menu),
        "exposure_dynamic_framerate": FakeControl("boolean", 0, 1, 1, 0, 0),
    }
    if exposure is not None:
        lo, hi, step, default = exposure
        ctrls["exposure_time_absolute"] = FakeControl(
            "integer", lo, hi, step, default, default, master=("auto_exposure", 1), auto_value=156
        )
    if focus is not None:
        lo, hi, step, default = focus
        ctrls[focus_auto_name] = FakeControl("boolean", 0, 1, 1, 1, 1)
        ctrls["focus_absolute"] = FakeControl(
            "integer", lo, hi, step, default, default, master=(focus_auto_name, 0), auto_value=lo + 4 * step
        )
    return ctrls


class FakeV4l2(V4l2Controls):
    """V4L2 controls that behave as uvcvideo does (see the module docstring).

    Args:
        controls: name → :class:`FakeControl` (default :func:`webcam_controls`).
        auto_write: what writing an absolute control does while its auto mode is on: ``"eacces"`` or ``"ignore"``.
    """

    def __init__(self, controls: dict[str, FakeControl] | None = None, auto_write: str = "eacces") -> None:
        assert auto_write in ("eacces", "ignore")
        self.controls = webcam_controls() if controls is None else controls
        self.auto_write = auto_write
        self.log: list[tuple[str, int, str]] = []
        self.gone = False
        self.closed = False

    def unplug(self) -> None:
        """Every later call fails with ENODEV, as after the cable is pulled."""
        self.gone = True

    def _control(self, name: str) -> FakeControl:
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if name not in self.controls:
            raise OSError(errno.EINVAL, "Invalid argument")
        return self.controls[name]

    def _auto_on(self, ctrl: FakeControl) -> bool:
        return ctrl.master is not None and self.controls[ctrl.master[0]].value != ctrl.master[1]

    def names(self) -> list[str]:
        self._control(next(iter(self.controls)))
        return list(self.controls)

    def query(self, name: str) -> ControlInfo:
        c = self._control(name)
        return ControlInfo(
            name, c.kind, c.minimum, c.maximum, c.step, c.default, dict(c.menu), self._auto_on(c), c.read_only
        )

    def get(self, name: str) -> int:
        c = self._control(name)
        if self._auto_on(c) and c.auto_value is not None:
            return c.auto_value  # the camera's own loop chose it
        return c.value

    def set(self, name: str, value: int) -> None:
        c = self._control(name)
        if c.read_only:
            self.log.append((name, value, "EACCES"))
            raise OSError(errno.EACCES, "Permission denied")
        if self._auto_on(c):
            if self.auto_write == "ignore":
                self.log.append((name, value, "ignored"))
                return
            self.log.append((name, value, "EACCES"))
            raise OSError(errno.EACCES, "Permission denied")
        if c.kind == "menu":
            if not c.minimum <= value <= c.maximum:
                self.log.append((name, value, "ERANGE"))
                raise OSError(errno.ERANGE, "Numerical result out of range")
            if value not in c.menu:
                self.log.append((name, value, "EINVAL"))
                raise OSError(errno.EINVAL, "Invalid argument")
            c.value = value
        elif c.kind == "boolean":
            c.value = min(max(int(value), 0), 1)
        else:
            stepped = c.minimum + int(np.floor((value - c.minimum) / c.step + 0.5)) * c.step  # DIV_ROUND_CLOSEST
            c.value = min(max(stepped, c.minimum), c.maximum)
        self.log.append((name, value, "ok"))

    def close(self) -> None:
        self.closed = True

    def writes(self, outcome: str = "ok") -> list[tuple[str, int]]:
        """``(name, value)`` of the logged writes with that outcome, in order."""
        return [(n, v) for n, v, o in self.log if o == outcome]


class FakeFrames(FrameSource):
    """A BGR frame stream with ``latency`` frames in flight: a frame read now was exposed ``latency`` reads ago.

    ``served`` records the (exposure, focus) each served frame was captured with; ``stalled`` makes reads wait
    out their time-out and raise CameraTimeoutError; an unplugged device ends the stream.
    """

    def __init__(self, device: FakeV4l2, shape: tuple[int, int] = (48, 64), latency: int = 2) -> None:
        self.device, self.shape = device, shape
        self.queue = [self._settings() for _ in range(latency)]
        self.served: list[tuple[int | None, int | None]] = []
        self.stalled = False
        self.closed = False

    def _settings(self) -> tuple[int | None, int | None]:
        ctrls = self.device.controls
        exposure = ctrls.get("exposure_time_absolute")
        focus = ctrls.get("focus_absolute")
        return (exposure.value if exposure else None, focus.value if focus else None)

    def read(self, timeout_s: float) -> np.ndarray:
        if self.device.gone:
            raise CameraDisconnectedError("the stream ended (unplugged?)")
        if self.stalled:
            time.sleep(timeout_s)
            raise CameraTimeoutError(f"no frame within {timeout_s:g} s")
        self.queue.append(self._settings())
        settings = self.queue.pop(0)
        self.served.append(settings)
        h, w = self.shape
        image = np.zeros((h, w, 3), np.uint8)
        image[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]  # blue ramp
        image[:, :, 2] = min((settings[0] or 0) // 4, 255)  # red: brighter with longer exposure
        return image

    def close(self) -> None:
        self.closed = True
