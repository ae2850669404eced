"""Camera/Lens protocol behaviour: limits are enforced before anything reaches a device hook."""

from __future__ import annotations

import numpy as np
import pytest

from dasha.camera import (
    EXPOSURE_TABLE_US,
    Camera,
    CameraDisconnectedError,
    Frame,
    InvalidFrameError,
    Limits,
    MissingCalibrationError,
    OutOfRangeError,
    exposure_index,
)
from tests.contracts import RecordingLens


class SpyLens(RecordingLens):
    def __init__(self) -> None:
        super().__init__(Limits(24.0, 70.0, "V", resolution=0.001), 24.0)


class SpyCamera(Camera):
    def __init__(self, image: object = None) -> None:
        self.exposure_limits = Limits(24.0, 1_000_000.0, "µs", resolution=1.0)
        self.sent: list[float] = []
        self._lens = SpyLens()
        self.image = np.zeros((16, 16), np.uint8) if image is None else image

    @property
    def lens(self) -> SpyLens:
        return self._lens

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        return Frame(self.image, 1000.0, None, 0.0)  # type: ignore[arg-type]

    def _do_get_exposure(self) -> float:
        return self.sent[-1]

    def _do_set_exposure(self, exposure_us: float) -> None:
        self.sent.append(exposure_us)


def test_exposure_table_matches_the_papers_code() -> None:
    t = EXPOSURE_TABLE_US
    assert len(t) == 148
    assert list(t) == sorted(set(t))
    assert t[0] == 1_000 and t[43] == 44_000 and t[44] == 50_000 and t[-1] == 4_500_000
    assert 495_000 in t and 500_000 not in t and 600_000 in t and 850_000 in t and 900_000 not in t
    assert exposure_index(44_400) == 43 and exposure_index(1e9) == 147


@pytest.mark.parametrize("bad", [23.9, 1_000_001, float("nan"), float("inf"), -5, "100"])
def test_exposure_outside_limits_is_rejected_and_never_sent(bad: object) -> None:
    cam = SpyCamera()
    with pytest.raises(OutOfRangeError, match="exposure"):
        cam.exposure_us = bad  # type: ignore[assignment]
    assert cam.sent == []


def test_exposure_inside_limits_is_quantised_and_sent() -> None:
    cam = SpyCamera()
    cam.exposure_us = 1234.4
    assert cam.sent == [1234.0] and cam.exposure_us == 1234.0


@pytest.mark.parametrize("bad", [23.999, 70.001, float("nan")])
def test_lens_voltage_outside_limits_is_rejected_and_never_sent(bad: float) -> None:
    lens = SpyLens()
    with pytest.raises(OutOfRangeError, match="lens voltage"):
        lens.voltage = bad
    assert lens.sent == []
    lens.voltage = 47.12345
    assert lens.sent == [47.123]


def test_lens_without_curve_refuses_diopters() -> None:
    lens = SpyLens()
    with pytest.raises(MissingCalibrationError, match="calibration curve"):
        lens.diopters = 1.0
    with pytest.raises(MissingCalibrationError, match="calibration curve"):
        _ = lens.power_d
    assert getattr(lens, "curve", None) is None and lens.sent == []


@pytest.mark.parametrize(
    "image", [np.zeros((16, 16), np.float32), np.zeros((16, 16, 3), np.uint8), np.zeros((4, 4), np.uint8), None]
)
def test_invalid_frames_raise(image: object) -> None:
    cam = SpyCamera(image if image is not None else "not an image")
    with pytest.raises(InvalidFrameError):
        cam.capture()


def test_close_is_idempotent_closes_lens_and_blocks_use() -> None:
    with SpyCamera() as cam:
        cam.capture()
    cam.close()
    assert cam.lens.closed_calls == 1
    with pytest.raises(CameraDisconnectedError):
        cam.capture()
    with pytest.raises(CameraDisconnectedError):
        cam.lens.voltage = 30.0
