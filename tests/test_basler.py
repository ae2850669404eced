"""The Basler backend against pylon's camera emulation (``PYLON_CAMEMU=1``), and its SPEC.

pylon reads ``PYLON_CAMEMU`` whenever it enumerates devices, so the ``emu`` fixture sets it per test with
monkeypatch (no subprocess needed). Tests skip cleanly without pypylon (``make test-extras`` makes them fail
instead); the missing-pypylon path is simulated and runs everywhere.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dasha.camera import (
    CameraDisconnectedError,
    CameraTimeoutError,
    DependencyMissingError,
    SpecError,
    make_camera,
)
from dasha.camera.basler import BaslerCamera, check_roi, exposure_limits_from_nodes
from tests.conftest import need
from tests.contracts import CameraContract

EMU = "0815-0000"  # serial number of pylon's first emulated camera


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Any:
    """pypylon's ``pylon`` module with the camera emulation enabled."""
    need("pypylon")
    monkeypatch.setenv("PYLON_CAMEMU", "1")
    from pypylon import pylon

    return pylon


@pytest.fixture
def raw_emu(emu: Any) -> Iterator[Any]:
    """The emulated camera opened directly with pylon (to prepare or inspect what the backend sees)."""
    factory = emu.TlFactory.GetInstance()
    info = next(d for d in factory.EnumerateDevices() if d.GetSerialNumber() == EMU)
    cam = emu.InstantCamera(factory.CreateDevice(info))
    cam.Open()
    yield cam
    if cam.IsPylonDeviceAttached():
        cam.Close()
        cam.DestroyDevice()


class TestBaslerEmulatorContract(CameraContract):
    @pytest.fixture(autouse=True)
    def _emulator(self, emu: Any) -> Iterator[None]:
        self.opened: list[BaslerCamera] = []
        yield
        for cam in self.opened:
            cam.close()

    def make_camera(self) -> BaslerCamera:
        cam = BaslerCamera(EMU)
        self.opened.append(cam)
        return cam


def test_opens_the_first_camera_mono8_and_reports_what_it_opened(emu: Any) -> None:
    with BaslerCamera() as cam:
        assert "0815-0000" in cam.name and cam.spec == "basler" and cam.optics is None and cam.lens is None
        assert cam.get_feature("PixelFormat") == "Mono8"
        frame = cam.capture(timeout_s=2.0)
        assert frame.image.dtype == np.uint8 and frame.image.shape == (1040, 1024)
        assert frame.exposure_us == cam.exposure_us and frame.truth is None and frame.lens_setting is None
        assert cam.capture().timestamp >= frame.timestamp
    optics = object()
    with BaslerCamera(EMU, optics=optics) as cam:
        assert cam.optics is optics


def test_unknown_serial_and_no_camera_are_clear_disconnect_errors(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CameraDisconnectedError, match=r"no Basler camera with serial 'nope' \(pylon sees: .*0815"):
        BaslerCamera("nope")
    monkeypatch.delenv("PYLON_CAMEMU")
    factory = emu.TlFactory.GetInstance()
    if len(factory.EnumerateDevices()) == 0:  # a machine with a real camera skips this half
        with pytest.raises(CameraDisconnectedError, match="no Basler camera found"):
            BaslerCamera()


def test_limits_are_read_from_the_device(emu: Any, raw_emu: Any) -> None:
    node = raw_emu.GetNodeMap().GetNode("ExposureTime")
    with BaslerCamera(EMU) as cam:
        lim = cam.exposure_limits
        assert (lim.low, lim.high, lim.unit) == (node.GetMin(), node.GetMax(), "µs") == (1.0, 1e7, "µs")
        assert lim.resolution == 1.0  # the emulation's whole-µs Raw × Base grid, coarser than its reported Inc 0.1
        cam.exposure_us = 1234.4
        assert cam.exposure_us == 1234.0 and cam.capture().exposure_us == 1234.0


def _node(value: float = 0.0, low: float = 0.0, high: float = 0.0, inc: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        GetMin=lambda: low,
        GetMax=lambda: high,
        GetValue=lambda: value,
        HasInc=lambda: inc is not None,
        GetInc=lambda: inc,
    )


def test_exposure_limits_follow_the_nodes_not_constants() -> None:
    lim = exposure_limits_from_nodes(_node(low=20.0, high=1e6, inc=5.0))
    assert (lim.low, lim.high, lim.resolution) == (20.0, 1e6, 5.0)
    assert exposure_limits_from_nodes(_node(low=16.0, high=3e5)).resolution == 0.0
    gige = exposure_limits_from_nodes(_node(low=35.0, high=1e6), raw=_node(inc=1), base=_node(value=35.0))
    assert (gige.low, gige.resolution) == (35.0, 35.0)


def test_auto_functions_are_off_while_driven_and_restored_on_close(emu: Any, raw_emu: Any) -> None:
    nodes = raw_emu.GetNodeMap()
    nodes.GetNode("ExposureAuto").SetValue("Continuous")
    nodes.GetNode("GainAuto").SetValue("Continuous")
    cam = BaslerCamera(instant_camera=raw_emu)
    assert nodes.GetNode("ExposureAuto").GetValue() == "Off" and nodes.GetNode("GainAuto").GetValue() == "Off"
    assert cam.get_feature("ExposureAuto") == "Off"
    cam.exposure_us = 5000
    cam.capture()
    with pytest.raises(SpecError, match="dasha keeps ExposureAuto = Off"):
        cam.set_feature("ExposureAuto", "Continuous")
    cam.close()
    assert raw_emu.IsOpen(), "a camera the caller opened stays open"
    assert nodes.GetNode("ExposureAuto").GetValue() == "Continuous"
    assert nodes.GetNode("GainAuto").GetValue() == "Continuous"


def test_roi_is_applied_on_the_device_increments(emu: Any) -> None:
    with BaslerCamera(EMU, roi=(8, 16, 64, 32)) as cam:
        assert cam.capture().image.shape == (32, 64)
        assert (cam.get_feature("OffsetX"), cam.get_feature("OffsetY")) == ("8", "16")
    with make_camera(f"basler:{EMU},roi=4:0:100:50") as cam:
        assert cam.capture().image.shape == (50, 100)
    for bad in [(0, 0, 5000, 100), (4000, 0, 200, 100), (-1, 0, 64, 64), (0, 0, 0, 64), (0, 0, 64.5, 64)]:
        with pytest.raises(SpecError, match="roi"):
            BaslerCamera(EMU, roi=bad)  # type: ignore[arg-type]
    for spec in ("basler:,roi=1:2:3", "basler:roi=a:b:c:d", "basler:x,y", "basler:roi=0:0:8:8,roi=0:0:8:8"):
        with pytest.raises(SpecError):
            make_camera(spec)


def test_roi_checks_widths_and_offsets_against_increments() -> None:
    width, height = (16, 2048, 16), (2, 1088, 2)
    assert check_roi((32, 4, 640, 480), width, height, (4, 2)) == (32, 4, 640, 480)
    with pytest.raises(SpecError, match=r"width 641 px is not on the camera's 16 px increment \(nearest: 640 px\)"):
        check_roi((0, 0, 641, 480), width, height)
    with pytest.raises(SpecError, match="offset 3 px"):
        check_roi((3, 0, 640, 480), width, height, (4, 2))
    with pytest.raises(SpecError, match="exceeds the sensor's 1088 px"):
        check_roi((0, 1000, 640, 100), width, height)
    with pytest.raises(SpecError, match="4 integers"):
        check_roi((0, 0, 640), width, height)  # type: ignore[arg-type]


def test_pfs_file_and_feature_overrides(emu: Any, raw_emu: Any, tmp_path: Path) -> None:
    nodes = raw_emu.GetNodeMap()
    nodes.GetNode("Gain").SetValue(3.0)
    nodes.GetNode("Width").SetValue(640)
    nodes.GetNode("ExposureAuto").SetValue("Continuous")
    nodes.GetNode("PixelFormat").SetValue("Mono12")
    pfs = tmp_path / "viewer.pfs"
    emu.FeaturePersistence.Save(str(pfs), nodes)
    raw_emu.Close()
    with BaslerCamera(EMU, pfs=pfs) as cam:
        assert float(cam.get_feature("Gain")) == pytest.approx(3.0, abs=1e-3)
        assert cam.capture().image.shape == (1040, 640)
        assert cam.get_feature("ExposureAuto") == "Off" and cam.get_feature("PixelFormat") == "Mono8"
    with make_camera(f"basler:{EMU},pfs={pfs},Gain=1.5,BlackLevel=4,roi=0:0:320:240") as cam:
        assert isinstance(cam, BaslerCamera)
        assert float(cam.get_feature("Gain")) == pytest.approx(1.5, abs=1e-3)
        assert float(cam.get_feature("BlackLevel")) == 4.0
        assert cam.capture().image.shape == (240, 320)
    garbage = tmp_path / "bad.pfs"
    garbage.write_text("not a feature file\n")
    for bad_pfs, fragment in [(garbage, "not a pylon .pfs"), (tmp_path / "missing.pfs", "does not exist")]:
        with pytest.raises(SpecError, match=fragment):
            BaslerCamera(EMU, pfs=bad_pfs)
    for features, fragment in [
        ({"NoSuchFeature": 1}, "no feature 'NoSuchFeature'"),
        ({"Gain": "abc"}, "Gain='abc'"),
        ({"Gain": 99.0}, "Gain='99.0'"),
        ({"PixelFormat": "Mono12"}, "dasha keeps PixelFormat = Mono8"),
        ({"SensorWidth": 100}, "not writable"),
    ]:
        with pytest.raises(SpecError, match=fragment):
            BaslerCamera(EMU, features=features)


def test_trigger_mode_without_a_trigger_times_out_within_the_timeout(emu: Any) -> None:
    features = {"TriggerSelector": "FrameStart", "TriggerMode": "On", "TriggerSource": "Software"}
    with BaslerCamera(EMU, features=features, timeout_s=0.3) as cam:
        for timeout_s in (0.25, None):  # an explicit time-out, then the camera's own (0.3 s + the exposure)
            t0 = time.monotonic()
            with pytest.raises(CameraTimeoutError, match="no frame within"):
                cam.capture(timeout_s=timeout_s)
            assert 0.2 <= time.monotonic() - t0 < 1.5
        cam.set_feature("TriggerMode", "Off")
        assert cam.capture(timeout_s=2.0).image.ndim == 2  # the camera recovers once frames can come


def test_device_destroyed_behind_the_wrappers_back_is_a_disconnect(emu: Any) -> None:
    cam = BaslerCamera(EMU)
    cam._camera.DestroyDevice()  # as if the cable was pulled and pylon dropped the device
    for call in (cam.capture, lambda: cam.exposure_us, lambda: setattr(cam, "exposure_us", 100.0)):
        with pytest.raises(CameraDisconnectedError, match="removed"):
            call()
    cam.close()  # releasing a removed camera is quiet
    assert cam.closed


class _Unplugged:
    """An InstantCamera whose device is removed mid-grab: RetrieveResult raises pylon's removal error."""

    def __init__(self, camera: Any) -> None:
        self._camera, self.removed = camera, False

    def RetrieveResult(self, *args: Any) -> Any:  # pylon's name
        from pypylon import genicam

        self.removed = True
        raise genicam.RuntimeException("Device has been removed from the PC")

    def IsCameraDeviceRemoved(self) -> bool:  # pylon's name
        return self.removed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._camera, name)


def test_device_removed_during_a_grab_is_a_disconnect_not_a_hang(emu: Any) -> None:
    cam = BaslerCamera(EMU)
    real = cam._camera
    cam._camera = _Unplugged(real)
    t0 = time.monotonic()
    with pytest.raises(CameraDisconnectedError, match="removed or stopped answering"):
        cam.capture(timeout_s=5.0)
    assert time.monotonic() - t0 < 2.0
    with pytest.raises(CameraDisconnectedError):
        _ = cam.exposure_us
    cam.close()
    assert not real.IsPylonDeviceAttached()


def test_missing_pypylon_is_a_one_line_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypylon", None)  # import pypylon → ImportError
    for make in (lambda: BaslerCamera(), lambda: make_camera("basler:1234,roi=0:0:64:64")):
        with pytest.raises(DependencyMissingError) as info:
            make()
        message = str(info.value)
        assert "\n" not in message and "pypylon" in message and "dasha[basler]" in message
        assert info.value.extra == "basler"
