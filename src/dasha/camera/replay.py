"""Replay camera: serves frames from a ``dasha record-grid`` file at the nearest recorded settings.

Lets agents and baselines run offline on recorded rig data, as the paper's Fig. 4 grid. The exposure and
lens limits are the recorded ranges; a setting snaps to the nearest recorded value (log-nearest for exposure).
Grid files record the lens in volts, so the replay lens is a volt lens; its curve (V → dpt) is the one the grid
was recorded with, by default the simulator's :class:`~dasha.camera.calibration.VariopticCurve`; the camera reports
the optics the grid was recorded with (``meta["optics"]``), so perception and the controllers can run on it.

Time-outs: replay is instant, but a frame cannot arrive sooner than its recorded exposure, so
``capture(timeout_s)`` with a time-out shorter than the exposure (s) raises
:class:`~dasha.camera.errors.CameraTimeoutError`, as a real camera would; so does a setting whose frame an
interrupted recording never captured (that frame never arrives).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from dasha.camera.base import Camera, Frame, Lens, LensCurve, Limits, Truth
from dasha.camera.calibration import Optics, VariopticCurve
from dasha.camera.errors import CameraTimeoutError, SpecError
from dasha.camera.grid import Grid


class ReplayLens(Lens):
    """Volt lens whose drive (V) selects the nearest recorded lens column.

    Args:
        volts: the recorded lens voltages (V).
        curve: voltage (V) → added optical power (dpt); default :class:`VariopticCurve`.
    """

    def __init__(self, volts: np.ndarray, curve: LensCurve | None = None) -> None:
        self.limits = Limits(float(volts.min()), float(volts.max()), "V", resolution=0.001)
        self.curve = curve or VariopticCurve()
        self.settle_time_s = 0.0
        self._volts = volts
        self._v = float(volts[0])

    def index(self) -> int:
        """Recorded column nearest to the current voltage."""
        return int(np.argmin(np.abs(self._volts - self._v)))

    def _do_set_setting(self, value: float) -> None:
        self._v = value

    def _do_get_setting(self) -> float:
        return self._v

    def _do_wait_settled(self) -> None:
        return None


class ReplayCamera(Camera):
    """Camera over a recorded grid file (see :mod:`dasha.camera.grid`).

    Args:
        path: the ``.npz`` grid file.
        spec: the SPEC string it was opened from.
        curve: the lens's voltage (V) → optical power (dpt) curve; default :class:`VariopticCurve`.
    """

    def __init__(self, path: str | Path, spec: str = "", curve: LensCurve | None = None) -> None:
        self.grid = Grid.load(path)
        self.spec = spec or f"replay:{path}"
        exp = self.grid.exposure_us
        self.exposure_limits = Limits(float(exp.min()), float(exp.max()), "µs", resolution=1.0)
        self._lens = ReplayLens(self.grid.lens_v, curve) if len(self.grid.lens_v) else None
        self._exposure_us = float(exp[0])
        self._t0 = time.monotonic()
        recorded = self.grid.meta.get("optics")
        self.optics = _optics(recorded, path) if recorded is not None else None
        """The optics the grid was recorded with (its ``meta["optics"]``); None for grids without it."""

    @property
    def lens(self) -> ReplayLens | None:
        return self._lens

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        g = self.grid
        i = int(np.argmin(np.abs(np.log(g.exposure_us) - math.log(self._exposure_us))))
        j = self._lens.index() if self._lens is not None else 0
        lens_v = float(g.lens_v[j]) if self._lens is not None else None
        where = f"{g.exposure_us[i]:g} µs" + (f", {lens_v:g} V" if lens_v is not None else "")
        if not g.captured[i, j]:
            raise CameraTimeoutError(f"replay {self.spec!r}: no frame was recorded at {where} (interrupted grid)")
        if timeout_s is not None and g.exposure_us[i] * 1e-6 > timeout_s:
            raise CameraTimeoutError(f"replay {self.spec!r}: a {where} frame takes longer than {timeout_s:g} s")
        truth = None
        t = g.meta.get("truth")
        if t is not None:
            truth = Truth(
                blur_px=float(t["blur_px"][j]),
                background_blur_px=math.nan,
                object_box=tuple(t["object_box"]),  # type: ignore[arg-type]
                in_focus_v=float(t["in_focus_v"]),
                object_distance_m=float(t["object_distance_m"]),
                defocus_d=math.nan,
                lux=float(t["lux"]),
                saturated_fraction=math.nan,
                mean_electrons=math.nan,
            )
        return Frame(
            g.frames[i, j],
            float(g.exposure_us[i]),
            lens_v,
            time.monotonic() - self._t0,
            truth,
            lens_setting=lens_v,
            lens_unit="V" if lens_v is not None else None,
        )

    def _do_get_exposure(self) -> float:
        return self._exposure_us

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._exposure_us = exposure_us


def _optics(recorded: object, path: str | Path) -> Optics:
    """The grid's ``meta["optics"]`` as :class:`Optics`: finite numbers, positive focal length, f-number and pitch."""
    try:
        if not isinstance(recorded, dict):
            raise TypeError(f"a JSON object is needed, got {type(recorded).__name__}")
        values = {k: float(v) for k, v in recorded.items()}
        optics = Optics(**values)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"grid file {str(path)!r}: meta optics is malformed ({exc})") from None
    if (
        not all(math.isfinite(v) for v in values.values())
        or min(optics.focal_length_m, optics.f_number, optics.pixel_pitch_m) <= 0
    ):
        raise SpecError(f"grid file {str(path)!r}: meta optics needs finite values and a positive focal length, "
                        "f-number and pixel pitch")  # fmt: skip
    return optics
