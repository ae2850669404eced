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

from dasha.envs.config import EnvConfig
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES, exposure_bracket
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES, lens_fallback
from dasha.envs.perception import Perception, Shot


def safety_nets(
    perception: Perception, history: Sequence[Shot], lens_moves: int, bracket_frames: int
) -> tuple[list[Shot], list[Shot]]:
    """Run both nets after a lens phase whose frames are ``history`` (ending with the current frame).

    Args:
        perception: the episode's perception (its camera is moved).
        history: the lens phase's frames, from the hand-over frame to the current one.
        lens_moves: move budget of the lens net (0: off).
        bracket_frames: frame budget of the detection net (0: off; nothing without a real detector).

    Returns:
        ``(lens frames, bracket frames)`` captured by the nets, in order.
    """
    lens = lens_fallback(perception, history, lens_moves) if history else []
    last = (lens or list(history))[-1] if (lens or history) else None
    if bracket_frames <= 0 or perception.detector is None or last is None or perception.detection(last) is not None:
        return lens, []
    return lens, exposure_bracket(perception, bracket_frames)


def deployed(config: EnvConfig, task: str) -> EnvConfig:
    """``config`` with the deployed safety nets on — the one place their budgets are set for evaluation, the bench,
    the demo and ``dasha run``: the lens net's :data:`~dasha.envs.lens_fallback.EVAL_FALLBACK_MOVES` moves and, for
    the ``joint`` task, the detection net's :data:`~dasha.envs.exposure_bracket.EVAL_BRACKET_MOVES` frames. Training's
    calibration draws (``calibration_errors``) are off: a deployed controller believes the lens model its camera
    reports (``calibration_error``, exact unless a suite perturbs it)."""
    return config.replace(lens_fallback_moves=EVAL_FALLBACK_MOVES, calibration_errors=(),
                          bracket_moves=EVAL_BRACKET_MOVES if task == "joint" else 0)  # fmt: skip
