"""Hardware time model: how long a sequence of frames takes on a real rig (exposure, readout, lens settling).

* ``paper`` rig — 4.5 s per step (the original code sleeps 3 s after every action; grab + inference add the rest).
* ``fast`` rig — frame time ``max(exposure, 20 ms)`` (50 fps) plus 15 ms liquid-lens response per lens move.

The first frame, at the start setting, is free; every later frame follows one command.
"""

from __future__ import annotations

from itertools import pairwise

from dasha.camera.base import Frame

PAPER_RIG_S_PER_STEP = 4.5
FAST_RIG_FRAME_MIN_S = 0.020
FAST_RIG_LENS_MOVE_S = 0.015
RIGS = ("paper", "fast")


def rig_seconds(frames: list[Frame]) -> dict[str, float]:
    """Wall time (s) of the moves between ``frames`` on each rig model."""
    fast = 0.0
    for prev, cur in pairwise(frames):
        fast += max(cur.exposure_us * 1e-6, FAST_RIG_FRAME_MIN_S)
        if prev.lens_v is not None and cur.lens_v is not None and abs(cur.lens_v - prev.lens_v) > 1e-9:
            fast += FAST_RIG_LENS_MOVE_S
    return {"paper": PAPER_RIG_S_PER_STEP * max(len(frames) - 1, 0), "fast": fast}
