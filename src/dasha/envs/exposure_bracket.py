"""The joint task's detection safety net: a short exposure bracket when the lens phase ends without a detection.

With a real detector (``haar-face``, ``aruco``, …) the joint task succeeds only when the detector finds the
object. In dim light (≈ 5–30 lx) the frames the agents settle on are in focus and well metered but noisy, and a
Haar cascade's verdict on them is close to a coin toss: on the held-out ``astronaut`` photo about 2 % of
episodes end in focus (blur < 1 px, AF-window median 50–80) with no detection, while the same lens position
½–1 stop brighter, or simply the next frame, is detected. Exposure bracketing — re-taking the shot at a few
exposures around the metered one — is the photographer's answer to such a marginal frame; the net does that:

1. take frames at ×2^s of the agents' exposure for s in :data:`BRACKET_STOPS` (+½, −½, +1 stop), clipped to the
   camera's and our exposure range, the lens left where the lens agent put it;
2. stop at the first frame the detector finds the object on;
3. if none, go back to the agents' exposure (one more frame) so the camera ends where the policy left it.

No ground truth is used, only the detector's verdict. Every frame counts as an exposure move. The training
environments leave the net off (``EnvConfig.bracket_moves = 0``); ``dasha eval``, ``dasha bench``, ``dasha demo``
and ``dasha run --detector`` turn it on (:data:`EVAL_BRACKET_MOVES`). With the ``in-focus`` judge (no detector)
it does nothing: more light cannot make a defocused frame sharp.
"""

from __future__ import annotations

from dasha.envs.actions import exposure_range_us
from dasha.envs.perception import Perception, Shot

BRACKET_STOPS: tuple[float, ...] = (0.5, -0.5, 1.0)
"""Exposure offsets of the bracket (stops, in the order tried): detectors prefer a little more light."""
EVAL_BRACKET_MOVES = 3
"""Bracket frames in evaluation and deployment (the return to the agents' exposure comes on top)."""


def exposure_bracket(perception: Perception, max_frames: int) -> list[Shot]:
    """Bracket the current exposure until ``perception``'s detector finds the object; returns the frames taken.

    Exposures stay within the range our exposure actions use (:func:`~dasha.envs.actions.exposure_range_us`)
    and the camera's own limits.

    Args:
        perception: the episode's perception; its camera is left at the detecting exposure, or back at the start
            exposure.
        max_frames: at most this many bracket frames (0: nothing is done).

    Returns:
        The captured shots in order (empty without a real detector or without budget).
    """
    if max_frames <= 0 or perception.detector is None:
        return []
    cam = perception.camera
    base = float(cam.exposure_us)
    lo, hi = exposure_range_us(cam)
    taken: list[Shot] = []
    for stops in BRACKET_STOPS[:max_frames]:
        e = min(max(base * 2.0**stops, lo), hi)
        if abs(e - base) <= 1e-6 * base:  # clipped onto the current exposure: nothing new to see
            continue
        cam.exposure_us = e
        taken.append(perception.capture())
        if perception.detection(taken[-1]) is not None:
            return taken
    if taken:
        cam.exposure_us = base
        taken.append(perception.capture())
    return taken
