"""Physically based simulated camera with a liquid lens (scene → optics → sensor → Mono8).

The calibration it shares with real rigs (:class:`VariopticCurve`, :data:`VARIOPTIC_LIMITS`, :class:`Optics`,
:func:`vergence_range_d`, :data:`MIN_DISTANCE_M`) lives in :mod:`dasha.camera.calibration`; it is re-exported here.
"""

from dasha.camera.calibration import MIN_DISTANCE_M, VARIOPTIC_LIMITS, Optics, VariopticCurve, vergence_range_d
from dasha.camera.sim.camera import SIM_EXPOSURE_LIMITS, LensDynamics, SimCamera, SimClock, SimLens
from dasha.camera.sim.light import ConstantLight, LightSchedule, PaperRamp, RandomLight
from dasha.camera.sim.optics import PyramidBlur, disc_kernel
from dasha.camera.sim.scene import (
    BACKGROUND_TEXTURES,
    EXTRA_TEXTURES,
    OBJECT_TEXTURES,
    Scene,
    load_texture,
    random_scene,
)
from dasha.camera.sim.sensor import SensorModel

__all__ = [
    "BACKGROUND_TEXTURES",
    "EXTRA_TEXTURES",
    "MIN_DISTANCE_M",
    "OBJECT_TEXTURES",
    "SIM_EXPOSURE_LIMITS",
    "VARIOPTIC_LIMITS",
    "ConstantLight",
    "LensDynamics",
    "LightSchedule",
    "Optics",
    "PaperRamp",
    "PyramidBlur",
    "RandomLight",
    "Scene",
    "SensorModel",
    "SimCamera",
    "SimClock",
    "SimLens",
    "VariopticCurve",
    "disc_kernel",
    "load_texture",
    "random_scene",
    "vergence_range_d",
]
