"""A camera wrapper that hides ground truth from every method, and helpers to run methods blind."""

from __future__ import annotations

from typing import Any

from dasha.camera.base import Camera, Frame
from dasha.camera.sim import SimCamera
from dasha.envs.perception import Perception


class TruthHidingCamera(Camera):
    """Wraps a simulated camera and strips every trace of ground truth from what a method can see (it keeps the
    calibration a real camera reports: optics and the lens with its curve)."""

    def __init__(self, inner: SimCamera) -> None:
        self._inner = inner
        self.exposure_limits = inner.exposure_limits

    @property
    def optics(self) -> Any:  # type: ignore[override]
        return self._inner.optics

    @property
    def lens(self):  # type: ignore[no-untyped-def]
        return self._inner.lens

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        f = self._inner.capture(timeout_s)
        return Frame(f.image, f.exposure_us, f.lens_v, f.timestamp, truth=None)

    def _do_get_exposure(self) -> float:
        return self._inner.exposure_us

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._inner.exposure_us = exposure_us


def blind_perception(camera: SimCamera, **config: Any) -> Perception:
    """Perception that drives ``camera`` through a :class:`TruthHidingCamera`."""
    return Perception({"size": camera.size[0], **config}, TruthHidingCamera(camera))
