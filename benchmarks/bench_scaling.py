"""RLlib sampling throughput of the focus task with 1 and 2 remote env runners (env steps/s), one run.

Each setting trains a few PPO iterations (batch 1000) and reports env steps per second of wall time after the
first (warm-up) iteration. On a 2-core laptop the learner shares the cores with the runners, so expect well
below 2×; on a cluster, add ``--address``.

Usage: ``python benchmarks/bench_scaling.py [--iterations 4] [--address RAY_ADDRESS]``
"""

from __future__ import annotations

import argparse
import time


def throughput(runners: int, iterations: int, address: str | None) -> float:
    from dasha.agents.rllib import RunSpec, build_config, init_ray

    init_ray(address)
    spec = RunSpec.build("focus", "fast", num_env_runners=runners)
    algo = build_config(spec).build_algo()
    try:
        algo.train()  # warm-up
        t0, s0 = time.perf_counter(), algo.train()["num_env_steps_sampled_lifetime"]
        for _ in range(iterations - 1):
            steps = algo.train()["num_env_steps_sampled_lifetime"]
        return (steps - s0) / (time.perf_counter() - t0) if iterations > 1 else float("nan")
    finally:
        algo.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--address", default=None)
    args = ap.parse_args()
    rates = {n: throughput(n, args.iterations, args.address) for n in (1, 2)}
    print("focus task, PPO sampling + learning, env steps per second of wall time")
    for n, r in rates.items():
        print(f"  {n} env runner(s): {r:8.1f} steps/s")
    print(f"  scaling 1 → 2 runners: {rates[2] / rates[1]:.2f}×")


if __name__ == "__main__":
    main()
