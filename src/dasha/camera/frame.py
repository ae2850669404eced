"""What a capture returns: :class:`Frame` (image, exposure, lens setting, time) and the simulator's :class:`Truth`.

Units: exposure in µs, lens drive in its own unit (V, mA or dpt; :data:`LENS_UNITS`), time in s, blur in px.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dasha.camera.errors import InvalidFrameError
from dasha.jsonio import to_jsonable

__all__ = ["LENS_UNITS", "Frame", "Truth", "validate_image"]

#: Units a lens can be driven in: volts (RMS), milliamperes, diopters, and ``"step"``: a focus motor's own position
#: count (a UVC webcam's ``focus_absolute``, dimensionless; its curve maps steps to dpt).
LENS_UNITS: tuple[str, ...] = ("V", "mA", "dpt", "step")


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
        """JSON-friendly dict (:func:`dasha.jsonio.to_jsonable`: ``inf`` and NaN become strings)."""
        return to_jsonable({name: getattr(self, name) for name in self.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame.

    Attributes:
        image: uint8 H×W (Mono8).
        exposure_us: exposure time of this frame, µs.
        lens_v: liquid-lens drive at capture time (V), or None without a lens or for a lens not driven in volts.
        timestamp: capture time on the camera's clock, s.
        truth: simulator ground truth (None on real cameras).
        phase_shift_px: phase-detection (PDAF) reading of the central window, signed disparity between the left- and
            right-pupil images (px; positive: focused in front of the object), on sensors with phase-detection
            pixels (the simulator models one); None otherwise. A measurement, not ground truth.
        lens_setting: lens drive at capture time in the lens's own unit (``lens_unit``), or None without a lens.
        lens_unit: unit of ``lens_setting``: ``"V"``, ``"mA"`` or ``"dpt"``; None without a lens.

    For a volt lens ``lens_v`` and ``lens_setting`` agree: a frame built with only one of them (the positional form
    ``Frame(image, exposure_us, lens_v, timestamp)``, or ``lens_setting=…, lens_unit="V"``) gets the other filled in.
    """

    image: np.ndarray
    exposure_us: float
    lens_v: float | None
    timestamp: float
    truth: Truth | None = field(default=None, compare=False)
    phase_shift_px: float | None = field(default=None, compare=False)
    lens_setting: float | None = None
    lens_unit: str | None = None

    def __post_init__(self) -> None:
        if self.lens_setting is None:
            if self.lens_v is not None:
                if self.lens_unit not in (None, "V"):
                    raise InvalidFrameError(f"frame has lens_v {self.lens_v} V but lens_unit {self.lens_unit!r}")
                object.__setattr__(self, "lens_setting", self.lens_v)
                object.__setattr__(self, "lens_unit", "V")
            elif self.lens_unit is not None:
                raise InvalidFrameError(f"frame has lens_unit {self.lens_unit!r} but no lens_setting")
            return
        if self.lens_unit not in LENS_UNITS:
            raise InvalidFrameError(f"frame lens_unit must be one of {LENS_UNITS}, got {self.lens_unit!r}")
        if self.lens_unit == "V":
            if self.lens_v is None:
                object.__setattr__(self, "lens_v", self.lens_setting)
            elif abs(self.lens_v - self.lens_setting) > 1e-9:
                raise InvalidFrameError(f"frame lens_v {self.lens_v} V ≠ lens_setting {self.lens_setting} V")
        elif self.lens_v is not None:
            raise InvalidFrameError(f"frame has lens_v {self.lens_v} V but its lens is driven in {self.lens_unit}")


def validate_image(image: object) -> np.ndarray:
    """Check that ``image`` is a non-empty 2-D uint8 array; raise InvalidFrameError otherwise."""
    if not isinstance(image, np.ndarray):
        raise InvalidFrameError(f"frame is not an array but {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidFrameError(f"frame dtype is {image.dtype}, expected uint8 (Mono8)")
    if image.ndim != 2 or image.shape[0] < 8 or image.shape[1] < 8:
        raise InvalidFrameError(f"frame shape {image.shape} is not a 2-D image of at least 8×8 px")
    return image
