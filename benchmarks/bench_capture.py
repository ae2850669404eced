"""Capture cost of the simulated camera per 256×256 frame on one core (target ≤ 3 ms).

Three access patterns, all measured in one run:

* ``random lens``  — a new random voltage every frame (what an RL episode does; no blur-cache hits),
* ``sweep``        — a repeated 47-step lens sweep (record-grid, sweep baselines; cache hits after one pass),
* ``fixed``        — lens and exposure fixed (continuous streaming),

plus the pieces of one capture (optics blur, sensor noise) for reference.

Usage: ``python benchmarks/bench_capture.py [--size 256] [--frames 400]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from dasha.camera.sim import Scene, SimCamera


def _time(fn, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - t
    return out * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=400)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    cam = SimCamera(Scene.from_names("astronaut", "brick", object_distance_m=1.0), size=args.size, seed=0)
    cam.exposure_us = 30_000
    sweep = np.linspace(24, 70, 47)
    volts = rng.uniform(40, 60, args.frames)

    def random_lens(i: int) -> None:
        cam.lens.voltage = float(volts[i])
        cam.capture()

    def sweep_lens(i: int) -> None:
        cam.lens.voltage = float(sweep[i % 47])
        cam.capture()

    def fixed(i: int) -> None:
        cam.capture()

    reflect, _, _ = cam.reflectance(1.0)

    def sensor_only(i: int) -> None:
        cam.sensor.expose(reflect, 100.0, 0.03, 2.8, cam._rng)

    rows = []
    for name, fn in [
        ("random lens", random_lens),
        ("sweep", sweep_lens),
        ("fixed", fixed),
        ("sensor only", sensor_only),
    ]:
        fn(0)  # warm-up
        ms = _time(fn, args.frames)
        rows.append((name, np.median(ms), np.percentile(ms, 95)))
    print(f"simulated capture, {args.size}×{args.size} px, one core (target ≤ 3 ms)")
    print(f"{'pattern':<14}{'median ms':>11}{'p95 ms':>9}{'vs 3 ms':>9}")
    for name, med, p95 in rows:
        print(f"{name:<14}{med:>11.2f}{p95:>9.2f}{med / 3.0:>8.2f}×")


if __name__ == "__main__":
    main()
