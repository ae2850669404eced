"""The deployed safety nets, one rule for every method: run when a lens phase ends, whoever ran it.

1. The lens net (:mod:`dasha.envs.lens_fallback`): when the phase's final frame fails the acceptance test (estimated
   blur ≤ 1.5 px and, with a detector, a detection), a short contrast search over the phase's frames.
2. The detection net (:mod:`dasha.envs.exposure_bracket`, joint task with a real detector only): when the detector
   still does not find the object, an exposure bracket at the final lens position.

``dasha`` (the deployed policy) is ``dasha_policy`` with these nets; every classical pipeline gets the very same
nets in the bench's ``+nets`` rows. Neither reads ground truth; both are off in training.
"""

from __future__ import annotations

from collections.abc import Sequence

from dasha.envs.exposure_bracket import exposure_bracket
from dasha.envs.lens_fallback import lens_fallback
from dasha.envs.task import CameraTask, Step


def safety_nets(
    task: CameraTask, history: Sequence[Step], lens_moves: int, bracket_frames: int
) -> tuple[list[Step], list[Step]]:
    """Run both nets after a lens phase whose frames are ``history`` (ending with the current frame).

    Args:
        task: the episode's task (its camera is moved).
        history: the lens phase's frames, from the hand-over frame to the current one.
        lens_moves: move budget of the lens net (0: off).
        bracket_frames: frame budget of the detection net (0: off; nothing without a real detector).

    Returns:
        ``(lens frames, bracket frames)`` captured by the nets, in order.
    """
    lens = lens_fallback(task, history, lens_moves) if history else []
    last = (lens or list(history))[-1] if (lens or history) else None
    if bracket_frames <= 0 or task.detector is None or last is None or task.detection(last) is not None:
        return lens, []
    return lens, exposure_bracket(task, bracket_frames)
