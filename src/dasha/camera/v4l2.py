"""V4L2 camera controls behind a small interface (:class:`V4l2Controls`), with a real one over linuxpy.

A UVC webcam's exposure and focus are V4L2 controls, addressed here by the names the kernel gives them
(lower-cased, spaces and commas as underscores: ``auto_exposure``, ``exposure_time_absolute``,
``focus_automatic_continuous``, ``focus_absolute``). :class:`UvcCamera <dasha.camera.uvc.UvcCamera>` drives them
through :class:`V4l2Controls`; :class:`LinuxpyControls` implements it over ``linuxpy`` (``pip install
'dasha[uvc]'``), and the tests implement it with a fake that enforces the kernel's rules.

The rules an implementation reports, as the kernel (uvcvideo) does: an integer is rounded to ``minimum + k·step``
and clamped into ``[minimum, maximum]`` without an error; a boolean is clamped to 0/1; a menu index outside
``[minimum, maximum]`` fails with ERANGE, one the menu lacks with EINVAL; an unknown control is EINVAL; a read-only
control is EACCES. An absolute control whose auto mode is on (``exposure_time_absolute`` unless ``auto_exposure`` is
Manual, ``focus_absolute`` while ``focus_automatic_continuous`` is 1) is flagged INACTIVE, and writing it fails
with EACCES (uvcvideo since Linux 6.3) or, on older kernels with lenient devices, is silently ignored: switch the
auto mode off first. A device that is gone fails with ENODEV (or EIO). Errors are :class:`OSError` with that errno.

Units: whatever the device uses (``exposure_time_absolute`` counts 100 µs; ``focus_absolute`` device steps).
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dasha.camera.errors import DependencyMissingError

__all__ = [
    "AUTO_EXPOSURE",
    "EXPOSURE_ABSOLUTE",
    "FOCUS_ABSOLUTE",
    "FOCUS_AUTO",
    "V4L2_EXPOSURE_APERTURE_PRIORITY",
    "V4L2_EXPOSURE_MANUAL",
    "ControlInfo",
    "LinuxpyControls",
    "V4l2Controls",
]

#: ``V4L2_CID_EXPOSURE_AUTO``: a menu (0 auto, 1 manual, 2 shutter priority, 3 aperture priority).
AUTO_EXPOSURE = "auto_exposure"
#: ``V4L2_CID_EXPOSURE_ABSOLUTE``: exposure time in units of 100 µs.
EXPOSURE_ABSOLUTE = "exposure_time_absolute"
#: ``V4L2_CID_FOCUS_AUTO``: continuous autofocus on/off (``focus_auto`` on kernels before 5.x).
FOCUS_AUTO = "focus_automatic_continuous"
#: ``V4L2_CID_FOCUS_ABSOLUTE``: focus position in the device's own steps.
FOCUS_ABSOLUTE = "focus_absolute"
#: ``auto_exposure`` menu index of manual exposure (``V4L2_EXPOSURE_MANUAL``).
V4L2_EXPOSURE_MANUAL = 1
#: ``auto_exposure`` menu index most webcams default to (``V4L2_EXPOSURE_APERTURE_PRIORITY``).
V4L2_EXPOSURE_APERTURE_PRIORITY = 3

_FLAG_READ_ONLY = 0x04  # V4L2_CTRL_FLAG_READ_ONLY
_FLAG_INACTIVE = 0x10  # V4L2_CTRL_FLAG_INACTIVE


@dataclass(frozen=True, slots=True)
class ControlInfo:
    """What ``VIDIOC_QUERY_EXT_CTRL`` (and ``VIDIOC_QUERYMENU``) report about one control.

    Attributes:
        name: the control's name (``exposure_time_absolute``).
        kind: ``"integer"``, ``"boolean"`` or ``"menu"`` (``"integer_menu"`` and others as the kernel names them).
        minimum: smallest value (device units; for a menu, the first index).
        maximum: largest value (device units; for a menu, the last index).
        step: value increment (device units; 1 for booleans and menus).
        default: the driver's default value.
        menu: menu index → item name, for menus (indices the device does not support are absent).
        inactive: V4L2_CTRL_FLAG_INACTIVE: the control does not apply now (its auto mode is on).
        read_only: V4L2_CTRL_FLAG_READ_ONLY.
    """

    name: str
    kind: str
    minimum: int
    maximum: int
    step: int
    default: int
    menu: Mapping[int, str] = field(default_factory=dict)
    inactive: bool = False
    read_only: bool = False


class V4l2Controls(ABC):
    """The controls of one V4L2 device: names, query (ranges, steps, menus, flags), get, set.

    Every method raises :class:`OSError` with the kernel's errno (see the module docstring) on failure.
    """

    @abstractmethod
    def names(self) -> list[str]:
        """Names of every control the device has."""

    @abstractmethod
    def query(self, name: str) -> ControlInfo:
        """Range, step, default, menu and current flags of control ``name``."""

    @abstractmethod
    def get(self, name: str) -> int:
        """Current value of control ``name`` (device units)."""

    @abstractmethod
    def set(self, name: str, value: int) -> None:
        """Write ``value`` (device units) to control ``name``; the kernel may round and clamp it."""

    def has(self, name: str) -> bool:
        """Whether the device has control ``name``."""
        return name in self.names()

    def close(self) -> None:  # noqa: B027 - optional: most implementations hold nothing to release
        """Release the device."""


class LinuxpyControls(V4l2Controls):
    """:class:`V4l2Controls` over ``linuxpy.video.device.Device`` (``pip install 'dasha[uvc]'``).

    Args:
        path: the V4L2 device file, e.g. ``/dev/video0``.

    Raises:
        DependencyMissingError: linuxpy is not installed.
        OSError: the device cannot be opened (ENOENT, EACCES, EBUSY, …).
    """

    def __init__(self, path: str) -> None:
        try:
            from linuxpy.video.device import Device
        except ImportError:
            raise DependencyMissingError("linuxpy", "uvc", "V4L2 controls of UVC cameras") from None
        self.path = path
        self._device: Any = Device(path)
        self._device.open()

    def _control(self, name: str) -> Any:
        try:
            return self._device.controls[name]
        except KeyError:
            raise OSError(errno.EINVAL, f"{self.path} has no V4L2 control {name!r}") from None

    def _flags(self, control: Any) -> int:
        """The control's flags now (re-queried: linuxpy caches them when it lists the controls)."""
        try:
            from linuxpy.ioctl import ioctl
            from linuxpy.video import raw
            from linuxpy.video.device import IOC

            info = raw.v4l2_query_ext_ctrl(id=control.id)
            ioctl(self._device, IOC.QUERY_EXT_CTRL, info)
            return int(info.flags)
        except Exception:  # an older linuxpy without these names: the listed flags
            return int(control.flags)

    def names(self) -> list[str]:
        return [c.config_name for c in self._device.controls.values() if hasattr(c, "config_name")]

    def query(self, name: str) -> ControlInfo:
        control = self._control(name)
        flags = self._flags(control)
        menu = dict(control.data) if hasattr(control, "data") and isinstance(control.data, dict) else {}
        kind = getattr(control.type, "name", str(control.type)).lower()
        try:
            default = int(control.default)
        except (AttributeError, TypeError, OSError):
            default = int(control.minimum)
        return ControlInfo(
            name=name,
            kind=kind,
            minimum=int(control.minimum),
            maximum=int(control.maximum),
            step=max(int(control.step), 1),
            default=default,
            menu=menu,
            inactive=bool(flags & _FLAG_INACTIVE),
            read_only=bool(flags & _FLAG_READ_ONLY),
        )

    def get(self, name: str) -> int:
        return int(self._control(name).value)

    def set(self, name: str, value: int) -> None:
        control = self._control(name)
        try:
            control.value = int(value)
        except AttributeError as exc:  # linuxpy refuses read-only / disabled / grabbed controls itself
            raise OSError(errno.EACCES, str(exc)) from None

    def close(self) -> None:
        self._device.close()
