"""What an agent attends to when it decides: attributions over its observation and saliency over the frame.

Two views of one decision (the greedy action of a trained :class:`~dasha.agents.policy.Policy` module):

* :func:`integrated_gradients` over the **observation vector** (Sundararajan et al. 2017): the path integral of the
  gradient of the chosen action's log-probability from a zero observation to the real one, times the difference —
  the attributions sum to the change in log-probability, so they say which features (blur estimate, side of focus,
  the focus fit, exposure statistics, …) pushed the decision and which way.
* :func:`occlusion_saliency` over the **frame** (Zeiler & Fergus 2014): the image features dasha's agents see are
  computed by perception, not a differentiable network, so each patch of the frame is replaced by its mean and the
  observation rebuilt; the drop in the chosen action's log-probability is the patch's saliency.

:func:`saliency_figure` writes both for the first decisions of a few evaluation episodes (``dasha eval --plots``
writes ``saliency.png`` beside ``before_after.png``). Torch only; no Ray.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dasha.agents.nets import ActorCritic
from dasha.agents.policy import Policy
from dasha.envs.hierarchical import HIGH, module_of
from dasha.envs.observations import exposure_observation, focus_observation
from dasha.envs.perception import Shot


def _chosen_log_prob(net: ActorCritic, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Sum over action components of log π(chosen | obs), per row of ``obs``."""
    parts = torch.split(net.logits(obs), net.nvec, dim=-1)
    return sum(torch.log_softmax(p, -1)[:, int(a)] for p, a in zip(parts, action, strict=True))  # type: ignore[return-value]


def integrated_gradients(net: ActorCritic, obs: np.ndarray, steps: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``(greedy action, attribution per observation feature)``; the baseline is the zero observation."""
    x = torch.as_tensor(np.asarray(obs, np.float32))[None]
    with torch.no_grad():
        action = net.greedy(x)[0]
    alphas = torch.linspace(1.0 / steps, 1.0, steps)[:, None]
    path = (alphas * x).requires_grad_(True)
    _chosen_log_prob(net, path, action).sum().backward()
    grads = path.grad.mean(dim=0)  # type: ignore[union-attr]
    return action.numpy(), (grads * x[0]).detach().numpy()


def occlusion_saliency(net: ActorCritic, observe: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                       patch_px: int = 32) -> np.ndarray:  # fmt: skip
    """Per-pixel saliency (≥ 0) of ``image`` for the decision ``observe(image)`` leads to: the drop of the chosen
    action's log-probability when each ``patch_px`` square is replaced by its mean grey."""
    x = torch.as_tensor(observe(image))[None]
    with torch.no_grad():
        action = net.greedy(x)[0]
        base = float(_chosen_log_prob(net, x, action)[0])
        heat = np.zeros(image.shape, np.float32)
        h, w = image.shape
        for y in range(0, h, patch_px):
            for x0 in range(0, w, patch_px):
                occluded = image.copy()
                window = occluded[y : y + patch_px, x0 : x0 + patch_px]
                window[...] = int(window.mean())
                o = torch.as_tensor(observe(occluded))[None]
                heat[y : y + patch_px, x0 : x0 + patch_px] = max(base - float(_chosen_log_prob(net, o, action)[0]), 0.0)
    return heat


@dataclasses.dataclass
class Decision:
    """One decision of an episode: the module that made it, its observation, the frame, and how to re-observe."""

    module: str
    observation: np.ndarray
    image: np.ndarray
    observe: Callable[[np.ndarray], np.ndarray]
    """The module's observation had the current frame looked like the given image (the history unchanged)."""


def _reobserver(env: Any, agent: str | None) -> Callable[[np.ndarray], np.ndarray]:
    """Rebuild the acting phase's observation, as it is now, with a different current image (the phase's state is
    captured here: the closure stays valid after the episode moves on)."""
    perception = env.perception
    exposure_turn = agent == HIGH or (agent is None and not hasattr(env.phase, "history"))
    phase = (env.high if agent == HIGH else env.low) if agent is not None else env.phase
    frame, prev, moves = phase.shot.frame, phase.prev, phase.moves
    if exposure_turn:

        def exposure(img: np.ndarray) -> np.ndarray:
            shot = Shot(dataclasses.replace(frame, image=img), perception)
            return exposure_observation(perception, shot, prev, moves)

        return exposure
    best, earlier = phase.best, list(phase.history[:-1])

    def focus(img: np.ndarray) -> np.ndarray:
        shot = Shot(dataclasses.replace(frame, image=img), perception)
        return focus_observation(perception, shot, prev, moves, best, [*earlier, shot])

    return focus


def decisions(policy: Policy, env: Any, seed: int, limit: int = 3) -> list[Decision]:
    """The first ``limit`` greedy decisions of ``policy`` in a seeded episode of ``env`` (its eval env)."""
    out: list[Decision] = []
    obs, _ = env.reset(seed=seed)
    done = False
    while not done and len(out) < limit:
        if policy.task == "joint":
            ((agent, o),) = obs.items()
            module, phase = module_of(agent), env.high if agent == HIGH else env.low
            out.append(Decision(module, o, phase.shot.frame.image, _reobserver(env, agent)))
            obs, _, term, trunc, _ = env.step({agent: policy.act(module, o)})
            done = term["__all__"] or trunc["__all__"]
        else:
            out.append(Decision(policy.task, obs, env.phase.shot.frame.image, _reobserver(env, None)))
            obs, _, term, trunc, _ = env.step(policy.act(policy.task, obs))
            done = term or trunc
    return out


def saliency_figure(policy: Policy, env: Any, seeds: Sequence[int], path: Path,
                    feature_names: Callable[[str, int, str], list[str]] | None = None) -> Path:  # fmt: skip
    """Frame saliency (top) and observation attributions (bottom) of the first decision after the start frame of
    each seeded episode (the lens agent's first move in the joint task), as one PNG."""
    from dasha.envs.observations import feature_names as default_names
    from dasha.plotting import pyplot, save_figure

    cfg = policy.env_config()
    names_of = feature_names or functools.partial(default_names, peak=cfg.obs_peak)
    chosen = []
    for seed in seeds:
        ds = decisions(policy, env, seed, limit=4)
        lens = [d for d in ds if d.module in ("low_level", "focus")]
        chosen.append((seed, (lens or ds)[0]))
    plt = pyplot()
    fig, axes = plt.subplots(2, len(chosen), figsize=(3.6 * len(chosen), 6.6), squeeze=False)
    for k, (seed, d) in enumerate(chosen):
        net = policy.nets[d.module]
        action, attr = integrated_gradients(net, d.observation)
        heat = occlusion_saliency(net, d.observe, d.image)
        top, bottom = axes[0, k], axes[1, k]
        top.imshow(d.image, cmap="gray", vmin=0, vmax=255)
        if heat.max() > 0:
            top.imshow(heat / heat.max(), cmap="inferno", alpha=0.45, vmin=0, vmax=1)
        top.set_title(f"seed {seed} · {d.module} · action {action.tolist()}", fontsize=8)
        top.axis("off")
        names = names_of(d.module, len(attr), cfg.mode)
        order = np.argsort(-np.abs(attr))[:10][::-1]
        bottom.barh([names[i] for i in order], attr[order], color=["tab:red" if attr[i] < 0 else "tab:blue"
                                                                    for i in order])  # fmt: skip
        bottom.tick_params(labelsize=6)
        bottom.set_title("integrated gradients (log-prob of the chosen action)", fontsize=7)
    fig.suptitle("what the agents attend to: frame occlusion (top), observation features (bottom)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["Decision", "decisions", "integrated_gradients", "occlusion_saliency", "saliency_figure"]
