"""Physically based simulated camera with a liquid lens (scene → optics → sensor → Mono8)."""

from dasha.camera.sim.camera import SIM_EXPOSURE_LIMITS, LensDynamics, SimCamera, SimClock, SimLens
from dasha.camera.sim.light import ConstantLight, LightSchedule, PaperRamp, RandomLight
from dasha.camera.sim.optics import VARIOPTIC_LIMITS, Optics, PyramidBlur, VariopticCurve, disc_kernel
from dasha.camera.sim.scene import (
    BACKGROUND_TEXTURES,
    EXTRA_TEXTURES,
    OBJECT_TEXTURES,
    Scene,
    load_texture,
    random_scene,
    vergence_range_d,
)
from dasha.camera.sim.sensor import SensorModel

__all__ = [
    "BACKGROUND_TEXTURES",
    "EXTRA_TEXTURES",
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
