"""Evaluate a trained policy on seeded simulator episodes (``dasha eval``, ``dasha demo``), without Ray.

Every episode starts from the env's start settings; the policy acts greedily until it stops (ours) or the environment
ends the episode by the method's own rule (paper: the detector, or the no-reference ``estimated-focus`` test). As
deployed, a lens phase that ends on a frame failing the acceptance test is followed by the safety nets
(:mod:`dasha.envs.safety_nets`). Success is judged on the final frame (:data:`SUCCESS`). ``mean_steps`` counts commands
(exposure and lens moves); ``ms_per_step`` is everything the method computes per frame it sees (features,
observations, decisions, and the detector when the method calls it — reported apart as ``detector_ms_per_step``),
each counted once (:class:`~dasha.envs.clock.ComputeClock`), excluding capture;
``rig_seconds`` converts each successful episode to wall time on two rig models (``paper``: 4.5 s per step, as the
original code's 3 s sleeps; ``fast``: frame time max(exposure, 20 ms) + 15 ms per lens move).

Device faults: the engine retries a transient fault itself (:mod:`dasha.camera.resilient`); an episode that ends on
an unrecovered one (:data:`~dasha.camera.resilient.DEVICE_FAULTS`) is reported as **faulted**
(``EpisodeResult.fault``: the one-line error), not as the agent's failure — :func:`summarise` reports the
``fault_rate`` and computes every other figure over the episodes that ran to their end.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from dasha.agents.policy import Policy
from dasha.camera.base import Frame
from dasha.camera.resilient import DEVICE_FAULTS
from dasha.camera.rig import RIGS, rig_seconds
from dasha.envs.config import EVAL_BACKGROUNDS, EVAL_SCENES, EnvConfig, domain_changes
from dasha.envs.hierarchical import module_of
from dasha.envs.perception import Perception
from dasha.envs.rewards import IN_FOCUS_PX
from dasha.envs.safety_nets import deployed
from dasha.jsonio import to_jsonable
from dasha.plotting import pyplot, save_figure
from dasha.vision.histogram import paper_histogram

#: What success means per task (the suite it is scored in): ``exposure`` — well exposed (the paper's histogram rule,
#: P ∈ [50, 150]); ``focus`` — in focus (object blur ≤ 2 px, ground truth); ``joint`` — the detector finds the object
#: (a box on it, IoU ≥ 0.5 with the reference) **and** it is in focus, on the final frame.
SUCCESS = {
    "exposure": "well exposed: histogram peak P ∈ [50, 150] (paper rule)",
    "focus": "in focus: object blur ≤ 2 px on the final frame",
    "joint": "detected (IoU ≥ 0.5, box on the object) and in focus (blur ≤ 2 px) on the final frame",
}
Z95 = 1.959963984540054


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
    background: str = ""
    detected: bool | None = None
    """Joint: the detector finds the object on the final frame (None in the other tasks)."""
    in_focus: bool | None = None
    """Object blur ≤ 2 px on the final frame (ground truth; None without it)."""
    detector_ms_per_step: float = 0.0
    """The part of ``ms_per_step`` spent in the detector (the method called it)."""
    object_clipped_fraction: float = math.nan
    """Fraction of the object's pixels clipped (≤ 2 or ≥ 253 grey) on the final frame."""
    first: np.ndarray | None = field(default=None, repr=False)
    last: np.ndarray | None = field(default=None, repr=False)
    box: tuple[float, ...] | None = None
    fault: str | None = None
    """The unrecovered device fault that ended the episode (its one-line error), None when it ran to its end. A
    faulted episode is not the method's failure: :func:`summarise` leaves it out of every rate but ``fault_rate``."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (images dropped; :func:`dasha.jsonio.to_jsonable`: ``inf`` / NaN as strings)."""
        d = asdict(self)
        d.pop("first")
        d.pop("last")
        return to_jsonable(d)


def _count_moves(frames: list[Frame]) -> tuple[int, int]:
    exposure = lens = 0
    for prev, cur in pairwise(frames):
        if cur.exposure_us != prev.exposure_us:
            exposure += 1
        else:
            lens += 1
    return exposure, lens


def make_env(task: str, config: EnvConfig, env_class: str | None = None) -> Any:
    """The evaluation environment of a task (or the variant class ``module:Class`` a policy was trained on: only
    one of :data:`dasha.agents.envclasses.ENV_CLASSES`, anything else is a ConfigError)."""
    if env_class:
        from dasha.agents.envclasses import env_class_named

        return env_class_named(env_class, "policy.json")(config)
    if task == "exposure":
        from dasha.envs.exposure import ExposureEnv

        return ExposureEnv(config)
    if task == "focus":
        from dasha.envs.focus import FocusEnv

        return FocusEnv(config)
    from dasha.envs.hierarchical import HierarchicalCameraEpisode  # the episode without Ray

    return HierarchicalCameraEpisode(config)


def run_episode(policy: Policy, env: Any, seed: int, index: int) -> EpisodeResult:
    """One greedy episode of ``policy`` in ``env``; success is judged on the final frame (:data:`SUCCESS`). An
    unrecovered device fault ends it as a faulted episode (:func:`faulted_result`)."""
    try:
        return _run_episode(policy, env, seed, index)
    except DEVICE_FAULTS as exc:
        return faulted_result(env, index, exc)


def faulted_result(env: Any, index: int, exc: BaseException) -> EpisodeResult:
    """The result of ``env``'s current episode, ended by the unrecovered device fault ``exc``: not a success, not
    judged (``success`` False, ``fault`` the one-line error); the frames it took are counted."""
    perception, episode = env.perception, env.world.episode
    frames = perception.frames
    last = frames[-1] if frames else None
    exp_moves, lens_moves = _count_moves(frames)
    return EpisodeResult(
        episode=index, scene=episode.get("scene", ""), background=episode.get("background", ""),
        distance_m=float(episode.get("distance_m", math.nan)), lux=float(episode.get("lux", math.nan)),
        success=False, steps=max(len(frames) - 1, 0), exposure_steps=exp_moves, lens_steps=lens_moves,
        final_exposure_us=float(last.exposure_us) if last is not None else math.nan,
        final_lens_v=last.lens_v if last is not None else None, final_peak=math.nan, final_blur_px=math.nan,
        ms_per_step=0.0, rig_seconds=dict.fromkeys(RIGS, math.nan), fault=" ".join(str(exc).split()) or repr(exc),
    )  # fmt: skip


def _run_episode(policy: Policy, env: Any, seed: int, index: int) -> EpisodeResult:
    obs, _ = env.reset(seed=seed)
    compute = env.perception.compute  # the decisions count with the features and observations they read
    done = False
    while not done:
        if policy.task == "joint":
            ((agent, o),) = obs.items()
            with compute:
                action = policy.act(module_of(agent), o)
            obs, _, term, trunc, _ = env.step({agent: action})
            done = term["__all__"] or trunc["__all__"]
        else:
            with compute:
                action = policy.act(policy.task, obs)
            obs, _, term, trunc, _ = env.step(action)
            done = term or trunc
    return episode_result(env, index, policy.task)


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a rate (0–1)."""
    if n <= 0:
        return (0.0, 1.0)
    if successes <= 0 or successes >= n:  # the closed form is exact at the ends, up to rounding
        return (0.0, Z95**2 / (n + Z95**2)) if successes <= 0 else (n / (n + Z95**2), 1.0)
    p = successes / n
    denom = 1.0 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def judge(perception: Perception, kind: str) -> tuple[bool, bool | None, bool | None]:
    """Score the episode's final frame: ``(success, detected, in_focus)`` (:data:`SUCCESS`; ground truth allowed)."""
    last = perception.shots[-1]
    truth = last.frame.truth
    focused = None if truth is None else bool(truth.blur_px <= IN_FOCUS_PX)
    if kind == "exposure":
        return bool(last.well_exposed), None, focused
    if kind == "focus":
        return bool(focused), None, focused
    detected = perception.detection(last) is not None if perception.detector is not None else bool(focused)
    return bool(detected and focused), detected, focused


def episode_result(env: Any, index: int, kind: str) -> EpisodeResult:
    """Summarise ``env``'s current episode (its ``perception`` and ``world``; shared by policies and baselines) and
    judge its final frame.

    ``ms_per_step`` is everything the method computed per frame it saw — ``perception.compute``, the clock its
    features, observations, decisions and detector calls ran on (each counted once, however they nest); it only
    grows when the method asks for something. The judge's own detector call on the final frame, if the method never
    made it, is not counted.
    """
    perception, episode = env.perception, env.world.episode
    frames = perception.frames
    compute_s, detector_s = perception.compute.seconds, perception.detector_s
    success, detected, focused = judge(perception, kind)
    last = frames[-1]
    exp_moves, lens_moves = _count_moves(frames)
    truth = last.truth
    clipped = math.nan
    if truth is not None:
        x0, y0, x1, y1 = truth.object_box
        obj = last.image[y0:y1, x0:x1]
        clipped = float(np.mean((obj <= 2) | (obj >= 253))) if obj.size else math.nan
    n = max(len(frames), 1)
    return EpisodeResult(
        episode=index,
        scene=episode.get("scene", ""),
        background=episode.get("background", ""),
        distance_m=float(episode.get("distance_m", math.nan)),
        lux=float(episode.get("lux", math.nan)),
        success=success,
        detected=detected,
        in_focus=focused,
        steps=len(frames) - 1,
        exposure_steps=exp_moves,
        lens_steps=lens_moves,
        final_exposure_us=float(last.exposure_us),
        final_lens_v=last.lens_v,
        final_peak=float(paper_histogram(last.image)[2]),
        final_blur_px=float(truth.blur_px) if truth is not None else math.nan,
        ms_per_step=1e3 * compute_s / n,
        detector_ms_per_step=1e3 * detector_s / n,
        object_clipped_fraction=clipped,
        rig_seconds=rig_seconds(frames),
        first=frames[0].image,
        last=last.image,
        box=perception.reference_boxes[0]
        if perception.reference_boxes
        else (truth.object_box if truth is not None else None),
    )


def _rate(flags: list[bool]) -> tuple[float, list[float]]:
    n, k = len(flags), int(sum(flags))
    return (k / n if n else 0.0), list(wilson_interval(k, n))


def summarise(results: list[EpisodeResult]) -> dict[str, Any]:
    """The bench JSON contract's per-method object (rates with their 95 % Wilson intervals; rig times over the
    successful episodes only, None when there are none).

    Faulted episodes (``fault`` set: an unrecovered device fault) are not the method's failures: ``fault_rate`` is
    their share of all episodes, and every other figure — ``success_rate`` included — is over the episodes that ran
    to their end.
    """
    faulted = sum(r.fault is not None for r in results)
    fault_rate = faulted / len(results) if results else 0.0
    results = [r for r in results if r.fault is None]
    steps = np.asarray([r.steps for r in results], float)
    ok = [r for r in results if r.success]
    rate, ci = _rate([r.success for r in results])
    out: dict[str, Any] = {
        "success_rate": rate,
        "success_ci95": ci,
        "fault_rate": fault_rate,
        "mean_steps": float(steps.mean()) if results else 0.0,
        "p95_steps": float(np.percentile(steps, 95)) if results else 0.0,
        "ms_per_step": float(np.mean([r.ms_per_step for r in results])) if results else 0.0,
        "detector_ms_per_step": float(np.mean([r.detector_ms_per_step for r in results])) if results else 0.0,
        "rig_seconds": {rig: float(np.mean([r.rig_seconds[rig] for r in ok])) if ok else None for rig in RIGS},
        "mean_exposure_steps": float(np.mean([r.exposure_steps for r in results])) if results else 0.0,
        "mean_lens_steps": float(np.mean([r.lens_steps for r in results])) if results else 0.0,
    }
    if results and results[0].detected is not None:
        out["detection_rate"], out["detection_ci95"] = _rate([bool(r.detected) for r in results])
    if results and results[0].in_focus is not None:
        out["in_focus_rate"], out["in_focus_ci95"] = _rate([bool(r.in_focus) for r in results])
    clipped = [r.object_clipped_fraction for r in results if math.isfinite(r.object_clipped_fraction)]
    if clipped:
        out["object_clipped_fraction"] = float(np.mean(clipped))
    return out


def eval_config(
    policy: Policy,
    scenes: list[str] | None = None,
    detector: str | None = None,
    backgrounds: list[str] | None = None,
    domain: str = "wide",
    camera: str = "sim",
) -> EnvConfig:
    """The policy's training env in the evaluation world: held-out objects and backgrounds (unless given), the
    domain's distances, light and start settings, success judged at 2 px, the deployed safety nets on.

    The focus task stops paper-mode agents on the no-reference ``estimated-focus`` test (no detector can see
    most held-out photos); the joint task uses a real detector (``haar-face`` on ``astronaut`` by default).
    """
    changes: dict[str, Any] = {**domain_changes(domain), "camera": camera}
    changes["scenes"] = tuple(scenes) if scenes else EVAL_SCENES
    changes["backgrounds"] = tuple(backgrounds) if backgrounds else EVAL_BACKGROUNDS
    changes["goal_blur_px"] = IN_FOCUS_PX  # success is always judged at 2 px, whatever margin training asked for
    if policy.task == "joint":
        changes["detector"] = detector or "haar-face"
        if not scenes and changes["detector"] == "haar-face":
            changes["scenes"] = ("astronaut",)  # the held-out photo with a face
    else:
        changes["detector"] = "estimated-focus"
    return deployed(policy.env_config(**changes), policy.task)  # the deployed safety nets (dasha.envs.safety_nets)


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
    plt = pyplot()
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
    return save_figure(fig, path)
