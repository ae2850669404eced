"""Cameras and lenses: protocols, errors, the paper's exposure table, the simulator and SPEC strings.

Public API (stable): :func:`make_camera`, :class:`Camera`, :class:`Lens`, :class:`Frame`,
:data:`EXPOSURE_TABLE_US`, and the :class:`CameraError` hierarchy. This package knows nothing of RL.
"""

from dasha.camera.base import Camera, Frame, Lens, LensCurve, Limits, Truth, validate_image
from dasha.camera.errors import (
    CameraDisconnectedError,
    CameraError,
    CameraTimeoutError,
    DependencyMissingError,
    InvalidFrameError,
    OutOfRangeError,
    SpecError,
)
from dasha.camera.exposure_table import EXPOSURE_TABLE_US, exposure_index
from dasha.camera.spec import make_camera, parse_spec

__all__ = [
    "EXPOSURE_TABLE_US",
    "Camera",
    "CameraDisconnectedError",
    "CameraError",
    "CameraTimeoutError",
    "DependencyMissingError",
    "Frame",
    "InvalidFrameError",
    "Lens",
    "LensCurve",
    "Limits",
    "OutOfRangeError",
    "SpecError",
    "Truth",
    "exposure_index",
    "make_camera",
    "parse_spec",
    "validate_image",
]
