"""Rewards. The paper's formulas appear here once (DASHA §III-C-3, eqs. 11–12); ours are beside them.

Paper, high level (exposure), with P the histogram peak (left edge of the fullest of 10 bins) and B the
BRISQUE score::

    r_H =  1          if P ∈ [50, 150]
          −0.01·B     if P ∈ [25, 50) ∪ (150, 175]
          −1          otherwise                       (unsuitable histogram: the episode ends)

Paper, low level (lens)::

    r_L = −1          if the object is not detected
          −0.01·B     otherwise (B of the detected box)

BRISQUE is expensive (~10 ms), so it is passed as a thunk and evaluated only in the branches that use it.

Ours ("ours" mode, beyond the paper): the policy stops itself (a learned *stop* action). Each move costs
``STEP_COST`` and earns the potential-based shaping ``γ·Φ(s') − Φ(s)`` with ``Φ = −error`` (Ng et al. 1999:
shaping of this form leaves the optimal policy unchanged); stopping pays ``+1`` when the goal holds on the
final frame (in focus, well exposed) and ``−1`` otherwise. The error is
``log(1 + max(|defocus| − 0.06, 0) / 0.12)`` for the lens (0.12 dpt = the 2 px in-focus limit at f/2.8: every
halving of the defocus pays about the same, near focus as far from it, and polishing inside ±0.06 dpt pays
nothing) and |log2(median grey / 100)| in stops for the exposure. The defocus is the simulator's ground truth,
used as a *training signal only*; observations never contain it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

WELL_EXPOSED_P = (50.0, 150.0)
"""Histogram-peak interval (grey levels) of a well-exposed frame: reward 1, and the success test."""
VISIBLE_P = (25.0, 175.0)
"""Histogram-peak interval of a *suitable* frame: control passes to the low-level agent."""
IN_FOCUS_PX = 2.0
"""In focus: object blur-circle diameter ≤ 2 native px."""

STEP_COST = 0.1
FOCUS_ERROR_SCALE_D = 0.12
FOCUS_DEADBAND_D = 0.06
GOAL_REWARD = 1.0


def well_exposed(peak: float) -> bool:
    """P ∈ [50, 150] (paper rule)."""
    return WELL_EXPOSED_P[0] <= peak <= WELL_EXPOSED_P[1]


def histogram_suitable(peak: float) -> bool:
    """P ∈ [25, 175]: the high-level agent hands control to the low-level agent."""
    return VISIBLE_P[0] <= peak <= VISIBLE_P[1]


def in_focus(blur_px: float, limit_px: float = IN_FOCUS_PX) -> bool:
    """Object blur-circle diameter ≤ ``limit_px`` (2 px; training may ask for a tighter goal)."""
    return blur_px <= limit_px


def paper_high_level_reward(peak: float, brisque: Callable[[], float]) -> float:
    """r_H, the paper's eq. (11)."""
    if well_exposed(peak):
        return 1.0
    if histogram_suitable(peak):
        return -0.01 * brisque()
    return -1.0


def paper_low_level_reward(detected: bool, brisque: Callable[[], float]) -> float:
    """r_L, the paper's eq. (12)."""
    if not detected:
        return -1.0
    return -0.01 * brisque()


def ours_move_reward(
    error_before: float, error_after: float, gamma: float = 0.99, step_cost: float = STEP_COST
) -> float:
    """Our per-move reward: −step cost plus potential-based shaping ``γ·Φ(s') − Φ(s)``, ``Φ = −error``."""
    return -step_cost - gamma * abs(error_after) + abs(error_before)


def focus_error(defocus_d: float) -> float:
    """Our lens error: log(1 + max(|defocus| − 0.06, 0) / 0.12) — flat within ±0.06 dpt (≈1 px of blur)."""
    return math.log1p(max(abs(defocus_d) - FOCUS_DEADBAND_D, 0.0) / FOCUS_ERROR_SCALE_D)


def frame_focus_error(truth: Any) -> float:
    """:func:`focus_error` of a frame from its simulator ``truth`` (0 without it); a training signal only."""
    return focus_error(abs(truth.defocus_d)) if truth is not None else 0.0


def ours_stop_reward(goal_reached: bool) -> float:
    """Our reward for the learned stop action: +1 if the goal holds on the final frame, −1 otherwise."""
    return GOAL_REWARD if goal_reached else -GOAL_REWARD
