"""Environment step cost on one core (capture + encode + reward), 256×256, default encoder. Target ≤ 5 ms.

Measures random-action steps of each environment in ``ours`` mode (ground-truth judge, no detector) and
``paper`` mode (BRISQUE where the paper's rewards need it), excluding resets, side by side in one run.

Usage: ``python benchmarks/bench_env.py [--steps 400]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np


def step_ms(env, steps: int, multi: bool) -> float:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    spent, n, episode = 0.0, 0, 0
    while n < steps:
        obs, _ = env.reset(seed=episode)
        episode += 1
        done = False
        while not done and n < steps:
            if multi:
                ((agent, _),) = obs.items()
                action = {agent: env.action_spaces[agent].sample()}
            else:
                action = env.action_space.sample()
            t = time.perf_counter()
            obs, _, term, trunc, _ = env.step(action)
            spent += time.perf_counter() - t
            n += 1
            done = (term["__all__"] or trunc["__all__"]) if multi else (term or trunc)
    del rng
    return 1e3 * spent / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    from dasha.envs.exposure import ExposureEnv
    from dasha.envs.focus import FocusEnv
    from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv

    print("env step cost, 256×256, default encoder, one core (target ≤ 5 ms)")
    for mode in ("ours", "paper"):
        joint_kw = {"detector": "in-focus"}
        for name, env, multi in (
            ("exposure", ExposureEnv(mode=mode), False),
            ("focus", FocusEnv(mode=mode), False),
            ("joint", HierarchicalCameraEnv({"mode": mode, **joint_kw}), True),
        ):
            print(f"  {mode:<6} {name:<9} {step_ms(env, args.steps, multi):6.2f} ms/step")


if __name__ == "__main__":
    main()
