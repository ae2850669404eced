"""One camera from a camera and an external focus lens (a Basler body behind a serial Varioptic or Optotune lens).

:class:`CameraWithLens` is a :class:`~dasha.camera.base.Camera` whose ``lens`` is the given lens: exposure, capture
and optics go to the wrapped camera, and every frame is stamped with the lens drive read just before the capture
(``Frame.lens_setting`` in the lens's unit, and ``Frame.lens_v`` for a volt lens). Closing it closes both devices.

The simulator renders its image through its own built-in lens, so wrapping a :class:`~dasha.camera.sim.SimCamera`
with a separate :class:`~dasha.camera.sim.SimLens` exercises the composition, not the optics; its frames lose the
simulator's ground truth (``truth`` describes the built-in lens, not this one).
"""

from __future__ import annotations

import dataclasses

from dasha.camera.base import Camera, Frame, Lens
from dasha.camera.wrapper import CameraWrapper


class CameraWithLens(CameraWrapper):
    """``camera`` with ``lens`` as its focus lens (see the module docstring).

    Args:
        camera: the camera body; its own lens, if any, is ignored (and closed with it).
        lens: the external focus lens, driven in its own unit (V, mA or dpt).
        spec: the SPEC this pair was made from; default ``"<camera spec>+<lens spec>"``.
    """

    def __init__(self, camera: Camera, lens: Lens, spec: str = "") -> None:
        if not isinstance(camera, Camera) or not isinstance(lens, Lens):
            raise TypeError(f"CameraWithLens needs a Camera and a Lens, got {type(camera).__name__}, "
                            f"{type(lens).__name__}")  # fmt: skip
        super().__init__(camera)
        self._lens = lens
        self.spec = spec or "+".join(s for s in (camera.spec, lens.spec) if s)

    @property
    def camera(self) -> Camera:
        """The wrapped camera body (:attr:`inner`)."""
        return self._camera

    @property
    def lens(self) -> Lens:
        """The external focus lens."""
        return self._lens

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        lens = self._lens
        setting, unit = lens.setting, lens.unit
        frame = self._camera.capture(timeout_s)
        return dataclasses.replace(
            frame,
            lens_v=setting if unit == "V" else None,
            lens_setting=setting,
            lens_unit=unit,
            truth=None,
        )


__all__ = ["CameraWithLens"]
