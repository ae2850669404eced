"""Calibration a camera reports about itself: its optics and its lens's drive → dioptre curve, and their errors.

Perception and every controller read the focus model from the device they drive (``camera.optics``,
``camera.lens.curve``), never from the simulator that renders the blur; a controller's *belief* about that model may
be wrong, which :class:`MiscalibratedCurve` expresses (the ``calibration`` bench suite perturbs only the belief).

* :class:`Optics` — thin main lens + front liquid lens at native pixel pitch: blur-circle diameter
  ``c = f²·|ΔD| / (N·pitch)`` px for a defocus of ΔD dioptres (16.6 px/dpt at 16 mm, f/2.8, 5.5 µm).
* :class:`MiscalibratedCurve` — a lens curve as a miscalibrated controller believes it: ``P'(V) = (1 + slope)·P(V)
  + offset`` (dpt).
* :func:`in_focus_half_width_v` — the half-width (V) of the in-focus zone around a voltage: the blur criterion
  (2 px) divided by px/dpt and by the curve's slope (dpt/V) there.
* :class:`VariopticCurve` and :data:`VARIOPTIC_LIMITS` — the Varioptic A/C-39N0 electrowetting lens: drive voltage
  (V RMS) → added optical power (dpt), and its 24–70 V drive range at 1 mV resolution.
* :func:`vergence_range_d` and :data:`MIN_DISTANCE_M` — object distances (m) as vergences (dpt), and the nearest
  object distance the rig focuses (0.2 m = 5 dpt).

Units: V (RMS) for a lens drive, dpt (1/m) for optical power and vergence, m for distances and lengths, px for blur.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dasha.camera.base import LensCurve, Limits
from dasha.camera.errors import SpecError

__all__ = [
    "MIN_DISTANCE_M",
    "VARIOPTIC_LIMITS",
    "MiscalibratedCurve",
    "Optics",
    "VariopticCurve",
    "believed_curve",
    "curve_slope_d_per_v",
    "in_focus_half_width_v",
    "vergence_range_d",
]

#: Varioptic (Corning) A/C-39N0 drive limits: 24–70 V RMS at 1 mV resolution.
VARIOPTIC_LIMITS = Limits(24.0, 70.0, "V", resolution=0.001)

#: Nearest object distance (m) the rig focuses: 0.2 m = 5 dpt, the top of the range the Varioptic curve reaches
#: from 47 V (0 dpt) with the main lens focused at infinity; scenes and focus searches stop there.
MIN_DISTANCE_M = 0.2


def vergence_range_d(distance_range_m: tuple[float, float]) -> tuple[float, float]:
    """Object distances ``(near, far)`` (m; ``far`` may be ``inf``) as vergences ``(1 / far, 1 / near)`` (dpt)."""
    near, far = distance_range_m
    return (0.0 if math.isinf(far) else 1.0 / far), 1.0 / near


@dataclass(frozen=True, slots=True)
class VariopticCurve(LensCurve):
    """Voltage (V RMS) → added optical power (dpt) of an electrowetting liquid lens (Varioptic A/C-39N0 class).

    ``P(V) = P_rest + slope·[softplus_w(V − V_lo) − softplus_w(V − V_hi)]``: flat at the rest power below the
    working span, linear (``slope`` dpt/V) inside it, saturating above it. Strictly increasing everywhere.

    Defaults (the authors' 24–70 V drive range; the rest assumed): power −5 … +15 dpt, 1 dpt/V over 42–62 V,
    0 dpt at 47 V so that the paper's object at 1.4–2.0 m focuses at ≈47.5–47.7 V (their rig: 47–49 V).
    With the main lens at infinity, objects from ∞ to 0.2 m (0–5 dpt) focus between 47 V and 52 V.
    The datasheet curve is not public; calibrate ``v_lo``/``v_hi``/``slope`` for a real lens.
    """

    unit = "V"

    p_rest_d: float = -5.0
    """Optical power below the working span (dpt)."""
    v_lo: float = 42.0
    """Start of the linear working span (V)."""
    v_hi: float = 62.0
    """End of the linear working span (V)."""
    slope_d_per_v: float = 1.0
    """Slope inside the working span (dpt/V)."""
    softness_v: float = 1.0
    """Width of the rounded knees (V)."""

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Optical power (dpt) at drive voltage ``setting`` (V)."""
        v = np.asarray(setting, dtype=np.float64)
        w = self.softness_v
        ramp = w * (np.logaddexp(0.0, (v - self.v_lo) / w) - np.logaddexp(0.0, (v - self.v_hi) / w))
        out = self.p_rest_d + self.slope_d_per_v * ramp
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        """Voltage (V) giving ``diopters`` dpt (bisection; clipped to the 24–70 V drive range)."""
        lo, hi = VARIOPTIC_LIMITS.low, VARIOPTIC_LIMITS.high
        if diopters <= self.power(lo):
            return lo
        if diopters >= self.power(hi):
            return hi
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if self.power(mid) < diopters:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


@dataclass(frozen=True, slots=True)
class Optics:
    """Thin main lens + front liquid lens at native pixel pitch.

    Attributes:
        focal_length_m: main-lens focal length (m); 16 mm.
        f_number: f-number N (aperture diameter f/N).
        pixel_pitch_m: sensor pixel pitch (m); 5.5 µm (CMV2000).
        base_focus_d: main-lens focus vergence 1/s0 (dpt); 0 = focused at infinity.
        kappa: liquid-lens power coupling κ (1 for a front-mounted lens).
    """

    focal_length_m: float = 0.016
    f_number: float = 2.8
    pixel_pitch_m: float = 5.5e-6
    base_focus_d: float = 0.0
    kappa: float = 1.0

    @property
    def px_per_diopter(self) -> float:
        """Blur-circle diameter per diopter of defocus, native px: f²/(N·pitch)."""
        return self.focal_length_m**2 / (self.f_number * self.pixel_pitch_m)

    def focus_vergence(self, lens_power_d: float) -> float:
        """Object vergence (dpt) that is in focus with the liquid lens at ``lens_power_d``."""
        return self.base_focus_d + self.kappa * lens_power_d

    def blur_px(self, object_vergence_d: float, lens_power_d: float) -> float:
        """Blur-circle diameter (native px) of an object at vergence 1/d (dpt): f²|ΔD|/N/pitch."""
        return abs(self.focus_vergence(lens_power_d) - object_vergence_d) * self.px_per_diopter

    def in_focus_power(self, object_vergence_d: float) -> float:
        """Liquid-lens power (dpt) that focuses an object at vergence 1/d (dpt)."""
        return (object_vergence_d - self.base_focus_d) / self.kappa


@dataclass(frozen=True, slots=True)
class MiscalibratedCurve(LensCurve):
    """``base`` as a controller with a calibration error believes it: ``P'(V) = (1 + slope_error)·P(V) + offset_d``.

    Attributes:
        base: the true curve.
        offset_d: believed minus true power at every voltage where ``slope_error`` is 0 (dpt).
        slope_error: relative error of the believed slope (0.05 = the belief is 5 % steeper).
    """

    base: LensCurve
    offset_d: float = 0.0
    slope_error: float = 0.0

    @property  # type: ignore[override]
    def unit(self) -> str:  # type: ignore[override]
        """Drive unit of the true curve (V, mA or dpt)."""
        return self.base.unit

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Believed optical power (dpt) at drive ``setting`` (the base curve's unit)."""
        out = (1.0 + self.slope_error) * np.asarray(self.base.power(setting), np.float64) + self.offset_d
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        """Drive setting (the base curve's unit) the belief says gives ``diopters`` dpt."""
        return self.base.drive((diopters - self.offset_d) / (1.0 + self.slope_error))


def believed_curve(curve: LensCurve, offset_d: float = 0.0, slope_error: float = 0.0) -> LensCurve:
    """``curve`` itself when there is no error, else the :class:`MiscalibratedCurve` a controller believes."""
    if offset_d == 0.0 and slope_error == 0.0:
        return curve
    return MiscalibratedCurve(curve, float(offset_d), float(slope_error))


def curve_slope_d_per_v(curve: LensCurve, volts: float, dv: float = 0.05) -> float:
    """Local slope of a lens curve (dpt per drive unit, dpt/V for a volt lens) at ``volts`` (central
    difference over ±``dv``)."""
    return float((curve.power(volts + dv) - curve.power(volts - dv)) / (2.0 * dv))


def in_focus_half_width_v(optics: Optics, curve: LensCurve, volts: float, blur_px: float = 2.0) -> float:
    """Half-width (V) of the zone around ``volts`` where the blur stays ≤ ``blur_px`` (the in-focus criterion).

    ``blur_px / px_per_diopter`` is the largest in-focus defocus (dpt; 0.12 dpt at f/2.8), divided by the lens
    slope κ·dP/dV (dpt/V) at ``volts``: 0.12 V on a 1 dpt/V Varioptic lens at f/2.8, 0.24 V at f/5.6.
    """
    slope = abs(optics.kappa * curve_slope_d_per_v(curve, volts))
    return blur_px / optics.px_per_diopter / max(slope, 1e-6)


OPTICS_KEYS = ("focal_mm", "fnumber", "pitch_um")
"""SPEC keys that state a real camera's optics (``basler:…,focal_mm=16,fnumber=2.8,pitch_um=5.5``)."""


def optics_from_spec(spec: str, values: dict[str, str]) -> Optics | None:
    """The :class:`Optics` a camera SPEC states with :data:`OPTICS_KEYS` (mm, f-number, µm; all three or none)."""
    given = {k: values[k] for k in OPTICS_KEYS if k in values}
    if not given:
        return None
    if len(given) != len(OPTICS_KEYS):
        missing = ", ".join(k for k in OPTICS_KEYS if k not in given)
        raise SpecError(f"camera spec {spec!r}: the optics need focal_mm, fnumber and pitch_um (missing: {missing})")
    try:
        focal, n, pitch = (float(given[k]) for k in OPTICS_KEYS)
    except ValueError:
        raise SpecError(f"camera spec {spec!r}: focal_mm, fnumber and pitch_um must be numbers") from None
    if not (0.5 <= focal <= 500 and 0.7 <= n <= 64 and 0.5 <= pitch <= 50):
        raise SpecError(f"camera spec {spec!r}: optics out of range (focal 0.5–500 mm, f/0.7–64, pitch 0.5–50 µm)")
    return Optics(focal_length_m=focal * 1e-3, f_number=n, pixel_pitch_m=pitch * 1e-6)
