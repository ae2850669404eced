"""The simulated world episodes are drawn from: scenes, light, aperture, start settings, and the ground-truth oracles.

:class:`SimWorld` is the only part of the episode engine that knows :mod:`dasha.camera.sim`: it owns one
:class:`~dasha.camera.sim.SimCamera` and, per episode, draws (in this order, from the episode's generator) a scene —
object photo, background photo, object distance uniform in dioptres, framing, background depth —, an illuminance, an
f-number and the start exposure and lens drive, then restarts the camera. Perception, the phases and the controllers
see only the camera (and the calibration it reports); the oracles here (the exposure that exposes the sharp render,
the reference boxes a detection must overlap) use the simulator's knowledge and serve scoring and the ``oracle``
upper bound only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dasha.camera.base import Frame
from dasha.camera.calibration import vergence_range_d
from dasha.camera.errors import SpecError
from dasha.camera.faults import FaultyCamera, split_faults
from dasha.camera.sim import Scene, SimCamera, load_texture
from dasha.camera.sim.conditions import Conditions
from dasha.envs.actions import EXPOSURE_TABLE
from dasha.envs.config import EnvConfig
from dasha.envs.perception import Perception, Shot, on_object
from dasha.vision.metering import TARGET_GREY, median_grey

SCENE_TRIES = 30
"""Scenes drawn at most per episode until the detector finds the object on the sharp render."""


def oracle_exposure_us(camera: SimCamera) -> float:
    """Exposure (µs) that puts the median grey of ``camera``'s sharp, noise-free render at 100 grey (the focus-only
    task's start, the reference render); simulator knowledge, never a method's."""
    cam = camera
    saved = cam.exposure_us
    v = cam.in_focus_voltage()
    power = float(cam.lens.curve.power(v if math.isfinite(v) else cam.lens.voltage))
    lo, hi = cam.exposure_limits.low, min(cam.exposure_limits.high, float(EXPOSURE_TABLE[-1]))
    e = 10_000.0
    for _ in range(6):  # converges in 2–3 iterations unless it starts saturated (÷ 8 per iteration)
        cam.exposure_us = min(max(e, lo), hi)
        m = median_grey(cam.render(lens_power_d=power, noise=False).image)
        e = cam.exposure_us * TARGET_GREY / max(m, 1.0) if m < 250 else cam.exposure_us / 8
    e = min(max(e, lo), hi)
    cam.exposure_us = saved
    return e


class SimWorld:
    """Domain randomisation over one simulated camera (see the module docstring).

    Args:
        config: the world's ranges (scenes, backgrounds, distances, light, f-numbers, start settings).
        camera: the simulated camera to drive (default: a new one at ``config.size``), e.g. one whose lens has
            narrower limits than 24–70 V; start drives are clamped into its lens's limits.
    """

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, camera: SimCamera | None = None) -> None:
        self.config = EnvConfig.from_dict(config)
        self._textures: dict[str, np.ndarray] = {}
        self._background = self.config.backgrounds[0]
        scene = self._scene(self.config.scenes[0], self.config.backgrounds[0], 1.0)
        plan, kind = split_faults(self.config.camera)
        if camera is None:
            camera = SimCamera(scene, size=self.config.size)
            if kind == "twin":  # the same renderer behind the real Basler and Varioptic drivers
                from dasha.camera.twin.camera import TwinCamera

                camera = TwinCamera(camera, spec=f"twin:size={self.config.size}")  # type: ignore[assignment]
        else:
            camera.set_scene(scene)
        renderer = getattr(camera, "sim", camera)  # a twin's renderer is its simulator
        renderer.conditions = Conditions(self.config.condition, self.config.condition_strength)
        if plan is not None:  # faults injected around it (dasha.camera.faults); the world still drives the simulator
            camera = FaultyCamera(camera, plan, spec=self.config.camera)  # type: ignore[assignment]
        self.camera = camera
        self.episode: dict[str, Any] = {}
        """The episode's draw (scene, background, distance m, lux): reports only, never observed."""

    # -- scenes ----------------------------------------------------------------------------------------
    def _texture(self, name: str) -> np.ndarray:
        if name not in self._textures:
            self._textures[name] = load_texture(name)
        return self._textures[name]

    def _scene(self, obj: str, bg: str, distance_m: float, **kwargs: Any) -> Scene:
        return Scene(
            name=str(obj), object_texture=self._texture(obj), background_texture=self._texture(bg),
            object_distance_m=distance_m, **kwargs,
        )  # fmt: skip

    def sample_scene(self, rng: np.random.Generator) -> Scene:
        """A random scene: texture, background, distance (uniform in dpt), framing, background depth."""
        cfg = self.config
        near = cfg.distance_m[0]
        vergence = float(rng.uniform(*vergence_range_d(cfg.distance_m)))
        distance = math.inf if vergence < 1e-4 else max(1.0 / vergence, near)
        bg_vergence = vergence * float(rng.uniform(0.0, 0.7))  # the background is always farther
        obj = cfg.scenes[int(rng.integers(len(cfg.scenes)))]
        self._background = cfg.backgrounds[int(rng.integers(len(cfg.backgrounds)))]
        return self._scene(
            obj,
            self._background,
            distance,
            background_distance_m=math.inf if bg_vergence < 1e-4 else max(1.0 / bg_vergence, distance),
            object_fraction=float(rng.uniform(*cfg.object_fraction)),
            object_center=(float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6))),
        )

    def sample_lux(self, rng: np.random.Generator) -> float:
        """An episode's illuminance (lx): log-uniform over ``config.lux``, or one of the paper's ramp levels."""
        lo, hi = self.config.lux
        if self.config.lux_schedule == "paper-ramp":
            levels = [*np.arange(lo, hi, 10.0), hi]  # 13, 23, …, 293, 300 lx: the ramp's levels, equal time each
            return float(levels[int(rng.integers(len(levels)))])
        return float(min(max(math.exp(rng.uniform(math.log(lo), math.log(hi))), lo), hi))  # exp(log x) may pass x

    # -- episodes --------------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, perception: Perception, needs_detection: bool = False,
              oracle_exposure: bool = False) -> Shot:  # fmt: skip
        """Start an episode: random scene, light, aperture, start settings (and the believed calibration error, when
        ``calibration_errors`` are given); returns ``perception``'s free first frame.

        With ``needs_detection`` the scene is redrawn (≤ :data:`SCENE_TRIES` times) until ``perception``'s detector
        finds the object on the sharp, well-exposed render; its boxes become perception's reference boxes. With
        ``oracle_exposure`` the episode starts well exposed (the focus-only task).
        """
        cfg, cam = self.config, self.camera
        for _ in range(SCENE_TRIES):
            cam.set_scene(self.sample_scene(rng))
            cam.set_lux(self.sample_lux(rng))
            cam.set_f_number(float(rng.uniform(*cfg.f_number)))
            if not needs_detection or self._find_reference_boxes(perception):
                break
        else:
            raise SpecError(
                f"detector {cfg.detector!r} finds nothing on {SCENE_TRIES} sharp renders of scenes {list(cfg.scenes)}; "
                "choose scenes it can detect (e.g. astronaut for haar-face)"
            )
        seed = int(rng.integers(2**31))
        if oracle_exposure:
            exposure = self.oracle_exposure_us()
        elif cfg.start_exposure_us is not None:
            exposure = cfg.start_exposure_us
        else:
            lo_e, hi_e = math.log(EXPOSURE_TABLE[0]), math.log(EXPOSURE_TABLE[-1])
            exposure = float(EXPOSURE_TABLE[np.argmin(np.abs(np.log(EXPOSURE_TABLE) - rng.uniform(lo_e, hi_e)))])
        start_v = cfg.start_lens_v if cfg.start_lens_v is not None else float(rng.uniform(*cfg.start_lens_range_v))
        cam.restart(seed, cam.exposure_limits.clip(exposure), cam.lens.limits.clip(start_v))
        perception.camera = cam
        if cfg.calibration_errors:  # drawn last: a world without them draws exactly what it drew before
            perception.calibration_error = cfg.calibration_errors[int(rng.integers(len(cfg.calibration_errors)))]
        perception.start_episode()
        self.episode = {"scene": cam.scene.name, "background": self._background,
                        "distance_m": cam.scene.object_distance_m, "lux": cam.light.lux_at(0)}  # fmt: skip
        return perception.capture()

    # -- oracles (simulator knowledge: scoring and the upper bound only) -----------------------------------
    def oracle_exposure_us(self) -> float:
        """Exposure (µs) putting the median grey of the sharp, noise-free render at 100 (:func:`oracle_exposure_us`)."""
        return oracle_exposure_us(self.camera)

    def in_focus_voltage(self) -> float:
        """The lens drive (V) that focuses the current object (NaN if out of the lens's reach)."""
        return self.camera.in_focus_voltage()

    def _find_reference_boxes(self, perception: Perception) -> bool:
        """Detect on the sharp, well-exposed, noise-free render; keep the boxes that lie on the object (at least
        half their area inside its ground-truth box) as ``perception``'s reference. Where even the longest exposure
        cannot expose the scene (below ≈ 0.1 lx), the reference render is made at 100 lx: it only says where the
        object is."""
        detector = perception.detector
        if detector is None:
            return True
        frame = self._reference_render()
        if frame is not None and median_grey(frame.image) < 25:  # too dark to expose at all: where is the object?
            saved = self.camera.light
            self.camera.set_lux(100.0)
            frame = self._reference_render()
            self.camera.light = saved
        boxes = [b.as_tuple() for b in detector.detect(frame.image)] if frame else []
        truth = frame.truth if frame is not None else None
        perception.reference_boxes = [b for b in boxes if truth is None or on_object(b, truth.object_box)]
        return bool(perception.reference_boxes)

    def _reference_render(self) -> Frame | None:
        """The noise-free render at the oracle exposure and the in-focus voltage (None if focus is out of reach)."""
        cam = self.camera
        saved_e = cam.exposure_us
        cam.exposure_us = self.oracle_exposure_us()
        v = cam.in_focus_voltage()
        frame = cam.render(lens_power_d=cam.lens.curve.power(v), noise=False) if math.isfinite(v) else None
        cam.exposure_us = saved_e
        return frame


__all__ = ["SimWorld", "oracle_exposure_us"]
