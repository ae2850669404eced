"""Device, Camera and Lens base classes: validate in the public layer, touch hardware in ``_do_*`` hooks.

Every backend (simulator, Basler, OpenCV, replay, serial liquid lenses) subclasses :class:`Camera` or
:class:`Lens` and implements only the ``_do_*`` hooks (python-microscope style). The public methods check state and
limits first, so a command outside a device's limits raises :class:`~dasha.camera.errors.OutOfRangeError` and is
never sent. :class:`Device` is the lifecycle both share: ``close()`` (idempotent), ``closed``, the context manager
and ``_check_open()``. :class:`Frame`, :class:`Truth` and :func:`validate_image` live in :mod:`dasha.camera.frame`
and are re-exported here.

A lens is unit-neutral: it is driven in its own unit (``Lens.unit``: ``"V"`` for an electrowetting lens such as
the Varioptic A/C-39N0, ``"mA"`` for a current-driven lens such as an Optotune EL-10-30, ``"dpt"`` for a lens with
its own power controller) and reports a :class:`LensCurve` from that unit to added optical power (dpt).

Units: exposure in µs, lens drive in V (RMS), mA or dpt, optical power in diopters (dpt = 1/m), time in s.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from dasha.camera.errors import (
    CameraDisconnectedError,
    ConfigError,
    LensUnitError,
    MissingCalibrationError,
    OutOfRangeError,
)
from dasha.camera.frame import LENS_UNITS, Frame, Truth, validate_image

__all__ = ["LENS_UNITS", "Camera", "Device", "Frame", "Lens", "LensCurve", "Limits", "Truth", "validate_image"]

#: What a lens drive value is called in each unit (for error messages).
_LENS_QUANTITY = {"V": "lens voltage", "mA": "lens current", "dpt": "lens power"}


@dataclass(frozen=True, slots=True)
class Limits:
    """Closed interval ``[low, high]`` of a device setting, with its unit and command resolution.

    Attributes:
        low: smallest allowed value (``unit``).
        high: largest allowed value (``unit``).
        unit: the setting's unit, e.g. ``"µs"`` for exposure, one of :data:`LENS_UNITS` for a lens.
        resolution: smallest command step (``unit``); 0 means continuous.
    """

    low: float
    high: float
    unit: str
    resolution: float = 0.0
    """Smallest command step (same unit); 0 means continuous."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ConfigError(f"limits need finite low ≤ high, got [{self.low!r}, {self.high!r}] {self.unit}")
        if not (math.isfinite(self.resolution) and self.resolution >= 0):
            raise ConfigError(f"limits resolution must be ≥ 0 {self.unit}, got {self.resolution!r}")

    def check(self, value: float, what: str) -> float:
        """Return ``value`` quantised to the resolution, or raise OutOfRangeError (nothing is sent)."""
        if not isinstance(value, int | float | np.integer | np.floating) or not math.isfinite(value):
            raise OutOfRangeError(f"{what} must be a finite number of {self.unit}, got {value!r}")
        if value < self.low or value > self.high:
            raise OutOfRangeError(
                f"{what} {value:g} {self.unit} is outside the device limits [{self.low:g}, {self.high:g}] {self.unit}"
            )
        if self.resolution > 0:
            value = round(round(float(value) / self.resolution) * self.resolution, 9)
            value = min(max(value, self.low), self.high)
        return float(value)

    def clip(self, value: float) -> float:
        """``value`` clamped into the interval (for policies that must stay in range by construction)."""
        return float(min(max(value, self.low), self.high))


class Device(ABC):  # noqa: B024 - no abstract method of its own: it is the lifecycle Camera and Lens share
    """The lifecycle every camera and lens shares: ``close()``, ``closed``, context manager, ``_check_open()``.

    ``close()`` is idempotent: the first call closes the devices this one owns (:meth:`_attached_devices`, in
    order), then runs the ``_do_close`` hook, even if closing an attached device raised. Any later use of a public
    method raises :class:`~dasha.camera.errors.CameraDisconnectedError`.
    """

    #: Human-readable SPEC this device was made from.
    spec: str = ""
    #: Called with one dict per command sent to the device (``dasha run --log``): ``{"t": s since the epoch,
    #: "device": spec, "event": …, …}``; drivers add their wire bytes (``"tx"`` / ``"rx"`` in hex). None: no log.
    command_log: Callable[[dict[str, Any]], None] | None = None

    _closed: bool = False

    def log_command(self, event: str, **fields: Any) -> None:
        """Record one command (or reply) in :attr:`command_log`, if there is one."""
        if self.command_log is not None:
            self.command_log({"t": time.time(), "device": self.spec or type(self).__name__, "event": event, **fields})

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Release the device (and the devices it owns). Idempotent."""
        if self._closed:
            return
        self._closed = True
        with ExitStack() as stack:  # unwinds every callback even if one raises; last pushed runs first
            stack.callback(self._do_close)
            for device in reversed(list(self._attached_devices())):
                stack.callback(device.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _attached_devices(self) -> Iterable[Device]:
        """Devices closed with this one, before its own ``_do_close`` (default: none)."""
        return ()

    def _do_close(self) -> None:  # noqa: B027 - optional hook, most devices need no teardown
        """Release device resources."""

    def _check_open(self) -> None:
        if self._closed:
            raise CameraDisconnectedError(f"{type(self).__name__} is closed")


class LensCurve(ABC):
    """Monotonic map between a lens's drive (its :attr:`unit`: V, mA or dpt) and added optical power (dpt).

    Subclasses implement :meth:`power` and its inverse :meth:`drive`; :meth:`voltage` is the inverse under its old,
    volt-only name.
    """

    #: Drive unit of the curve's input: ``"V"``, ``"mA"`` or ``"dpt"``.
    unit: ClassVar[str] = "V"

    @abstractmethod
    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Optical power (dpt) at drive ``setting`` (:attr:`unit`)."""

    @abstractmethod
    def drive(self, diopters: float) -> float:
        """Inverse: the drive setting (:attr:`unit`) giving ``diopters`` dpt (clipped to the curve's domain)."""

    def voltage(self, diopters: float) -> float:
        """The drive voltage (V) giving ``diopters`` dpt: :meth:`drive` of a volt curve (LensUnitError otherwise)."""
        if self.unit != "V":
            raise LensUnitError(f"{type(self).__name__} maps {self.unit}, not volts, to dpt; use drive()")
        return self.drive(diopters)


class Lens(Device):
    """A focus actuator driven in its own unit (V, mA or dpt), with limits, resolution, settle time and a curve.

    Subclasses set ``limits`` (whose unit is the lens's :attr:`unit`) and ``curve`` (a :class:`LensCurve` from that
    unit to dpt) in ``__init__`` and implement ``_do_set_setting`` / ``_do_get_setting`` (and optionally
    ``_do_wait_settled`` and ``_do_close``). The public layer checks every command against ``limits`` and quantises
    it before a hook sees it.

    ``setting`` / ``set_setting`` are the unit-neutral commands; ``voltage`` / ``set_voltage`` are the same for a
    volt lens (a LensUnitError for any other); ``diopters`` / ``power_d`` / ``set_power_d`` go through the curve.
    """

    #: Drive limits (:attr:`unit`). Subclasses set this in ``__init__``.
    limits: Limits
    #: Time after a command until the optical power is within tolerance (s).
    settle_time_s: float = 0.05

    _curve: LensCurve | None = None

    # -- drive in the lens's own unit ------------------------------------------------------------
    @property
    def unit(self) -> str:
        """The unit this lens is driven in: ``"V"``, ``"mA"`` or ``"dpt"`` (``limits.unit``)."""
        unit = self.limits.unit
        if unit not in LENS_UNITS:
            raise ConfigError(f"{type(self).__name__} limits are in {unit!r}; a lens is driven in one of {LENS_UNITS}")
        return unit

    @property
    def setting(self) -> float:
        """Current drive value in the lens's unit (:attr:`unit`: V, mA or dpt)."""
        self._check_open()
        return float(self._do_get_setting())

    @setting.setter
    def setting(self, value: float) -> None:
        self.set_setting(value)

    def set_setting(self, value: float, wait: bool = True) -> float:
        """Command ``value`` in the lens's unit (checked against ``limits``); with ``wait`` block until settled.

        Returns:
            The setting actually commanded (quantised to the lens resolution, :attr:`unit`).

        Raises:
            OutOfRangeError: ``value`` is not a finite number inside ``limits``; nothing was sent.
            CameraDisconnectedError: the lens is closed.
        """
        self._check_open()
        v = self.limits.check(value, _LENS_QUANTITY.get(self.unit, "lens setting"))
        self.log_command("lens", setting=v, unit=self.unit)
        self._do_set_setting(v)
        if wait:
            self._do_wait_settled()
        return v

    # -- volt view (backward compatible) ------------------------------------------------------------
    @property
    def voltage(self) -> float:
        """Current drive voltage (V RMS) of a volt lens; LensUnitError for a lens driven in mA or dpt."""
        self._require_volts("read a voltage")
        return self.setting

    @voltage.setter
    def voltage(self, value: float) -> None:
        self.set_voltage(value)

    def set_voltage(self, value: float, wait: bool = True) -> float:
        """Command ``value`` V on a volt lens (:meth:`set_setting`); LensUnitError for a lens driven in mA or dpt.

        Returns:
            The voltage actually commanded (quantised to the lens resolution, V).
        """
        self._require_volts("command a voltage")
        return self.set_setting(value, wait)

    # -- optical power view ---------------------------------------------------------------------
    @property
    def curve(self) -> LensCurve:
        """Drive (:attr:`unit`) → added optical power (dpt) calibration. Every lens has one; a lens without raises
        :class:`~dasha.camera.errors.MissingCalibrationError` (also an AttributeError)."""
        if self._curve is None:
            raise MissingCalibrationError(
                f"{type(self).__name__} has no {self.limits.unit}→dpt calibration curve (Lens.curve, a LensCurve); "
                "every lens must set one"
            )
        return self._curve

    @curve.setter
    def curve(self, value: LensCurve) -> None:
        if not isinstance(value, LensCurve):
            raise ConfigError(f"a lens curve must be a LensCurve, got {type(value).__name__}")
        self._curve = value

    @property
    def power_d(self) -> float:
        """Current added optical power (dpt): ``curve.power(setting)``."""
        return float(self.curve.power(self.setting))

    @property
    def power_range_d(self) -> tuple[float, float]:
        """Optical power (dpt) at the ends of the drive limits, ``(lowest, highest)``."""
        a, b = float(self.curve.power(self.limits.low)), float(self.curve.power(self.limits.high))
        return (min(a, b), max(a, b))

    def set_power_d(self, diopters: float, wait: bool = True) -> float:
        """Command an optical power (dpt) through the curve; OutOfRangeError outside :attr:`power_range_d`.

        Returns:
            The drive setting actually commanded (:attr:`unit`).
        """
        self._check_open()
        lo, hi = self.power_range_d
        if not (isinstance(diopters, int | float | np.integer | np.floating) and lo <= diopters <= hi):
            raise OutOfRangeError(f"optical power {diopters!r} dpt is outside the lens range [{lo:.3f}, {hi:.3f}] dpt")
        return self.set_setting(self.limits.clip(self.curve.drive(float(diopters))), wait)

    @property
    def diopters(self) -> float:
        """Current optical power (dpt), from the calibration curve (:attr:`power_d`)."""
        return self.power_d

    @diopters.setter
    def diopters(self, value: float) -> None:
        self.set_power_d(value)

    # -- hooks ----------------------------------------------------------------------------------
    @abstractmethod
    def _do_set_setting(self, value: float) -> None:
        """Send a validated drive value (:attr:`unit`) to the device."""

    @abstractmethod
    def _do_get_setting(self) -> float:
        """Read the drive value (:attr:`unit`) back."""

    def _do_wait_settled(self) -> None:
        """Block until the optics settled (default: sleep ``settle_time_s``)."""
        time.sleep(self.settle_time_s)

    def _require_volts(self, what: str) -> None:
        unit = self.unit
        if unit != "V":
            raise LensUnitError(
                f"cannot {what} on {type(self).__name__}: the lens is driven in {unit}, not V; "
                "use Lens.setting / Lens.set_setting"
            )


class Camera(Device):
    """A grey-level camera with settable exposure (µs) and, optionally, a focus lens.

    Subclasses implement ``_do_capture(timeout_s)``, ``_do_get_exposure``, ``_do_set_exposure`` and set
    ``exposure_limits`` (µs). ``capture`` validates every frame (uint8, 2-D) before returning it. Closing a camera
    closes its lens.
    """

    #: Exposure limits (µs). Subclasses set this in ``__init__``.
    exposure_limits: Limits
    #: The camera's optics calibration (:class:`dasha.camera.calibration.Optics`: focal length, f-number, pixel
    #: pitch), kept current by the camera (e.g. when its f-number changes); None when unknown.
    optics: Any = None

    @property
    def lens(self) -> Lens | None:
        """The focus lens attached to this camera, or None."""
        return None

    @property
    def exposure_us(self) -> float:
        """Current exposure time (µs)."""
        self._check_open()
        return float(self._do_get_exposure())

    @exposure_us.setter
    def exposure_us(self, value: float) -> None:
        self._check_open()
        checked = self.exposure_limits.check(value, "exposure")
        self.log_command("exposure", exposure_us=checked)
        self._do_set_exposure(checked)

    def capture(self, timeout_s: float | None = None) -> Frame:
        """Grab one frame, blocking at most ``timeout_s`` seconds (None: the backend's own time-out).

        Raises:
            CameraTimeoutError: no frame within ``timeout_s`` (the simulator never times out).
            OutOfRangeError: ``timeout_s`` is not None or a positive number of seconds.
            InvalidFrameError: the frame is not a 2-D uint8 image.
        """
        self._check_open()
        if timeout_s is not None:
            ok = isinstance(timeout_s, int | float | np.integer | np.floating) and not isinstance(timeout_s, bool)
            if not (ok and timeout_s > 0 and not math.isnan(timeout_s)):
                raise OutOfRangeError(f"capture timeout must be None or a positive number of s, got {timeout_s!r}")
            timeout_s = float(timeout_s)
        self.log_command("capture", timeout_s=timeout_s)
        frame = self._do_capture(timeout_s)
        validate_image(frame.image)
        return frame

    # -- hooks ----------------------------------------------------------------------------------
    def _attached_devices(self) -> Iterable[Device]:
        lens = self.lens
        return () if lens is None else (lens,)

    @abstractmethod
    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        """Grab one frame from the device; CameraTimeoutError if none arrives within ``timeout_s`` s."""

    @abstractmethod
    def _do_get_exposure(self) -> float:
        """Read the exposure (µs) back."""

    @abstractmethod
    def _do_set_exposure(self, exposure_us: float) -> None:
        """Send a validated exposure (µs)."""
