"""A camera that is another camera with something added: :class:`CameraWrapper`, the base of
:class:`~dasha.camera.compose.CameraWithLens` (an external lens) and :class:`~dasha.camera.faults.FaultyCamera`
(injected faults)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dasha.camera.base import Camera, Device, Limits


class CameraWrapper(Camera):
    """A camera that is another camera with something added (an external lens, injected faults): exposure, exposure
    limits (µs) and optics are the wrapped camera's, and closing it closes the wrapped camera (and its own ``lens``).
    Subclasses set :attr:`lens` and implement ``_do_capture``.

    Args:
        camera: the wrapped camera.
    """

    def __init__(self, camera: Camera) -> None:
        self._camera = camera

    @property
    def inner(self) -> Camera:
        """The wrapped camera."""
        return self._camera

    @property
    def exposure_limits(self) -> Limits:  # type: ignore[override]
        """The wrapped camera's exposure limits (µs)."""
        return self._camera.exposure_limits

    @property
    def optics(self) -> Any:  # type: ignore[override]
        """The wrapped camera's optics calibration."""
        return self._camera.optics

    def _attached_devices(self) -> Iterable[Device]:
        lens = self.lens
        return (lens, self._camera) if lens is not None else (self._camera,)

    def _do_get_exposure(self) -> float:
        return self._camera.exposure_us

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._camera.exposure_us = exposure_us


__all__ = ["CameraWrapper"]
