"""Shared fixtures: small simulated cameras and scenes."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from dasha.camera.sim import Scene, SimCamera


def need(module: str) -> object:
    """Import an optional extra: skip when missing, unless DASHA_REQUIRE_EXTRAS=1 (``make test-extras``) — then fail."""
    if os.environ.get("DASHA_REQUIRE_EXTRAS"):
        return __import__(module)
    return pytest.importorskip(module)


@pytest.fixture
def astronaut_scene() -> Scene:
    return Scene.from_names("astronaut", "brick", object_distance_m=1.5)


@pytest.fixture
def sim_camera(astronaut_scene: Scene) -> SimCamera:
    return SimCamera(astronaut_scene, size=128, lux=100.0, exposure_us=20_000, seed=0)


def flat_scene(value: float = 0.5, distance_m: float = 1.5) -> Scene:
    """A uniform grey object on a uniform background (photon-transfer measurements)."""
    tex = np.full((64, 64), value, np.float32)
    return Scene(
        name="flat",
        object_texture=tex,
        background_texture=tex,
        object_distance_m=distance_m,
        object_reflectance=(0.0, 1.0),
        background_reflectance=(0.0, 1.0),
    )
