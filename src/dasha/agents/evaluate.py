"""Evaluate a trained policy on seeded simulator episodes (``dasha eval``, ``dasha demo``), without Ray.

Every episode starts from the env's random "factory" settings; the policy acts greedily until it stops (ours) or the
environment ends the episode (paper). As deployed, an ours-mode lens agent that uses its whole horizon without
stopping is followed by the safety net's short contrast search (:mod:`dasha.envs.lens_fallback`), and a joint
episode whose lens phase ends without a detection by the exposure bracket (:mod:`dasha.envs.exposure_bracket`).
Success is judged on the final frame: well exposed (exposure), in focus (focus), detected by the configured detector
(joint). ``mean_steps`` counts commands (exposure and lens moves); ``ms_per_step`` is the policy's own compute per
step (features + network), excluding capture; ``rig_seconds`` converts each episode to wall time on two rig models
(``paper``: 4.5 s per step, as the original code's 3 s sleeps; ``fast``: frame time max(exposure, 20 ms) + 15 ms per
lens move).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from dasha.agents.policy import Policy
from dasha.camera.base import Frame
from dasha.camera.rig import rig_seconds
from dasha.envs.config import EVAL_SCENES, EnvConfig
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES
from dasha.envs.rewards import IN_FOCUS_PX
from dasha.vision.histogram import paper_histogram


@dataclass
class EpisodeResult:
    """Outcome of one evaluation episode (ground truth recorded for the report only)."""

    episode: int
    scene: str
    distance_m: float
    lux: float
    success: bool
    steps: int
    exposure_steps: int
    lens_steps: int
    final_exposure_us: float
    final_lens_v: float | None
    final_peak: float
    final_blur_px: float
    ms_per_step: float
    rig_seconds: dict[str, float]
    first: np.ndarray | None = field(default=None, repr=False)
    last: np.ndarray | None = field(default=None, repr=False)
    box: tuple[float, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (images dropped, ``inf`` as a string)."""
        d = asdict(self)
        d.pop("first")
        d.pop("last")
        return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _count_moves(frames: list[Frame]) -> tuple[int, int]:
    exposure = lens = 0
    for prev, cur in pairwise(frames):
        if cur.exposure_us != prev.exposure_us:
            exposure += 1
        else:
            lens += 1
    return exposure, lens


def make_env(task: str, config: EnvConfig, env_class: str | None = None) -> Any:
    """The evaluation environment of a task (or the variant class ``module:Class`` a policy was trained on)."""
    if env_class:
        from dasha.agents.train import import_object

        return import_object(env_class)(config)
    if task == "exposure":
        from dasha.envs.exposure import ExposureEnv

        return ExposureEnv(config)
    if task == "focus":
        from dasha.envs.focus import FocusEnv

        return FocusEnv(config)
    from dasha.envs.hierarchical import HierarchicalCameraEnv

    return HierarchicalCameraEnv(config)


def run_episode(policy: Policy, env: Any, seed: int, index: int) -> EpisodeResult:
    """One greedy episode of ``policy`` in ``env``."""
    task = env.task
    decide_s = 0.0
    decisions = 0
    if policy.task == "joint":
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            ((agent, o),) = obs.items()
            t0 = time.perf_counter()
            action = policy.act("high_level" if agent == "high" else "low_level", o)
            decide_s += time.perf_counter() - t0
            decisions += 1
            obs, _, term, trunc, _ = env.step({agent: action})
            done = term["__all__"] or trunc["__all__"]
        success = env.success
    else:
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            t0 = time.perf_counter()
            action = policy.act(policy.task, obs)
            decide_s += time.perf_counter() - t0
            decisions += 1
            obs, _, term, trunc, info = env.step(action)
            done = term or trunc
        success = bool(info["success"])
    compute_s = task.perception_s * ((len(task.frames) - 1) / max(len(task.frames), 1)) + decide_s
    return episode_result(task, index, bool(success), compute_s, decisions)


def episode_result(task: Any, index: int, success: bool, compute_s: float, decisions: int) -> EpisodeResult:
    """Summarise the frames of ``task``'s current episode (shared by policies and baselines)."""
    frames = task.frames
    last = frames[-1]
    exp_moves, lens_moves = _count_moves(frames)
    truth = last.truth
    return EpisodeResult(
        episode=index,
        scene=task.episode.get("scene", ""),
        distance_m=float(task.episode.get("distance_m", math.nan)),
        lux=float(task.episode.get("lux", math.nan)),
        success=success,
        steps=len(frames) - 1,
        exposure_steps=exp_moves,
        lens_steps=lens_moves,
        final_exposure_us=float(last.exposure_us),
        final_lens_v=last.lens_v,
        final_peak=float(paper_histogram(last.image)[2]),
        final_blur_px=float(truth.blur_px) if truth is not None else math.nan,
        ms_per_step=1e3 * compute_s / max(decisions, 1),
        rig_seconds=rig_seconds(frames),
        first=frames[0].image,
        last=last.image,
        box=task.reference_boxes[0] if task.reference_boxes else (truth.object_box if truth is not None else None),
    )


def summarise(results: list[EpisodeResult]) -> dict[str, Any]:
    """The bench JSON contract's per-method object."""
    steps = np.asarray([r.steps for r in results], float)
    out = {
        "success_rate": float(np.mean([r.success for r in results])) if results else 0.0,
        "mean_steps": float(steps.mean()) if results else 0.0,
        "p95_steps": float(np.percentile(steps, 95)) if results else 0.0,
        "ms_per_step": float(np.mean([r.ms_per_step for r in results])) if results else 0.0,
        "rig_seconds": {
            rig: float(np.mean([r.rig_seconds[rig] for r in results])) if results else 0.0 for rig in ("paper", "fast")
        },
        "mean_exposure_steps": float(np.mean([r.exposure_steps for r in results])) if results else 0.0,
        "mean_lens_steps": float(np.mean([r.lens_steps for r in results])) if results else 0.0,
    }
    return out


def eval_config(
    policy: Policy,
    scenes: list[str] | None = None,
    detector: str | None = None,
    distance_m: tuple[float, float] = (0.2, math.inf),
    lux: tuple[float, float] = (5.0, 1000.0),
) -> EnvConfig:
    """The policy's training env with evaluation scenes (held out unless given), distances and light."""
    changes: dict[str, Any] = {"scenes": tuple(scenes) if scenes else EVAL_SCENES, "distance_m": distance_m, "lux": lux}
    changes["goal_blur_px"] = IN_FOCUS_PX  # success is always judged at 2 px, whatever margin training asked for
    changes["lens_fallback_moves"] = EVAL_FALLBACK_MOVES  # the lens agent's safety net, as deployed
    if policy.task == "joint":
        changes["detector"] = detector or "haar-face"
        changes["bracket_moves"] = EVAL_BRACKET_MOVES  # the detection safety net (a real detector only)
        if not scenes and changes["detector"] == "haar-face":
            changes["scenes"] = ("astronaut",)  # the held-out photo with a face
    elif policy.task == "focus":
        changes["detector"] = "in-focus"
    return policy.env_config(**changes)


def evaluate(
    policy: Policy,
    episodes: int = 200,
    seed: int = 0,
    config: EnvConfig | None = None,
    progress: Any = None,
) -> tuple[dict[str, Any], list[EpisodeResult]]:
    """Run ``episodes`` seeded episodes; returns (summary, per-episode results)."""
    cfg = config or eval_config(policy)
    env = make_env(policy.task, cfg, policy.meta.get("env_class"))
    policy.check_env(env)
    results = []
    for i in range(episodes):
        results.append(run_episode(policy, env, seed=seed * 100_003 + i, index=i))
        if progress is not None:
            progress(i + 1, results[-1])
    return summarise(results), results


def before_after(results: list[EpisodeResult], path: Path, title: str, n: int = 6) -> Path:
    """The paper's Fig. 6: initial frames (top) and the frames the agents settled on (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    shown = results[:n]
    fig, axes = plt.subplots(2, len(shown), figsize=(2.3 * len(shown), 5.6), squeeze=False)
    for k, r in enumerate(shown):
        top, bottom = axes[0, k], axes[1, k]
        top.imshow(r.first, cmap="gray", vmin=0, vmax=255)
        top.set_title(f"start · {r.scene}\n{r.distance_m:.2f} m · {r.lux:.0f} lx", fontsize=8)
        bottom.imshow(r.last, cmap="gray", vmin=0, vmax=255)
        verdict = "found" if r.success else "missed"
        bottom.set_title(f"after {r.steps} steps · {verdict}\nblur {r.final_blur_px:.1f} px", fontsize=8,
                         color="green" if r.success else "red")  # fmt: skip
        if r.box is not None and r.success:
            x0, y0, x1, y1 = r.box[:4]
            bottom.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1.5))
        for ax in (top, bottom):
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
