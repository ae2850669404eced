"""Device contract tests, python-microscope style: mixins that any camera or lens backend must pass.

A concrete test class mixes one in and provides the factory (``make_camera()`` → a fresh, open
:class:`~dasha.camera.Camera`; ``make_lens()`` → a fresh, open :class:`~dasha.camera.Lens`); every test method
builds its own device, so the tests are independent. ``tests/test_contracts.py`` runs them against every backend
in the repository; a hardware backend adds one class there.

The contract: commands outside the limits raise OutOfRangeError and are never sent (the setting is unchanged),
commands inside are quantised to the resolution and read back, frames are uint8 2-D and record their exposure (µs)
and lens setting (with its unit), ``capture(timeout_s=…)`` is accepted, a closed device raises
CameraDisconnectedError, ``close()`` is idempotent, the context manager closes, and every lens reports a monotone
curve (its unit → dpt) that ``power_d`` follows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dasha.camera import (
    LENS_UNITS,
    Camera,
    CameraDisconnectedError,
    Frame,
    Lens,
    LensCurve,
    LensUnitError,
    Limits,
    OutOfRangeError,
)


def _outside(low: float, high: float, resolution: float) -> list[float]:
    """Values just outside ``[low, high]`` (beyond one resolution step and 1 % of the span), NaN and ±inf."""
    step = max(resolution, 0.01 * (high - low), 1e-6)
    return [low - step, high + step, math.nan, math.inf, -math.inf]


def _inside(low: float, high: float, fraction: float) -> float:
    return low + fraction * (high - low)


class RecordingLens(Lens):
    """A lens that records every setting it is sent (``sent``) and counts ``close`` calls; ``rest``: its setting
    before the first command."""

    def __init__(self, limits: Limits, rest: float, curve: LensCurve | None = None) -> None:
        self.limits = limits
        self.settle_time_s = 0.0
        self.sent: list[float] = []
        self.closed_calls = 0
        self._rest = rest
        if curve is not None:
            self.curve = curve

    def _do_set_setting(self, value: float) -> None:
        self.sent.append(value)

    def _do_get_setting(self) -> float:
        return self.sent[-1] if self.sent else self._rest

    def _do_close(self) -> None:
        self.closed_calls += 1


class LensContract:
    """What every focus lens must do, whatever its unit (V, mA or dpt)."""

    def make_lens(self) -> Lens:
        raise NotImplementedError

    def test_unit_is_the_limits_unit_and_known(self) -> None:
        lens = self.make_lens()
        assert lens.unit in LENS_UNITS
        assert lens.limits.unit == lens.unit
        assert lens.limits.low < lens.limits.high

    def test_out_of_range_commands_raise_and_are_not_sent(self) -> None:
        lens = self.make_lens()
        lim = lens.limits
        before = lens.setting
        for bad in [*_outside(lim.low, lim.high, lim.resolution), "1"]:
            with pytest.raises(OutOfRangeError):
                lens.set_setting(bad)  # type: ignore[arg-type]
            with pytest.raises(OutOfRangeError):
                lens.setting = bad  # type: ignore[assignment]
            assert lens.setting == before

    def test_commands_are_quantised_and_read_back(self) -> None:
        lens = self.make_lens()
        lim = lens.limits
        for fraction in (0.0, 0.37, 0.81, 1.0):
            value = _inside(lim.low, lim.high, fraction)
            nudged = min(value + 0.4 * lim.resolution, lim.high)
            sent = lens.set_setting(nudged)
            assert sent == lim.check(nudged, "setting")
            assert lim.low <= sent <= lim.high
            if lim.resolution > 0:
                steps = sent / lim.resolution
                assert abs(steps - round(steps)) < 1e-6 or sent in (lim.low, lim.high)
            assert lens.setting == pytest.approx(sent, abs=1e-9)
        lens.setting = lim.low
        assert lens.setting == pytest.approx(lim.low, abs=1e-9)
        assert lens.set_setting(lim.high, wait=False) == pytest.approx(lim.high)

    def test_curve_is_present_in_the_lens_unit_and_monotone(self) -> None:
        lens = self.make_lens()
        curve = lens.curve
        assert isinstance(curve, LensCurve)
        assert curve.unit == lens.unit
        settings = np.linspace(lens.limits.low, lens.limits.high, 64)
        powers = np.asarray([float(curve.power(float(s))) for s in settings])
        assert np.all(np.isfinite(powers))
        steps = np.diff(powers)
        assert np.all(steps > 0) or np.all(steps < 0), "lens curve is not strictly monotone over the limits"
        mid = float(np.median(powers))
        back = curve.drive(mid)
        assert float(curve.power(back)) == pytest.approx(mid, abs=1e-6)

    def test_power_follows_the_curve(self) -> None:
        lens = self.make_lens()
        lim = lens.limits
        for fraction in (0.0, 0.5, 1.0):
            sent = lens.set_setting(_inside(lim.low, lim.high, fraction))
            assert lens.power_d == pytest.approx(float(lens.curve.power(sent)))
            assert lens.diopters == pytest.approx(lens.power_d)
        lo, hi = lens.power_range_d
        target = 0.5 * (lo + hi)
        sent = lens.set_power_d(target)
        step = max(lim.resolution, 1e-6)
        slope = abs(float(lens.curve.power(min(sent + step, lim.high))) - float(lens.curve.power(sent))) / step
        assert lens.power_d == pytest.approx(target, abs=slope * max(lim.resolution, 1e-9) + 1e-6)
        before = lens.setting
        for bad in (lo - 1.0, hi + 1.0, math.nan):
            with pytest.raises(OutOfRangeError):
                lens.diopters = bad
        assert lens.setting == before

    def test_voltage_view_only_for_volt_lenses(self) -> None:
        lens = self.make_lens()
        lim = lens.limits
        if lens.unit == "V":
            v = lens.set_voltage(_inside(lim.low, lim.high, 0.5))
            assert lens.voltage == pytest.approx(v) and lens.setting == pytest.approx(v)
            lens.voltage = lim.high
            assert lens.setting == pytest.approx(lim.high)
            return
        before = lens.setting
        with pytest.raises(LensUnitError, match=lens.unit):
            _ = lens.voltage
        with pytest.raises(OutOfRangeError):
            lens.set_voltage(_inside(lim.low, lim.high, 0.5))
        with pytest.raises(TypeError):
            lens.voltage = _inside(lim.low, lim.high, 0.5)
        assert lens.setting == before

    def test_closed_lens_raises_and_close_is_idempotent(self) -> None:
        lens = self.make_lens()
        assert not lens.closed
        lens.close()
        lens.close()
        assert lens.closed
        with pytest.raises(CameraDisconnectedError):
            _ = lens.setting
        with pytest.raises(CameraDisconnectedError):
            lens.set_setting(lens.limits.low)
        with pytest.raises(CameraDisconnectedError):
            _ = lens.power_d

    def test_context_manager_closes(self) -> None:
        with self.make_lens() as lens:
            _ = lens.setting
        assert lens.closed


class CameraContract:
    """What every camera must do (with or without a lens)."""

    def make_camera(self) -> Camera:
        raise NotImplementedError

    def test_exposure_out_of_range_raises_and_is_not_sent(self) -> None:
        cam = self.make_camera()
        lim = cam.exposure_limits
        assert lim.unit == "µs" and 0 < lim.low <= lim.high
        before = cam.exposure_us
        for bad in [*_outside(lim.low, lim.high, lim.resolution), "1000"]:
            with pytest.raises(OutOfRangeError, match="exposure"):
                cam.exposure_us = bad  # type: ignore[assignment]
            assert cam.exposure_us == before

    def test_exposure_is_quantised_and_read_back(self) -> None:
        cam = self.make_camera()
        lim = cam.exposure_limits
        for value in (lim.low, math.sqrt(lim.low * lim.high) + 0.4 * lim.resolution, lim.high):
            cam.exposure_us = value
            assert cam.exposure_us == pytest.approx(lim.check(value, "exposure"))

    def test_frames_are_mono8_and_record_exposure_and_lens(self) -> None:
        cam = self.make_camera()
        cam.exposure_us = cam.exposure_limits.low
        lens = cam.lens
        if lens is not None:
            lens.set_setting(lens.limits.high)
        frame = cam.capture()
        assert isinstance(frame, Frame)
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 2
        assert frame.exposure_us == pytest.approx(cam.exposure_limits.low)
        assert math.isfinite(frame.timestamp)
        if lens is None:
            assert frame.lens_setting is None and frame.lens_unit is None and frame.lens_v is None
            return
        assert frame.lens_unit == lens.unit
        assert frame.lens_setting == pytest.approx(lens.setting)
        if lens.unit == "V":
            assert frame.lens_v == pytest.approx(frame.lens_setting)
        else:
            assert frame.lens_v is None

    def test_capture_accepts_a_timeout(self) -> None:
        cam = self.make_camera()
        cam.exposure_us = cam.exposure_limits.low
        assert cam.capture(timeout_s=5.0).image.ndim == 2
        assert cam.capture(5).image.ndim == 2
        assert cam.capture().image.ndim == 2
        for bad in (0, -1.0, math.nan, "1"):
            with pytest.raises(OutOfRangeError, match="timeout"):
                cam.capture(timeout_s=bad)  # type: ignore[arg-type]

    def test_lens_if_any_has_a_curve(self) -> None:
        cam = self.make_camera()
        if cam.lens is not None:
            assert isinstance(cam.lens.curve, LensCurve) and cam.lens.curve.unit == cam.lens.unit

    def test_closed_camera_raises_and_close_is_idempotent(self) -> None:
        cam = self.make_camera()
        lens = cam.lens
        assert not cam.closed
        cam.close()
        cam.close()
        assert cam.closed
        with pytest.raises(CameraDisconnectedError):
            cam.capture()
        with pytest.raises(CameraDisconnectedError):
            _ = cam.exposure_us
        with pytest.raises(CameraDisconnectedError):
            cam.exposure_us = cam.exposure_limits.low
        if lens is not None:
            assert lens.closed
            with pytest.raises(CameraDisconnectedError):
                lens.set_setting(lens.limits.low)

    def test_context_manager_closes(self) -> None:
        with self.make_camera() as cam:
            cam.capture()
        assert cam.closed
        assert cam.lens is None or cam.lens.closed
