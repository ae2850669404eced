"""Replay camera: serves frames from a ``dasha record-grid`` file at the nearest recorded settings.

Lets agents and baselines run offline on recorded rig data, as the paper's Fig. 4 grid. The exposure and
lens limits are the recorded ranges; a setting snaps to the nearest recorded value (log-nearest for exposure).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from dasha.camera.base import Camera, Frame, Lens, Limits, Truth
from dasha.camera.grid import Grid


class ReplayLens(Lens):
    """Lens whose voltage selects a recorded lens column."""

    def __init__(self, volts: np.ndarray) -> None:
        self.limits = Limits(float(volts.min()), float(volts.max()), "V", resolution=0.001)
        self.settle_time_s = 0.0
        self._volts = volts
        self._v = float(volts[0])

    def index(self) -> int:
        """Recorded column nearest to the current voltage."""
        return int(np.argmin(np.abs(self._volts - self._v)))

    def _do_set_voltage(self, volts: float) -> None:
        self._v = volts

    def _do_get_voltage(self) -> float:
        return self._v

    def _do_wait_settled(self) -> None:
        return None


class ReplayCamera(Camera):
    """Camera over a recorded grid file (see :mod:`dasha.camera.grid`)."""

    def __init__(self, path: str | Path, spec: str = "") -> None:
        self.grid = Grid.load(path)
        self.spec = spec or f"replay:{path}"
        exp = self.grid.exposure_us
        self.exposure_limits = Limits(float(exp.min()), float(exp.max()), "µs", resolution=1.0)
        self._lens = ReplayLens(self.grid.lens_v) if len(self.grid.lens_v) else None
        self._exposure_us = float(exp[0])
        self._t0 = time.monotonic()

    @property
    def lens(self) -> ReplayLens | None:
        return self._lens

    def _do_capture(self) -> Frame:
        g = self.grid
        i = int(np.argmin(np.abs(np.log(g.exposure_us) - math.log(self._exposure_us))))
        j = self._lens.index() if self._lens is not None else 0
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
        lens_v = float(g.lens_v[j]) if self._lens is not None else None
        return Frame(g.frames[i, j], float(g.exposure_us[i]), lens_v, time.monotonic() - self._t0, truth)

    def _do_get_exposure(self) -> float:
        return self._exposure_us

    def _do_set_exposure(self, exposure_us: float) -> None:
        self._exposure_us = exposure_us
