"""Continuous mode's memory is bounded: however many frames it watches, it keeps one tuning pass's frames and a ring
of the last watched ones (``dasha run --continuous`` used to keep every frame: ≈ 5 MB/s at 50 fps)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from dasha.camera import make_camera
from dasha.envs.perception import Perception
from dasha.runtime.live import WATCH_RING, ClassicalTuner


def test_2000_watched_frames_keep_a_bounded_history_and_little_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Perception, "blur_feature", lambda self, shot: 0.0)  # the estimator's cost is not the point
    cam = make_camera("sim:size=64,distance=1.0")
    tuner = ClassicalTuner(cam, "mean_luminance+brent")
    for _ in tuner.continuous(200):  # warm-up: caches, first tuning pass
        pass
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        passes = sum(1 for _ in tuner.continuous(2000))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert passes >= 1
    assert len(tuner.perception.shots) <= 40 and len(tuner.watched) == WATCH_RING
    assert growth < 1_000_000, f"{growth / 1e6:.1f} MB kept after 2000 frames (64×64 px: 8 MB if every frame stayed)"
