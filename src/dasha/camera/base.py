"""Camera and Lens base classes: validate in the public layer, touch hardware in ``_do_*`` hooks.

Every backend (simulator, Basler, OpenCV, replay, serial liquid lenses) subclasses :class:`Camera` or
:class:`Lens` and implements only the ``_do_*`` hooks. The public methods check state and limits first, so a
command outside a device's limits raises :class:`~dasha.camera.errors.OutOfRangeError` and is never sent.

Units: exposure in µs, lens drive in V (RMS), optical power in diopters (1/m), time in s.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from dasha.camera.errors import CameraDisconnectedError, InvalidFrameError, OutOfRangeError


@dataclass(frozen=True, slots=True)
class Limits:
    """Closed interval ``[low, high]`` of a device setting, with its unit and command resolution."""

    low: float
    high: float
    unit: str
    resolution: float = 0.0
    """Smallest command step (same unit); 0 means continuous."""

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


@dataclass(frozen=True, slots=True)
class Truth:
    """Simulator ground truth for one frame. Scoring code only: never part of an observation.

    Attributes:
        blur_px: object blur-circle diameter on the sensor, native pixels.
        background_blur_px: background blur-circle diameter, native pixels.
        object_box: ground-truth object box ``(x0, y0, x1, y1)`` in frame pixels (x1, y1 exclusive).
        in_focus_v: lens voltage (V) that focuses the current object distance; NaN if unreachable.
        object_distance_m: object distance (m); ``inf`` for an object at infinity.
        defocus_d: signed defocus of the object, diopters (focus power minus object vergence).
        lux: scene illuminance (lx) during the exposure.
        saturated_fraction: fraction of pixels at the sensor's full well or ADC maximum.
        mean_electrons: mean photo-electrons per pixel over the frame (e⁻).
    """

    blur_px: float
    background_blur_px: float
    object_box: tuple[int, int, int, int]
    in_focus_v: float
    object_distance_m: float
    defocus_d: float
    lux: float
    saturated_fraction: float
    mean_electrons: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (``inf`` and NaN become strings)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame.

    Attributes:
        image: uint8 H×W (Mono8).
        exposure_us: exposure time of this frame, µs.
        lens_v: liquid-lens drive at capture time (V), or None without a lens.
        timestamp: capture time on the camera's clock, s.
        truth: simulator ground truth (None on real cameras).
        phase_shift_px: phase-detection (PDAF) reading of the central window, signed disparity between the left- and
            right-pupil images (px; positive: focused in front of the object), on sensors with phase-detection
            pixels (the simulator models one); None otherwise. A measurement, not ground truth.
    """

    image: np.ndarray
    exposure_us: float
    lens_v: float | None
    timestamp: float
    truth: Truth | None = field(default=None, compare=False)
    phase_shift_px: float | None = field(default=None, compare=False)


def validate_image(image: object) -> np.ndarray:
    """Check that ``image`` is a non-empty 2-D uint8 array; raise InvalidFrameError otherwise."""
    if not isinstance(image, np.ndarray):
        raise InvalidFrameError(f"frame is not an array but {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidFrameError(f"frame dtype is {image.dtype}, expected uint8 (Mono8)")
    if image.ndim != 2 or image.shape[0] < 8 or image.shape[1] < 8:
        raise InvalidFrameError(f"frame shape {image.shape} is not a 2-D image of at least 8×8 px")
    return image


class Lens(ABC):
    """A focus actuator driven in volts (liquid lens), with limits, resolution and settle time.

    Subclasses implement ``_do_set_voltage`` / ``_do_get_voltage`` (and optionally ``_do_close``). A lens
    with a calibration curve (``curve``) can also be commanded in diopters.
    """

    #: Drive limits (V). Subclasses set this in ``__init__``.
    limits: Limits
    #: Time after a command until the optical power is within tolerance (s).
    settle_time_s: float = 0.05
    #: Voltage → optical power calibration, or None.
    curve: LensCurve | None = None

    _closed: bool = False

    @property
    def voltage(self) -> float:
        """Current drive voltage (V RMS)."""
        self._check_open()
        return float(self._do_get_voltage())

    @voltage.setter
    def voltage(self, value: float) -> None:
        self.set_voltage(value)

    def set_voltage(self, value: float, wait: bool = True) -> float:
        """Command ``value`` V (checked against ``limits``); with ``wait`` block until settled.

        Returns:
            The voltage actually commanded (quantised to the lens resolution).
        """
        self._check_open()
        v = self.limits.check(value, "lens voltage")
        self._do_set_voltage(v)
        if wait:
            self._do_wait_settled()
        return v

    @property
    def diopters(self) -> float:
        """Current optical power (diopters), from the calibration curve."""
        return self._require_curve().power(self.voltage)

    @diopters.setter
    def diopters(self, value: float) -> None:
        curve = self._require_curve()
        lo, hi = curve.power(self.limits.low), curve.power(self.limits.high)
        if not (lo <= value <= hi):
            raise OutOfRangeError(f"optical power {value:g} dpt is outside the lens range [{lo:.3f}, {hi:.3f}] dpt")
        self.set_voltage(self.limits.clip(curve.voltage(value)))

    def close(self) -> None:
        """Release the device. Idempotent."""
        if not self._closed:
            self._closed = True
            self._do_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks --------------------------------------------------------------------------------
    @abstractmethod
    def _do_set_voltage(self, volts: float) -> None:
        """Send a validated drive voltage (V) to the device."""

    @abstractmethod
    def _do_get_voltage(self) -> float:
        """Read the drive voltage (V) back."""

    def _do_wait_settled(self) -> None:
        """Block until the optics settled (default: sleep ``settle_time_s``)."""
        time.sleep(self.settle_time_s)

    def _do_close(self) -> None:  # noqa: B027 - optional hook, most lenses need no teardown
        """Release device resources."""

    def _check_open(self) -> None:
        if self._closed:
            raise CameraDisconnectedError(f"{type(self).__name__} is closed")

    def _require_curve(self) -> LensCurve:
        if self.curve is None:
            raise OutOfRangeError(f"{type(self).__name__} has no voltage→diopter calibration; command volts")
        return self.curve


class LensCurve(ABC):
    """Monotonic map between drive voltage (V) and added optical power (diopters)."""

    @abstractmethod
    def power(self, volts: float | np.ndarray) -> float | np.ndarray:
        """Optical power (diopters) at ``volts``."""

    @abstractmethod
    def voltage(self, diopters: float) -> float:
        """Inverse: the voltage giving ``diopters`` (clipped to the curve's domain)."""


class Camera(ABC):
    """A grey-level camera with settable exposure (µs) and, optionally, a focus lens.

    Subclasses implement ``_do_capture``, ``_do_get_exposure``, ``_do_set_exposure`` and set
    ``exposure_limits`` (µs). ``capture`` validates every frame (uint8, 2-D) before returning it.
    """

    #: Exposure limits (µs). Subclasses set this in ``__init__``.
    exposure_limits: Limits
    #: Human-readable SPEC this camera was made from.
    spec: str = ""
    #: The camera's optics calibration (:class:`dasha.camera.calibration.Optics`: focal length, f-number, pixel
    #: pitch), kept current by the camera (e.g. when its f-number changes); None when unknown.
    optics: Any = None

    _closed: bool = False

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
        self._do_set_exposure(self.exposure_limits.check(value, "exposure"))

    def capture(self) -> Frame:
        """Grab one frame (blocking; backends raise CameraTimeoutError on their time-out)."""
        self._check_open()
        frame = self._do_capture()
        validate_image(frame.image)
        return frame

    def close(self) -> None:
        """Release the camera and its lens. Idempotent."""
        if not self._closed:
            self._closed = True
            try:
                if self.lens is not None:
                    self.lens.close()
            finally:
                self._do_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks --------------------------------------------------------------------------------
    @abstractmethod
    def _do_capture(self) -> Frame:
        """Grab one frame from the device."""

    @abstractmethod
    def _do_get_exposure(self) -> float:
        """Read the exposure (µs) back."""

    @abstractmethod
    def _do_set_exposure(self, exposure_us: float) -> None:
        """Send a validated exposure (µs)."""

    def _do_close(self) -> None:  # noqa: B027 - optional hook
        """Release device resources."""

    def _check_open(self) -> None:
        if self._closed:
            raise CameraDisconnectedError(f"{type(self).__name__} is closed")
