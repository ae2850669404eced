"""Cameras and lenses: protocols, errors, calibration, the paper's exposure table, the simulator and SPEC strings.

Public API (stable): :func:`make_camera`, :func:`make_lens`, :class:`Camera`, :class:`Lens`, :class:`Device`,
:class:`CameraWithLens`, :class:`Frame`, :data:`EXPOSURE_TABLE_US`, the :class:`CameraError` hierarchy (device
errors) and :class:`ConfigError` (bad configuration; :class:`SpecError` for SPEC strings). This package knows
nothing of RL.
"""

from dasha.camera.base import LENS_UNITS, Camera, Device, Frame, Lens, LensCurve, Limits, Truth, validate_image
from dasha.camera.compose import CameraWithLens
from dasha.camera.errors import (
    CameraDisconnectedError,
    CameraError,
    CameraTimeoutError,
    CommandRejectedError,
    ConfigError,
    DependencyMissingError,
    DeviceFaultError,
    InvalidFrameError,
    LensUnitError,
    MissingCalibrationError,
    OutOfRangeError,
    ProtocolError,
    SpecError,
)
from dasha.camera.exposure_table import EXPOSURE_TABLE_US, exposure_index
from dasha.camera.spec import make_camera, make_lens, parse_spec

__all__ = [
    "EXPOSURE_TABLE_US",
    "LENS_UNITS",
    "Camera",
    "CameraDisconnectedError",
    "CameraError",
    "CameraTimeoutError",
    "CameraWithLens",
    "CommandRejectedError",
    "ConfigError",
    "DependencyMissingError",
    "Device",
    "DeviceFaultError",
    "Frame",
    "InvalidFrameError",
    "Lens",
    "LensCurve",
    "LensUnitError",
    "Limits",
    "MissingCalibrationError",
    "OutOfRangeError",
    "ProtocolError",
    "SpecError",
    "Truth",
    "exposure_index",
    "make_camera",
    "make_lens",
    "parse_spec",
    "validate_image",
]
