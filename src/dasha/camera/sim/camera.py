"""The simulated camera: scene → optics (thin lens + liquid lens, disc PSF) → EMVA sensor → Mono8.

A digital twin of the paper's rig (Basler acA2000-50gm + 16 mm lens + Varioptic liquid lens) on a region of
interest at native 5.5 µm pixels. It runs on a virtual clock: a capture advances it by the frame time
``max(exposure, 20 ms)`` (50 fps), a lens command with ``wait=True`` by the lens settle time. Lens motion follows a
damped second-order step response, so a frame grabbed before the lens settled is focused in between.
All randomness (sensor noise, vibration) comes from one seeded generator: same seed and calls → same frames.

Example:
    >>> from dasha.camera.sim import SimCamera, Scene
    >>> cam = SimCamera(Scene.from_names("astronaut", "brick", object_distance_m=1.5), lux=100, seed=0)
    >>> cam.exposure_us = 20_000
    >>> cam.lens.voltage = cam.capture().truth.in_focus_v
    >>> frame = cam.capture()
    >>> frame.truth.blur_px < 2
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from dasha.camera.base import Camera, Frame, Lens, LensCurve, Limits, Truth
from dasha.camera.calibration import VARIOPTIC_LIMITS, Optics, VariopticCurve
from dasha.camera.errors import SpecError
from dasha.camera.sim.conditions import Conditions
from dasha.camera.sim.light import ConstantLight, LightSchedule
from dasha.camera.sim.optics import PyramidBlur
from dasha.camera.sim.scene import Scene
from dasha.camera.sim.sensor import SensorModel

#: Simulated exposure limits (µs): the CMV2000 minimum of 24 µs up to 10 s, so the paper's whole table
#: (up to 4.5 s) is valid. A real acA2000-50gm stops at 1 s; its driver reads the limits from the device.
SIM_EXPOSURE_LIMITS = Limits(24.0, 10_000_000.0, "µs", resolution=1.0)


@dataclass
class SimClock:
    """Virtual time shared by the simulated camera and lens (s)."""

    t: float = 0.0


@dataclass(frozen=True, slots=True)
class LensDynamics:
    """Damped second-order step response of the liquid lens (Berge 2000: ~30 ms response).

    Attributes:
        settle_time_s: 2 % settling time (s); the natural frequency follows as ω = 4/(ζ·t_s).
        damping: damping ratio ζ (< 1: the meniscus rings slightly).
    """

    settle_time_s: float = 0.04
    damping: float = 0.6

    def fraction(self, dt_s: float) -> float:
        """Fraction of a commanded power step reached ``dt_s`` seconds after the command."""
        if dt_s <= 0:
            return 0.0
        if dt_s >= 10 * self.settle_time_s:
            return 1.0
        z = self.damping
        wn = 4.0 / (z * self.settle_time_s)
        wd = wn * math.sqrt(1.0 - z * z)
        return 1.0 - math.exp(-z * wn * dt_s) * (math.cos(wd * dt_s) + z / math.sqrt(1 - z * z) * math.sin(wd * dt_s))

    def time_to_settle(self, step_d: float, tolerance_d: float) -> float:
        """Time (s) after which a step of ``step_d`` dpt stays within ``tolerance_d`` dpt (envelope bound)."""
        z = self.damping
        bound = abs(step_d) / math.sqrt(1.0 - z * z)
        if bound <= tolerance_d:
            return 0.0
        return math.log(bound / tolerance_d) / (z * 4.0 / (z * self.settle_time_s))


class SimLens(Lens):
    """Simulated Varioptic liquid lens: 24–70 V at 1 mV, :class:`VariopticCurve` (V → dpt), second-order settling.

    Args:
        clock: virtual clock shared with the camera (s); a lens of its own gets a fresh one.
        curve: drive voltage (V) → added optical power (dpt); default :class:`VariopticCurve`.
        dynamics: step response of the optical power.
        voltage_v: initial drive voltage (V), settled; default the low end of ``limits``.
        limits: drive limits in V, inside the Varioptic 24–70 V range (e.g. a narrower driver,
            ``Limits(30, 60, "V", 0.001)``); default :data:`VARIOPTIC_LIMITS`.
    """

    def __init__(
        self,
        clock: SimClock | None = None,
        curve: LensCurve | None = None,
        dynamics: LensDynamics | None = None,
        voltage_v: float | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.limits = _lens_limits(limits)
        self.curve = curve or VariopticCurve()
        if self.curve.unit != "V":
            raise SpecError(f"a simulated lens is driven in V; its curve maps {self.curve.unit}")
        self.dynamics = dynamics or LensDynamics()
        self.settle_time_s = self.dynamics.settle_time_s + 0.01
        self.settle_tolerance_d = 0.005
        """Residual power error (dpt) that counts as settled (≈0.08 px of blur at f/2.8)."""
        self._clock = clock if clock is not None else SimClock()
        v = self.limits.check(self.limits.low if voltage_v is None else voltage_v, "initial lens voltage")
        self._v = v
        p = float(self.curve.power(v))
        self._step = (-math.inf, p, p)  # (t_command, power_from, power_to)

    @property
    def clock(self) -> SimClock:
        """The virtual clock this lens settles on (s)."""
        return self._clock

    def snap(self, voltage_v: float) -> None:
        """Put the lens at ``voltage_v`` (V), already settled (episode starts; no dynamics, no clock)."""
        v = self.limits.check(voltage_v, "lens voltage")
        self._v = v
        p = float(self.curve.power(v))
        self._step = (-math.inf, p, p)

    def power_at(self, t_s: float) -> float:
        """Optical power (dpt) at virtual time ``t_s``, following the step response."""
        t_cmd, p_from, p_to = self._step
        return p_from + (p_to - p_from) * self.dynamics.fraction(t_s - t_cmd)

    def _do_set_setting(self, value: float) -> None:
        now = self._clock.t
        self._step = (now, self.power_at(now), float(self.curve.power(value)))
        self._v = value

    def _do_get_setting(self) -> float:
        return self._v

    def _do_wait_settled(self) -> None:
        """Advance the virtual clock until the power is within ``settle_tolerance_d`` of the target.

        Large steps take longer than small ones, as on the real lens (a 20 dpt step ≈ 80 ms, 1 dpt ≈ 50 ms).
        """
        t_cmd, p_from, p_to = self._step
        needed = t_cmd + self.dynamics.time_to_settle(p_to - p_from, self.settle_tolerance_d)
        self._clock.t = max(self._clock.t, needed)


def _lens_limits(limits: Limits | None) -> Limits:
    """``limits`` checked for a simulated Varioptic lens: in V, inside 24–70 V, low < high."""
    if limits is None:
        return VARIOPTIC_LIMITS
    if not isinstance(limits, Limits) or limits.unit != "V":
        raise SpecError(f"simulated lens limits must be Limits in V, got {limits!r}")
    full = VARIOPTIC_LIMITS
    if not (full.low <= limits.low < limits.high <= full.high):
        raise SpecError(
            f"simulated lens limits [{limits.low:g}, {limits.high:g}] V must satisfy "
            f"{full.low:g} ≤ low < high ≤ {full.high:g} V (the Varioptic drive range)"
        )
    return limits


@dataclass
class _SceneRender:
    """Blur pyramids of one scene at one frame size."""

    objects: PyramidBlur  # channels: premultiplied object reflectance, coverage
    background: PyramidBlur
    object_box: tuple[int, int, int, int]


class SimCamera(Camera):
    """Physically based simulated camera with a liquid lens (see module docstring).

    Args:
        scene: what the camera looks at.
        size: frame size in native px, ``int`` (square) or ``(height, width)``.
        f_number: main-lens f-number N.
        lux: constant scene illuminance (lx); ignored when ``light`` is given.
        light: illuminance schedule on the virtual clock.
        exposure_us: initial exposure (µs).
        lens_v: initial liquid-lens voltage (V); default the low end of ``lens_limits``.
        seed: noise seed.
        sensor: EMVA 1288 sensor parameters.
        curve: liquid-lens voltage (V) → added optical power (dpt) curve.
        dynamics: liquid-lens step response.
        lens_limits: liquid-lens drive limits (V) inside 24–70 V, e.g. ``Limits(30, 60, "V", 0.001)``;
            default :data:`VARIOPTIC_LIMITS`.
        vibration_d: RMS frame-to-frame jitter of the object vergence (dpt), e.g. a vibrating mount.
        conditions: an extreme condition on the optical image (rain, dust, glare, motion blur: :mod:`.conditions`).
        frame_interval_s: minimum frame period (s); 0.02 = 50 fps.
    """

    def __init__(
        self,
        scene: Scene,
        *,
        size: int | tuple[int, int] = 256,
        f_number: float = 2.8,
        lux: float = 100.0,
        light: LightSchedule | None = None,
        exposure_us: float = 10_000.0,
        lens_v: float | None = None,
        seed: int = 0,
        sensor: SensorModel | None = None,
        curve: LensCurve | None = None,
        dynamics: LensDynamics | None = None,
        vibration_d: float = 0.0,
        conditions: Conditions | None = None,
        frame_interval_s: float = 0.02,
        spec: str = "sim",
        lens_limits: Limits | None = None,
    ) -> None:
        self.exposure_limits = SIM_EXPOSURE_LIMITS
        self.spec = spec
        h, w = (size, size) if isinstance(size, int) else size
        if not (16 <= h <= 4096 and 16 <= w <= 4096):
            raise SpecError(f"frame size must be 16–4096 px per side, got {h}×{w}")
        self.size = (int(h), int(w))
        self.sensor = sensor or SensorModel()
        self.clock = SimClock()
        self._lens = SimLens(self.clock, curve, dynamics, lens_v, limits=lens_limits)
        self._exposure_us = self.exposure_limits.check(exposure_us, "initial exposure")
        self.vibration_d = float(vibration_d)
        self.conditions = conditions or Conditions()
        """Rain, dust, glare or motion blur on the optical image (:mod:`dasha.camera.sim.conditions`)."""
        self.frame_interval_s = float(frame_interval_s)
        self.set_f_number(f_number)
        self.light: LightSchedule = light if light is not None else _constant(lux)
        self.reseed(seed)
        self._render: _SceneRender | None = None
        self._in_focus_cache: tuple[object, float] = (None, math.nan)
        self.set_scene(scene)

    # -- configuration ---------------------------------------------------------------------------
    @property
    def lens(self) -> SimLens:
        """The simulated liquid lens."""
        return self._lens

    @property
    def scene(self) -> Scene:
        """The current scene."""
        return self._scene

    def set_object_distance(self, distance_m: float) -> None:
        """Move the object to ``distance_m`` (m, ≥ 0.2 or inf), the background to twice as far (a calibration
        target, ``dasha calibrate``)."""
        moved = dataclasses.replace(self._scene, object_distance_m=float(distance_m), background_distance_m=None)
        self.set_scene(moved)

    def set_scene(self, scene: Scene) -> None:
        """Show a new scene (the blur pyramids are rebuilt lazily on the next capture)."""
        self._scene = scene
        self._render = None

    def set_f_number(self, f_number: float) -> None:
        """Change the aperture (f-number, 1.4–22)."""
        if not (isinstance(f_number, int | float) and 1.4 <= f_number <= 22):
            raise SpecError(f"f-number must be in [1.4, 22], got {f_number!r}")
        self.optics = Optics(f_number=float(f_number))

    def set_lux(self, lux: float) -> None:
        """Switch to a constant illuminance (lx)."""
        self.light = _constant(lux)

    def restart(self, seed: int, exposure_us: float, lens_v: float) -> None:
        """Start afresh (an episode): clock at 0, noise from ``seed``, settled lens, new exposure."""
        self.clock.t = 0.0
        self.reseed(seed)
        self.exposure_us = exposure_us
        self._lens.snap(lens_v)

    def reseed(self, seed: int) -> None:
        """Restart the noise generator from ``seed``."""
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)

    # -- physics ---------------------------------------------------------------------------------
    def _scene_render(self) -> _SceneRender:
        if self._render is None:
            layers = self._scene.layers(*self.size)
            stack = np.dstack([layers.object_premultiplied, layers.alpha])
            self._render = _SceneRender(PyramidBlur(stack), PyramidBlur(layers.background), layers.object_box)
        return self._render

    def in_focus_voltage(self) -> float:
        """Lens voltage (V) that focuses the current object; NaN if outside the lens range."""
        key = (id(self._scene), self.optics)
        if self._in_focus_cache[0] != key:
            curve = self._lens.curve
            p = self.optics.in_focus_power(self._scene.object_vergence_d)
            inside = curve.power(self._lens.limits.low) <= p <= curve.power(self._lens.limits.high)
            self._in_focus_cache = (key, self._lens.limits.clip(curve.drive(p)) if inside else math.nan)
        return self._in_focus_cache[1]

    def render(self, lens_power_d: float | None = None, lux: float | None = None, noise: bool = True) -> Frame:
        """Render a frame at the current settings without advancing the clock (tests, ground truth).

        Args:
            lens_power_d: liquid-lens power (dpt); default: the settled power of the current voltage.
            lux: illuminance (lx); default: the schedule at the current time.
            noise: False renders the noise-free mean image.
        """
        p = float(self._lens.curve.power(self._lens.voltage)) if lens_power_d is None else lens_power_d
        lx = self.light.lux_at(self.clock.t) if lux is None else lux
        return self._expose(p, lx, 0.0, self._rng if noise else None)

    def reflectance(self, lens_power_d: float, jitter_d: float = 0.0) -> tuple[np.ndarray, float, float]:
        """Optical image on the sensor as reflectance (float32 H×W), before the sensor model.

        The object layer and its coverage are blurred by the object's disc PSF, the background by its own
        (depth-dependent) disc, then composited: ``obj ⊛ psf_o + (1 − α ⊛ psf_o)·(bg ⊛ psf_b)``.

        Returns:
            ``(reflectance, object_blur_px, background_blur_px)``.
        """
        r = self._scene_render()
        optics, scene = self.optics, self._scene
        c_obj = optics.blur_px(scene.object_vergence_d + jitter_d, lens_power_d)
        c_bg = optics.blur_px(scene.background_vergence_d + jitter_d, lens_power_d)
        obj = r.objects.at(c_obj)
        return obj[..., 0] + (1.0 - obj[..., 1]) * r.background.at(c_bg), c_obj, c_bg

    def _expose(self, power_d: float, lux: float, jitter_d: float, rng: np.random.Generator | None) -> Frame:
        optics, scene = self.optics, self._scene
        reflectance, c_obj, c_bg = self.reflectance(power_d, jitter_d)
        reflectance = self.conditions.apply(reflectance, self.seed, rng)  # rain, dust, glare, motion (or none)
        t_e = self._exposure_us * 1e-6
        image, saturated, mean_e = self.sensor.expose(reflectance, lux, t_e, optics.f_number, rng)
        truth = Truth(
            blur_px=c_obj,
            background_blur_px=c_bg,
            object_box=self._scene_render().object_box,
            in_focus_v=self.in_focus_voltage(),
            object_distance_m=scene.object_distance_m,
            defocus_d=optics.focus_vergence(power_d) - scene.object_vergence_d,
            lux=lux,
            saturated_fraction=saturated,
            mean_electrons=mean_e,
        )
        phase = self._phase_shift(truth.defocus_d, mean_e) if rng is not None else None
        v = self._lens.voltage
        return Frame(image, self._exposure_us, v, self.clock.t, truth, phase, lens_setting=v, lens_unit="V")

    def _phase_shift(self, defocus_d: float, mean_electrons: float) -> float:
        """A phase-detection pixel pair's reading (px): the left/right half-pupil images of a disc blur sit
        ±4r/3π apart (0.42 of the blur diameter between them), with read-out noise that grows in dim light
        (σ = 0.1 px + 0.5 px·√(200 e⁻ / mean e⁻)); its own noise stream, so the image noise is unchanged."""
        signed_blur = defocus_d * self.optics.px_per_diopter
        sigma = 0.1 + 0.5 * math.sqrt(200.0 / max(mean_electrons, 1.0))
        noise = np.random.default_rng([self.seed, round(self.clock.t * 1e6)]).normal(0.0, sigma)
        return float(0.42 * signed_blur + noise)

    # -- Camera hooks ----------------------------------------------------------------------------
    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        """Render the next frame on the virtual clock; never times out (``timeout_s`` is accepted and unused)."""
        t_e = self._exposure_us * 1e-6
        t_mid = self.clock.t + 0.5 * t_e
        jitter = float(self._rng.normal(0.0, self.vibration_d)) if self.vibration_d > 0 else 0.0
        frame = self._expose(self._lens.power_at(t_mid), self.light.lux_at(t_mid), jitter, self._rng)
        self.clock.t += max(t_e, self.frame_interval_s)
        return frame

    def _do_get_exposure(self) -> float:
        return self._exposure_us

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._exposure_us = exposure_us


def _constant(lux: float) -> ConstantLight:
    if not (isinstance(lux, int | float) and math.isfinite(lux) and 0 < lux <= 1e5):
        raise SpecError(f"illuminance must be in (0, 100000] lx, got {lux!r}")
    return ConstantLight(float(lux))


__all__ = ["SIM_EXPOSURE_LIMITS", "LensDynamics", "SimCamera", "SimClock", "SimLens"]
