"""The paper's reward formulas at every boundary (eqs. 11 and 12) and our shaped rewards."""

from __future__ import annotations

import math

import pytest

from dasha.envs.rewards import (
    STEP_COST,
    focus_error,
    histogram_suitable,
    in_focus,
    ours_move_reward,
    ours_stop_reward,
    paper_high_level_reward,
    paper_low_level_reward,
    well_exposed,
)

B = 40.0  # a BRISQUE score


def brisque_called(calls: list[int]):  # type: ignore[no-untyped-def]
    def f() -> float:
        calls.append(1)
        return B

    return f


@pytest.mark.parametrize(
    ("peak", "expected"),
    [
        (0.0, -1.0),
        (24.99, -1.0),
        (25.0, -0.01 * B),  # P = 25: start of the partial band [25, 50)
        (49.99, -0.01 * B),
        (50.0, 1.0),  # P = 50: well exposed
        (100.0, 1.0),
        (150.0, 1.0),  # P = 150: still well exposed (closed interval)
        (150.01, -0.01 * B),
        (175.0, -0.01 * B),  # P = 175: end of the partial band (150, 175]
        (175.01, -1.0),
        (255.0, -1.0),
    ],
)
def test_paper_high_level_reward(peak: float, expected: float) -> None:
    calls: list[int] = []
    assert paper_high_level_reward(peak, brisque_called(calls)) == pytest.approx(expected)
    assert bool(calls) == (expected == pytest.approx(-0.01 * B))  # BRISQUE only where the formula uses it
    assert well_exposed(peak) == (expected == 1.0)
    assert histogram_suitable(peak) == (expected != -1.0)


def test_paper_low_level_reward() -> None:
    calls: list[int] = []
    assert paper_low_level_reward(False, brisque_called(calls)) == -1.0 and not calls
    assert paper_low_level_reward(True, brisque_called(calls)) == pytest.approx(-0.4) and calls


def test_ours_rewards() -> None:
    assert in_focus(2.0) and not in_focus(2.01)
    assert ours_stop_reward(True) == 1.0 and ours_stop_reward(False) == -1.0
    better = ours_move_reward(2.0, 0.5, gamma=1.0)
    worse = ours_move_reward(0.5, 2.0, gamma=1.0)
    assert better == pytest.approx(1.5 - STEP_COST) and worse == pytest.approx(-1.5 - STEP_COST)
    # potential-based: a there-and-back detour costs only the step costs
    assert ours_move_reward(1.0, 3.0, 1.0) + ours_move_reward(3.0, 1.0, 1.0) == pytest.approx(-2 * STEP_COST)
    # the lens error is flat inside ±0.06 dpt and grows by log2 per doubling far from focus
    assert focus_error(0.0) == focus_error(0.06) == 0.0 and focus_error(0.18) == pytest.approx(math.log(2))
    assert focus_error(-1.0) == focus_error(1.0)


def test_paper_histogram_is_numpys_over_the_frames_own_range() -> None:
    """The authors' rule is ``numpy.histogram(frame, bins=10)``; our uint8 fast path must give the same bins."""
    import numpy as np

    from dasha.vision.histogram import paper_histogram

    rng = np.random.default_rng(0)
    narrow = rng.integers(30, 41, (100, 80), dtype=np.uint8)
    narrow[0, 0] = 200  # one outlier stretches the range
    frames = [
        rng.integers(0, 256, (256, 256), dtype=np.uint8),
        rng.normal(100, 30, (128, 128)).clip(0, 255).astype(np.uint8),
        narrow,
        np.full((16, 16), 7, np.uint8),  # constant frame: numpy's ±0.5 range
        rng.uniform(0, 255, (32, 32)),  # float frames take numpy's path
    ]
    for _ in range(60):  # every kind of range: the bins are cached per (lowest, highest) grey level
        lo, hi = sorted(rng.integers(0, 256, 2))
        frames.append(rng.integers(lo, hi + 1, (24, 40), dtype=np.uint8))
    for frame in frames:
        counts, edges, peak = paper_histogram(frame)
        ref_counts, ref_edges = np.histogram(frame, bins=10)
        assert counts.dtype == ref_counts.dtype and np.array_equal(counts, ref_counts)
        assert np.array_equal(edges, ref_edges)
        assert peak == ref_edges[int(np.argmax(ref_counts))]
