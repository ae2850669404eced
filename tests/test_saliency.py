"""Saliency: integrated gradients sum to the change in log-probability; occlusion finds what the decision reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dasha.agents.evaluate import eval_config, make_env
from dasha.agents.nets import ActorCritic
from dasha.agents.policy import Policy
from dasha.agents.saliency import _chosen_log_prob, decisions, integrated_gradients, occlusion_saliency, saliency_figure


def test_integrated_gradients_are_complete() -> None:
    torch.manual_seed(0)
    net = ActorCritic(6, [5], (16, 16))
    obs = np.asarray([0.5, -1.0, 2.0, 0.0, 0.3, -0.7], np.float32)
    action, attr = integrated_gradients(net, obs, steps=256)
    x = torch.as_tensor(obs)[None]
    with torch.no_grad():
        delta = float(_chosen_log_prob(net, x, torch.as_tensor(action))[0]) - float(
            _chosen_log_prob(net, torch.zeros_like(x), torch.as_tensor(action))[0])  # fmt: skip
    assert attr.shape == (6,) and abs(attr.sum() - delta) < 0.02 * max(abs(delta), 1e-3) + 1e-4
    assert attr[3] == 0.0  # a zero feature gets no attribution from a zero baseline


def test_occlusion_finds_the_pixels_the_observation_reads() -> None:
    net = ActorCritic(1, [2], (4,))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.pi.bias[:] = torch.tensor([0.0, 1.0])  # action 1 always; its log-prob changes only through the input
        net.actor[0].weight[:] = 1.0
        net.pi.weight[1, :] = 1.0
    image = np.full((64, 64), 100, np.uint8)
    image[0:16:2, 0:16] = 250  # a textured corner: only its contrast moves the observation

    def observe(img: np.ndarray) -> np.ndarray:
        return np.asarray([img[0:16, 0:16].std() / 128.0], np.float32)

    heat = occlusion_saliency(net, observe, image, patch_px=16)
    assert heat[0:16, 0:16].min() > 0.0  # flattening the corner's texture costs the chosen action probability
    assert heat[16:, 16:].max() == 0.0  # elsewhere nothing the decision reads


def test_eval_saliency_figure_for_the_shipped_focus_policy(tmp_path: Path) -> None:
    policy = Policy.shipped("focus")
    env = make_env("focus", eval_config(policy).replace(size=128, scenes=("coffee",)))
    ds = decisions(policy, env, seed=1, limit=2)
    assert ds and ds[0].module == "focus" and np.allclose(ds[0].observe(ds[0].image), ds[0].observation, atol=1e-5)
    out = saliency_figure(policy, env, [1], tmp_path / "saliency.png")
    assert out.is_file() and out.stat().st_size > 10_000
