"""The hardware-in-the-loop twin (SPEC ``twin:``, the ``sim:`` keys): the real driver stack, closed by the simulator.

:class:`TwinCamera` drives the **Basler backend** (:class:`~dasha.camera.basler.BaslerCamera`) on pylon's camera
emulation and the **Varioptic driver** (:class:`~dasha.camera.lens.VariopticLens`) over a pseudo-terminal to a
simulated USB-M board (:class:`~dasha.camera.twin.varioptic_board.FakeVariopticBoard`, which speaks the vendor's
wire protocol). For every frame the simulator renders the scene from the exposure **read back from the emulated
camera's ExposureTime node** and the voltage **the board decoded from the bytes it received**, writes it to the
emulator's image file (``TestImageSelector = Off``, ``ImageFileMode = On``, ``ImageFilename``: the emulator re-reads
it on every grab and ignores ExposureTime, so the renderer applies the exposure), and the frame comes back through
pylon's grab path. Frames carry the simulator's truth (scoring only).

Everything that runs on ``sim`` runs on ``twin``: the simulated world (scene, light, f-number, restarts, oracles)
reaches the renderer through the same methods as a :class:`~dasha.camera.sim.SimCamera`'s.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import cv2

from dasha.camera.base import Camera, Device, Frame, Limits
from dasha.camera.errors import CameraDisconnectedError, DependencyMissingError, InvalidFrameError
from dasha.camera.sim import SimCamera
from dasha.camera.twin.varioptic_board import FakeVariopticBoard

EMULATION = "Emulation"
"""What pylon's emulated cameras' model names contain."""


def emulated_serial() -> str:
    """The serial number of a pylon camera emulation device (``PYLON_CAMEMU`` is set to 1 if unset)."""
    os.environ.setdefault("PYLON_CAMEMU", "1")
    try:
        from pypylon import pylon
    except ImportError:
        raise DependencyMissingError("pypylon", "basler", "the twin's camera") from None
    for info in pylon.TlFactory.GetInstance().EnumerateDevices():
        if EMULATION in info.GetModelName():
            return str(info.GetSerialNumber())
    raise CameraDisconnectedError("pylon lists no camera emulation device (is PYLON_CAMEMU=0?)")


class TwinCamera(Camera):
    """The simulator behind the real Basler backend and Varioptic driver (see the module docstring).

    Args:
        sim: the simulated camera that renders every frame (its scene, light, optics, lens curve and limits).
        spec: the SPEC string this twin was made from.
    """

    def __init__(self, sim: SimCamera, spec: str = "twin") -> None:
        from dasha.camera.basler import BaslerCamera
        from dasha.camera.lens import VariopticLens

        self._sim = sim
        self.spec = spec
        self._dir = tempfile.TemporaryDirectory(prefix="dasha-twin-")
        self._image = Path(self._dir.name) / "frame.png"
        h, w = sim.size
        self._write(sim.render(noise=False).image)
        self._board = FakeVariopticBoard(code=round((sim.lens.voltage - 24.0) * 1000)).start()
        try:
            # the driver's own settle wait is the simulator's job (its lens settles on the virtual clock)
            self._lens = VariopticLens(self._board.port, limits=sim.lens.limits, curve=sim.lens.curve,
                                       settle_time_s=0.0)  # fmt: skip
            self._lens.spec = f"varioptic:{self._board.port}"
            features = {"TestImageSelector": "Off", "ImageFileMode": "On", "ImageFilename": str(self._image)}
            self._camera = BaslerCamera(emulated_serial(), roi=(0, 0, w, h), features=features,
                                        spec=f"basler:emulation,{w}x{h}")  # fmt: skip
            self._camera.exposure_us = self._camera.exposure_limits.clip(sim.exposure_us)
        except BaseException:
            self._board.close()
            raise
        lo = max(self._camera.exposure_limits.low, sim.exposure_limits.low)
        hi = min(self._camera.exposure_limits.high, sim.exposure_limits.high)
        self.exposure_limits = Limits(lo, hi, "µs", self._camera.exposure_limits.resolution)
        self._sync_exposure()

    # -- the devices -----------------------------------------------------------------------------------------
    @property
    def lens(self) -> Any:
        """The Varioptic driver, talking to the simulated board over the pseudo-terminal."""
        return self._lens

    @property
    def basler(self) -> Any:
        """The Basler backend on the camera emulation."""
        return self._camera

    @property
    def board(self) -> FakeVariopticBoard:
        """The simulated USB-M board (what reached the wire: ``board.volts``)."""
        return self._board

    @property
    def sim(self) -> SimCamera:
        """The renderer."""
        return self._sim

    @property
    def optics(self) -> Any:  # type: ignore[override]
        """The simulator's optics (focal length, f-number, pixel pitch): the calibration this rig reports."""
        return self._sim.optics

    def _attached_devices(self) -> tuple[Device, ...]:
        return (self._lens, self._camera)

    def _do_close(self) -> None:
        self._board.close()
        self._dir.cleanup()

    # -- the simulated world reaches the renderer as on a SimCamera ------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._sim, name)  # scene, light, render, in_focus_voltage, set_scene, set_lux, …

    def restart(self, seed: int, exposure_us: float, lens_v: float) -> None:
        """Start an episode (as :meth:`SimCamera.restart`), the settings sent through the real drivers."""
        self.exposure_us = exposure_us
        self._lens.set_setting(lens_v)
        self._sim.restart(seed, self._sim.exposure_us, self._board_volts())

    # -- Camera hooks ------------------------------------------------------------------------------------------
    def _board_volts(self) -> float:
        return 24.0 + self._board.code / 1000.0

    def _sync_exposure(self) -> None:
        self._sim.exposure_us = self._sim.exposure_limits.clip(self._camera.exposure_us)

    def _do_get_exposure(self) -> float:
        return self._camera.exposure_us

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._camera.exposure_us = self._camera.exposure_limits.clip(exposure_us)
        self._sync_exposure()  # the renderer exposes what the camera's ExposureTime node now holds

    def _write(self, image: Any) -> None:
        tmp = self._image.with_suffix(".tmp.png")
        if not cv2.imwrite(str(tmp), image):
            raise InvalidFrameError(f"twin: cannot write the emulator's image file {self._image}")
        os.replace(tmp, self._image)

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        self._sync_exposure()
        volts = self._sim.lens.limits.clip(self._board_volts())  # a code beyond the lens's range: its end stop
        if abs(volts - self._sim.lens.voltage) > 1e-9:  # the board received a new focus code: the optics move
            self._sim.lens.set_voltage(volts)
        rendered = self._sim.capture()
        self._write(rendered.image)
        grabbed = self._camera.capture(timeout_s)
        if grabbed.image.shape != rendered.image.shape:
            raise InvalidFrameError(f"twin: grabbed {grabbed.image.shape}, rendered {rendered.image.shape}")
        return Frame(grabbed.image, self._camera.exposure_us, volts, rendered.timestamp, rendered.truth,
                     rendered.phase_shift_px, lens_setting=volts, lens_unit="V")  # fmt: skip


__all__ = ["TwinCamera", "emulated_serial"]
