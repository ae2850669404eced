"""The bench's worlds and jobs: the options shared by the suites, the world of a suite, and jobs — one method's
episodes in one world — run in parallel worker processes (one method's episodes in one process, so results do not
depend on the number of workers).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dasha.agents.evaluate import EpisodeResult
from dasha.agents.policy import policies_root
from dasha.bench.methods import env_for, make_player
from dasha.bench.runner import play_episodes
from dasha.envs.config import EVAL_BACKGROUNDS, EVAL_SCENES, EnvConfig, domain_changes
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES


@dataclass
class BenchOptions:
    """Options shared by the suites."""

    episodes: int = 200
    seed: int = 0
    scenes: list[str] | None = None
    methods: list[str] | None = None
    detector: str = "haar-face"
    policies: Path = field(default_factory=policies_root)  # the shipped policies, wherever dasha is installed
    plots: Path | None = None
    progress: Callable[[str, int], Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)
    backgrounds: list[str] | None = None
    domain: str = "wide"
    workers: int | None = None
    """Worker processes (default: the machine's cores); 1 runs everything in this process."""
    camera: str = "sim"
    """The simulated camera episodes drive: ``sim`` or ``twin`` (the real driver stack: :mod:`dasha.camera.twin`)."""


def suite_config(suite: str, opts: BenchOptions, domain: str | None = None) -> EnvConfig:
    """The world of a suite: held-out objects and backgrounds, the domain (``opts.domain`` unless given), f/2.8,
    ours-mode observations, success at 2 px and the deployed net budgets (a method without nets gets 0)."""
    scenes = tuple(opts.scenes) if opts.scenes else EVAL_SCENES
    backgrounds = tuple(opts.backgrounds) if opts.backgrounds else EVAL_BACKGROUNDS
    cfg = EnvConfig(scenes=scenes, backgrounds=backgrounds, lens_fallback_moves=EVAL_FALLBACK_MOVES,
                    bracket_moves=EVAL_BRACKET_MOVES, camera=opts.camera,
                    **domain_changes(domain or opts.domain))  # fmt: skip
    if suite in ("af", "ae", "calibration"):
        return cfg.replace(detector="estimated-focus")  # no decision may read ground truth; judged on the final frame
    if opts.detector == "haar-face" and not opts.scenes:
        return cfg.replace(detector=opts.detector, scenes=("astronaut",))
    return cfg.replace(detector=opts.detector)


@dataclass(frozen=True)
class Job:
    """One method's episodes in one world (picklable: runs in a worker process)."""

    suite: str
    name: str
    config: EnvConfig
    episodes: int
    seed: int
    policies: Path
    key: str = ""


def run_job(job: Job) -> tuple[Job, list[EpisodeResult] | None]:
    """Play a job's episodes (None when the method's policy is missing); images are dropped."""
    player = make_player(job.suite, job.name, job.policies)
    if player is None:
        return job, None
    env = env_for(player, job.suite, job.config)
    results = play_episodes(player, env, job.episodes, job.seed)
    for r in results:
        r.first = r.last = None
    return job, results


def _init_worker() -> None:
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def run_jobs(jobs: list[Job], opts: BenchOptions, label: str) -> dict[str, list[EpisodeResult] | None]:
    """Run jobs (in parallel worker processes when ``opts.workers`` > 1); results by ``job.key or job.name``."""
    workers = max(1, min(opts.workers or os.cpu_count() or 1, len(jobs)))
    out: dict[str, list[EpisodeResult] | None] = {}

    def done(job: Job, results: list[EpisodeResult] | None) -> None:
        out[job.key or job.name] = results
        if opts.progress is not None:
            opts.progress(f"{label}:{job.key or job.name}", job.episodes)

    if workers == 1:
        for job in jobs:
            done(*run_job(job))
        return out
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker) as ex:
        for future in as_completed([ex.submit(run_job, job) for job in jobs]):
            done(*future.result())
    return out
