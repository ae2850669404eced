"""The bench's worlds and jobs: the options shared by the suites, the world of a suite, and jobs — one method's
episodes in one world — run in parallel worker processes (one method's episodes in one process, so results do not
depend on the number of workers).

Interrupts (Ctrl-C, SIGTERM) lose no finished episode: the workers ignore both signals and stop before their next
episode when the main process sets the pool's stop event; :func:`run_jobs` then collects every job's episodes so far
and raises :class:`BenchInterrupted` with them (the suites write them, marked partial).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed, wait
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


AF_F_NUMBERS = (1.8, 8.0)
"""f-number range of the wide-domain ``af`` world (and of ``calibration`` and ``conditions``, built on it): every
controller reads the episode's aperture from the camera (``Camera.optics``). The other suites keep f/2.8."""


def suite_config(suite: str, opts: BenchOptions, domain: str | None = None) -> EnvConfig:
    """The world of a suite: held-out objects and backgrounds, the domain (``opts.domain`` unless given), f/2.8
    (``af`` in the wide domain: :data:`AF_F_NUMBERS`), ours-mode observations, success at 2 px and the deployed net
    budgets (a method without nets gets 0)."""
    scenes = tuple(opts.scenes) if opts.scenes else EVAL_SCENES
    backgrounds = tuple(opts.backgrounds) if opts.backgrounds else EVAL_BACKGROUNDS
    cfg = EnvConfig(scenes=scenes, backgrounds=backgrounds, lens_fallback_moves=EVAL_FALLBACK_MOVES,
                    bracket_moves=EVAL_BRACKET_MOVES, camera=opts.camera,
                    **domain_changes(domain or opts.domain))  # fmt: skip
    if suite == "af" and (domain or opts.domain) == "wide":
        cfg = cfg.replace(f_number=AF_F_NUMBERS)
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


class BenchInterrupted(KeyboardInterrupt):
    """Ctrl-C / SIGTERM during a bench: ``results`` holds every job's finished episodes (by key; a job cut short
    has fewer than it asked for, one never started is absent); a suite sets ``doc`` to its partial document."""

    def __init__(self, results: dict[str, list[EpisodeResult] | None]) -> None:
        super().__init__("bench interrupted")
        self.results = results
        self.doc: dict[str, Any] | None = None


def run_jobs_or_partial(
    jobs: list[Job], opts: BenchOptions, label: str
) -> tuple[dict[str, list[EpisodeResult] | None], BenchInterrupted | None]:
    """:func:`run_jobs`, or on an interrupt the episodes finished so far and the interrupt (to re-raise with the
    partial document: :func:`mark_partial`)."""
    try:
        return run_jobs(jobs, opts, label), None
    except BenchInterrupted as exc:
        return exc.results, exc


def mark_partial(exc: BenchInterrupted, doc: dict[str, Any], episodes_done: int) -> BenchInterrupted:
    """Mark ``doc`` partial (``"partial": true``, ``"episodes_done"``: the finished episodes) and attach it."""
    doc["partial"] = True
    doc["episodes_done"] = episodes_done
    exc.doc = doc
    return exc


_STOP: Any = None
"""In a worker process: the pool's stop event (set by the main process when it is interrupted)."""


def _stopping() -> bool:
    return _STOP is not None and _STOP.is_set()


def run_job(job: Job, into: list[EpisodeResult] | None = None) -> tuple[Job, list[EpisodeResult] | None]:
    """Play a job's episodes (None when the method's policy is missing); images are dropped. ``into`` receives the
    episodes as they finish (what an interrupted job keeps); a worker stops early when its pool's stop event is set."""
    player = make_player(job.suite, job.name, job.policies)
    if player is None:
        return job, None
    env = env_for(player, job.suite, job.config)
    results: list[EpisodeResult] = into if into is not None else []

    def drop_images() -> None:
        results[-1].first = results[-1].last = None

    play_episodes(player, env, job.episodes, job.seed, progress=drop_images, into=results, stop=_stopping)
    return job, results


def _init_worker(stop: Any = None) -> None:
    import cv2
    import torch

    global _STOP
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides: it sets the stop event
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def run_jobs(jobs: list[Job], opts: BenchOptions, label: str) -> dict[str, list[EpisodeResult] | None]:
    """Run jobs (in parallel worker processes when ``opts.workers`` > 1); results by ``job.key or job.name``.

    Raises:
        BenchInterrupted: on Ctrl-C / SIGTERM, with the episodes finished so far (the workers finish the episode
            they are in, then stop).
    """
    workers = max(1, min(opts.workers or os.cpu_count() or 1, len(jobs)))
    out: dict[str, list[EpisodeResult] | None] = {}

    def done(job: Job, results: list[EpisodeResult] | None) -> None:
        out[job.key or job.name] = results
        if opts.progress is not None:
            opts.progress(f"{label}:{job.key or job.name}", job.episodes)

    if workers == 1:
        for job in jobs:
            partial: list[EpisodeResult] = []
            try:
                done(*run_job(job, into=partial))
            except KeyboardInterrupt:
                for r in partial:
                    r.first = r.last = None
                out[job.key or job.name] = partial
                raise BenchInterrupted(out) from None
        return out
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(stop,)) as ex:
        futures = {ex.submit(run_job, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                done(*future.result())
        except KeyboardInterrupt:
            stop.set()  # every worker ends its episode and returns what it has; jobs not started return nothing
            for future in futures:
                future.cancel()
            try:
                wait(futures, timeout=120)
            except KeyboardInterrupt:  # a second Ctrl-C: do not wait for the episodes in flight
                pass
            for future, job in futures.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    out[job.key or job.name] = future.result()[1]
            if not all(f.done() for f in futures):
                for proc in list((getattr(ex, "_processes", None) or {}).values()):
                    proc.terminate()
            raise BenchInterrupted(out) from None
    return out
