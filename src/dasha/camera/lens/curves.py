"""Drive → optical power curves of the Optotune lens driver's two modes.

* :class:`LinearCurrentCurve` — current mode: ``P(I) = offset_d + slope_d_per_ma · I`` (mA → dpt).
* :class:`IdentityPowerCurve` — focal-power mode: the driver already takes dioptres, ``P(D) = D`` (dpt → dpt).

Units: mA for a current drive, dpt (1/m) for optical power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dasha.camera.base import LensCurve
from dasha.camera.errors import ConfigError

__all__ = ["DEFAULT_SLOPE_D_PER_MA", "IdentityPowerCurve", "LinearCurrentCurve"]

#: Default slope of an EL-10-30-C class lens in current mode (dpt/mA). UNCERTAIN: the lens's current → power curve
#: was not found in the protocol sources; 0.04 dpt/mA spreads the EL-10-30-C's ≈ 11.7 dpt tuning span
#: (+8.3 … +20 dpt) over the driver's ≈ 0–293 mA. Calibrate a real lens (``dasha calibrate``) and pass the result.
DEFAULT_SLOPE_D_PER_MA = 0.04


@dataclass(frozen=True, slots=True)
class LinearCurrentCurve(LensCurve):
    """Current (mA) → added optical power (dpt) of a current-driven lens: ``P(I) = offset_d + slope_d_per_ma·I``.

    The default (0 dpt at 0 mA, :data:`DEFAULT_SLOPE_D_PER_MA`) is an assumption, not a measurement: the lens's
    fixed power at rest belongs to the main-lens focus, the curve reports what the current adds.

    Attributes:
        offset_d: optical power added at 0 mA (dpt).
        slope_d_per_ma: power per unit of current (dpt/mA), non-zero.
    """

    unit = "mA"

    offset_d: float = 0.0
    slope_d_per_ma: float = DEFAULT_SLOPE_D_PER_MA

    def __post_init__(self) -> None:
        if not (math.isfinite(self.offset_d) and math.isfinite(self.slope_d_per_ma) and self.slope_d_per_ma != 0):
            raise ConfigError(
                f"a linear mA→dpt curve needs a finite offset (dpt) and a finite non-zero slope (dpt/mA), "
                f"got {self.offset_d!r}, {self.slope_d_per_ma!r}"
            )

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Optical power (dpt) at current ``setting`` (mA)."""
        out = self.offset_d + self.slope_d_per_ma * np.asarray(setting, np.float64)
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        """Current (mA) giving ``diopters`` dpt (not clipped: the lens's limits clip it)."""
        return (float(diopters) - self.offset_d) / self.slope_d_per_ma


@dataclass(frozen=True, slots=True)
class IdentityPowerCurve(LensCurve):
    """Focal power (dpt) → optical power (dpt): the driver's focal-power mode takes dioptres itself."""

    unit = "dpt"

    def power(self, setting: float | np.ndarray) -> float | np.ndarray:
        """Optical power (dpt) at commanded focal power ``setting`` (dpt): the same."""
        out = np.asarray(setting, np.float64) * 1.0
        return float(out) if np.ndim(out) == 0 else out

    def drive(self, diopters: float) -> float:
        """The focal power (dpt) to command for ``diopters`` dpt: the same."""
        return float(diopters)
