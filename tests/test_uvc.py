"""The UVC backend against a fake at the V4L2 boundary (``tests/fake_v4l2.py``: uvcvideo's rules, a frame stream
with latency), the OpenCV frame path on a real video file, the linuxpy adapter, and the ``opencv:`` SPEC."""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dasha.camera import (
    LENS_UNITS,
    CameraDisconnectedError,
    CameraError,
    CameraTimeoutError,
    ConfigError,
    DependencyMissingError,
    LensUnitError,
    SpecError,
    make_camera,
)
from dasha.camera.uvc import LinearStepCurve, OpenCvFrames, UvcCamera, UvcFocusLens, to_mono8
from dasha.camera.v4l2 import LinuxpyControls
from tests.contracts import CameraContract, LensContract
from tests.fake_v4l2 import FakeFrames, FakeV4l2, webcam_controls


def _camera(fake: FakeV4l2 | None = None, **kwargs: Any) -> tuple[UvcCamera, FakeV4l2, FakeFrames]:
    fake = fake or FakeV4l2()
    frames = FakeFrames(fake)
    cam = UvcCamera(0, controls=fake, frames=frames, lens_settle_s=0.0, **kwargs)
    return cam, fake, frames


class TestUvcCameraContract(CameraContract):
    def make_camera(self) -> UvcCamera:
        return _camera()[0]


class TestUvcCameraLenientKernelContract(CameraContract):
    def make_camera(self) -> UvcCamera:
        return _camera(FakeV4l2(auto_write="ignore"))[0]


class TestUvcFixedFocusCameraContract(CameraContract):
    def make_camera(self) -> UvcCamera:
        return _camera(FakeV4l2(webcam_controls(focus=None)))[0]


class TestUvcFocusLensContract(LensContract):
    def make_lens(self) -> UvcFocusLens:
        lens = _camera()[0].lens
        assert lens is not None
        return lens


class TestUvcFocusLensOddRangeContract(LensContract):
    def make_lens(self) -> UvcFocusLens:
        fake = FakeV4l2(webcam_controls(focus=(0, 1023, 1, 512)))
        lens = _camera(fake, focus_curve=LinearStepCurve(0, 1023, low_dpt=8.0, high_dpt=-1.0))[0].lens
        assert lens is not None
        return lens


# -- the fake enforces V4L2's rules ----------------------------------------------------------------------------------
def test_the_fake_rejects_or_ignores_absolute_values_while_auto_is_on() -> None:
    strict = FakeV4l2()
    assert strict.query("exposure_time_absolute").inactive and strict.query("focus_absolute").inactive
    for name in ("exposure_time_absolute", "focus_absolute"):
        with pytest.raises(OSError) as info:
            strict.set(name, 100)
        assert info.value.errno == errno.EACCES
    lenient = FakeV4l2(auto_write="ignore")
    lenient.set("exposure_time_absolute", 100)
    assert lenient.get("exposure_time_absolute") == 156  # what the camera's own auto exposure chose
    lenient.set("auto_exposure", 1)
    assert lenient.get("exposure_time_absolute") == 250  # the 100 was dropped, not stored
    assert lenient.log == [("exposure_time_absolute", 100, "ignored"), ("auto_exposure", 1, "ok")]


def test_the_fake_rounds_clamps_and_checks_menus_as_uvcvideo_does() -> None:
    fake = FakeV4l2()
    fake.set("auto_exposure", 1)
    fake.set("focus_automatic_continuous", 7)  # booleans clamp
    assert fake.get("focus_automatic_continuous") == 1
    fake.set("focus_automatic_continuous", 0)
    fake.set("focus_absolute", 12)
    assert fake.get("focus_absolute") == 10  # rounded to min + k·step
    fake.set("exposure_time_absolute", 99_999)
    assert fake.get("exposure_time_absolute") == 2047  # clamped, no error
    for value, code in ((7, errno.ERANGE), (2, errno.EINVAL)):  # outside the menu range; a hole in the menu
        with pytest.raises(OSError) as info:
            fake.set("auto_exposure", value)
        assert info.value.errno == code
    with pytest.raises(OSError) as info:
        fake.get("zoom_absolute")
    assert info.value.errno == errno.EINVAL


# -- auto modes first, restored on close ---------------------------------------------------------------------------
@pytest.mark.parametrize("auto_write", ["eacces", "ignore"])
def test_auto_modes_go_off_before_any_absolute_write_and_come_back_on_close(auto_write: str) -> None:
    cam, fake, _ = _camera(FakeV4l2(auto_write=auto_write))
    cam.exposure_us = 5_000
    assert cam.lens is not None
    cam.lens.setting = 120
    assert fake.writes("EACCES") == [] and fake.writes("ignored") == []
    ok = fake.writes()
    assert ok[:2] == [("auto_exposure", 1), ("focus_automatic_continuous", 0)]
    assert ("exposure_time_absolute", 50) in ok and ("focus_absolute", 120) in ok
    assert cam.exposure_us == 5_000 and cam.lens.setting == 120 and cam.capture().exposure_us == 5_000
    assert not fake.query("exposure_time_absolute").inactive and not fake.query("focus_absolute").inactive
    cam.close()
    assert fake.controls["auto_exposure"].value == 3 and fake.controls["focus_automatic_continuous"].value == 1
    assert fake.closed and fake.writes()[-2:] == [("focus_automatic_continuous", 1), ("auto_exposure", 3)]


def test_older_focus_auto_name_and_a_camera_in_full_auto() -> None:
    fake = FakeV4l2(webcam_controls(focus_auto_name="focus_auto", menu={0: "Auto Mode", 1: "Manual Mode"}))
    fake.controls["auto_exposure"].value = 0
    cam, _, _ = _camera(fake)
    assert fake.writes()[:2] == [("auto_exposure", 1), ("focus_auto", 0)]
    cam.close()
    assert fake.controls["focus_auto"].value == 1 and fake.controls["auto_exposure"].value == 0


def test_a_camera_without_manual_exposure_or_exposure_control_is_refused() -> None:
    no_manual = FakeV4l2(webcam_controls(menu={0: "Auto Mode", 3: "Aperture Priority Mode"}))
    with pytest.raises(CameraError, match="no manual mode"):
        _camera(no_manual)
    no_exposure = FakeV4l2(webcam_controls(exposure=None))
    with pytest.raises(CameraError, match="no V4L2 control 'exposure_time_absolute'"):
        _camera(no_exposure)
    assert no_exposure.closed and no_exposure.controls["auto_exposure"].value == 3  # released and restored


# -- limits, lens, frames ------------------------------------------------------------------------------------------
def test_limits_come_from_the_controls_in_microseconds_and_steps() -> None:
    cam, _, _ = _camera(FakeV4l2(webcam_controls(exposure=(1, 5000, 2, 100), focus=(0, 40, 1, 0))))
    lim = cam.exposure_limits
    assert (lim.low, lim.high, lim.resolution, lim.unit) == (100.0, 500_000.0, 200.0, "µs")
    assert cam.lens is not None and "step" in LENS_UNITS
    assert (cam.lens.limits.low, cam.lens.limits.high, cam.lens.limits.resolution, cam.lens.unit) == (0, 40, 1, "step")
    assert cam.lens.power_range_d == (0.0, 10.0)  # the documented default curve: 0 dpt far end, 10 dpt near end
    with pytest.raises(LensUnitError, match="step"):
        cam.lens.set_voltage(10)
    with pytest.raises(ConfigError, match="two distinct points"):
        LinearStepCurve(0, 0)


def test_frames_are_mono8_and_stale_frames_are_discarded_after_a_change() -> None:
    cam, _, frames = _camera()
    frame = cam.capture()
    assert frame.image.shape == (48, 64) and frame.image.dtype == np.uint8
    assert frame.lens_unit == "step" and frame.lens_setting == 0 and frame.lens_v is None
    cam.exposure_us = 20_000
    assert cam.capture().exposure_us == 20_000 and frames.served[-1][0] == 200
    cam.lens.setting = 100  # type: ignore[union-attr]
    assert cam.capture().lens_setting == 100 and frames.served[-1] == (200, 100)
    eager, _, eager_frames = _camera(settle_frames=0)
    eager.capture()
    eager.exposure_us = 20_000
    eager.capture()
    assert eager_frames.served[-1][0] != 200, "without discarding, the frame was exposed with the old setting"


def test_capture_times_out_and_an_unplugged_camera_is_a_disconnect() -> None:
    cam, fake, frames = _camera()
    frames.stalled = True
    t0 = time.monotonic()
    with pytest.raises(CameraTimeoutError):
        cam.capture(timeout_s=0.2)
    assert time.monotonic() - t0 < 1.0
    frames.stalled = False
    fake.unplug()
    with pytest.raises(CameraDisconnectedError, match="gone"):
        cam.exposure_us = 1_000
    with pytest.raises(CameraDisconnectedError):
        cam.capture()
    assert cam.lens is not None
    with pytest.raises(CameraDisconnectedError):
        _ = cam.lens.setting
    cam.close()  # nothing left to restore on a camera that is gone: quiet
    assert cam.closed and frames.closed


def test_opencv_frames_from_a_video_file_become_mono8(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), (40 * i, 100, 200), np.uint8))
    writer.release()
    frames = OpenCvFrames(str(path))
    image = frames.read(5.0)
    assert image.shape == (48, 64, 3) and to_mono8(image).shape == (48, 64)
    for _ in range(2):
        frames.read(5.0)
    with pytest.raises(CameraDisconnectedError, match="ended"):
        frames.read(5.0)
    frames.close()
    with pytest.raises(CameraDisconnectedError, match="cannot open"):
        OpenCvFrames(str(tmp_path / "missing.avi"))
    assert to_mono8(np.full((8, 8, 4), 255, np.uint8)).max() == 255
    assert to_mono8(np.full((8, 8), 65535, np.uint16)).dtype == np.uint8


# -- the linuxpy adapter, the SPEC, the missing extra ----------------------------------------------------------------
def test_linuxpy_controls_adapter_over_a_stub_device(monkeypatch: pytest.MonkeyPatch) -> None:
    device_module = pytest.importorskip("linuxpy.video.device")

    class Ctl(SimpleNamespace):
        pass

    menu = Ctl(config_name="auto_exposure", id=1, type=SimpleNamespace(name="MENU"), minimum=0, maximum=3, step=1,
               default=3, value=3, flags=0, data={1: "Manual Mode", 3: "Aperture Priority Mode"})  # fmt: skip
    exposure = Ctl(config_name="exposure_time_absolute", id=2, type=SimpleNamespace(name="INTEGER"), minimum=3,
                   maximum=2047, step=1, default=250, value=250, flags=0x10)  # fmt: skip

    class StubDevice:
        def __init__(self, path: str) -> None:
            self.controls = _Controls({"auto_exposure": menu, "exposure_time_absolute": exposure})
            self.opened = self.closed = False

        def open(self) -> None:
            self.opened = True

        def close(self) -> None:
            self.closed = True

    class _Controls(dict):  # linuxpy's Controls: a dict whose values are the controls
        pass

    monkeypatch.setattr(device_module, "Device", StubDevice)
    ctrls = LinuxpyControls("/dev/video7")
    assert ctrls.names() == ["auto_exposure", "exposure_time_absolute"] and ctrls.has("auto_exposure")
    info = ctrls.query("exposure_time_absolute")
    assert (info.kind, info.minimum, info.maximum, info.step, info.default, info.inactive) == (
        "integer", 3, 2047, 1, 250, True)  # fmt: skip
    assert ctrls.query("auto_exposure").menu == {1: "Manual Mode", 3: "Aperture Priority Mode"}
    ctrls.set("auto_exposure", 1)
    assert ctrls.get("auto_exposure") == 1
    with pytest.raises(OSError) as err:
        ctrls.get("zoom_absolute")
    assert err.value.errno == errno.EINVAL
    ctrls.close()


def test_opencv_spec_opens_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Any] = []

    def controls(path: str) -> FakeV4l2:
        opened.append(path)
        return FakeV4l2()

    monkeypatch.setattr("dasha.camera.uvc.LinuxpyControls", controls)
    monkeypatch.setattr("dasha.camera.uvc.OpenCvFrames", lambda source: opened.append(source) or FakeFrames(FakeV4l2()))
    for spec, path, source in (("opencv:2", "/dev/video2", 2), ("opencv:/dev/video3", "/dev/video3", 3)):
        with make_camera(spec) as cam:
            assert isinstance(cam, UvcCamera) and cam.path == path and cam.spec == spec
        assert opened[-2:] == [path, source]
    for bad in ("opencv", "opencv:abc", "opencv:0,exposure=3", "opencv:-1"):
        with pytest.raises(SpecError, match=r"opencv|index"):
            make_camera(bad)


def test_missing_linuxpy_is_a_one_line_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "linuxpy" or m.startswith("linuxpy.")] + ["linuxpy"]:
        monkeypatch.setitem(sys.modules, name, None)
    for make in (lambda: UvcCamera(0), lambda: make_camera("opencv:0")):
        with pytest.raises(DependencyMissingError) as info:
            make()
        assert "\n" not in str(info.value) and "linuxpy" in str(info.value) and "dasha[uvc]" in str(info.value)
        assert info.value.extra == "uvc"


def test_a_missing_device_is_a_disconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("linuxpy.video.device")
    with pytest.raises(CameraDisconnectedError, match="/dev/video97"):
        UvcCamera("/dev/video97")
