"""No-reference blur-size estimator: descriptor → object blur-circle diameter (px), from one frame.

A small MLP on the :class:`~dasha.vision.encoders.DescriptorEncoder` features, trained on simulated frames of
the training photos (random scenes, distances, illuminance, exposure errors, f-numbers and defocus). It is the
"single-shot defocus estimation" idea (Jiang 2018; Pinkard 2019) at the cost of a few µs per frame, and it is
part of the ``default`` encoder's output (the last feature: ``log(1 + blur_px) / 3``). It estimates the *size* of
the defocus, not its sign: a disc blur looks the same on both sides of focus.

The shipped weights (``dasha/data/blur_estimator.pt``, a torch ``state_dict``) are reproducible with::

    python -m dasha.vision.blur_estimator --samples 24000 --seed 0

Its accuracy on held-out photos is tested in ``tests/test_blur_estimator.py``.
"""

from __future__ import annotations

import argparse
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

DESCRIPTOR_DIM = 64
HIDDEN = 64
WEIGHTS = "blur_estimator.pt"
#: Photos the shipped estimator was trained on (the rest are held out for tests and evaluation).
TRAIN_TEXTURES = ("camera", "chelsea", "rocket", "text", "page", "clock", "hubble_deep_field", "immunohistochemistry",
                  "cell", "retina")  # fmt: skip


class BlurEstimator:
    """Descriptor features → estimated blur diameter (px), numpy inference (no torch at run time)."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.mu = state["mu"].astype(np.float32)
        self.sd = state["sd"].astype(np.float32)
        self.layers = [(state[f"w{i}"].astype(np.float32), state[f"b{i}"].astype(np.float32)) for i in range(3)]

    def log_blur(self, features: np.ndarray) -> np.ndarray:
        """``log(1 + blur_px)`` for descriptor rows ``[N, 64]`` (float32 ``[N]``)."""
        x = (np.asarray(features, np.float32)[:, :DESCRIPTOR_DIM] - self.mu) / self.sd
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            if i < len(self.layers) - 1:
                x = np.tanh(x)
        return x[:, 0]

    def blur_px(self, features: np.ndarray) -> np.ndarray:
        """Estimated blur diameters (px) for descriptor rows."""
        return np.expm1(np.maximum(self.log_blur(features), 0.0))


@lru_cache(maxsize=1)
def load_estimator(path: str | None = None) -> BlurEstimator | None:
    """The shipped estimator (or one at ``path``); None if no weights file exists (e.g. while training it)."""
    import torch

    file = Path(path) if path else Path(str(resources.files("dasha") / "data" / WEIGHTS))
    if not file.is_file():
        return None
    state = torch.load(file, map_location="cpu", weights_only=True)
    return BlurEstimator({k: v.numpy() for k, v in state.items()})


def simulate(samples: int, seed: int, textures: tuple[str, ...] = TRAIN_TEXTURES, size: int = 256):  # type: ignore[no-untyped-def]
    """Simulated (descriptor, blur px) pairs with random scenes, light, exposure error, aperture, defocus."""
    from dasha.camera.sim import BACKGROUND_TEXTURES, Scene, SimCamera
    from dasha.vision.encoders import DescriptorEncoder

    rng = np.random.default_rng(seed)
    enc = DescriptorEncoder(with_blur=False)
    feats = np.empty((samples, DESCRIPTOR_DIM), np.float32)
    blur = np.empty(samples, np.float32)
    cam: SimCamera | None = None
    for i in range(samples):
        vergence = float(rng.uniform(0.0, 5.0))
        scene = Scene.from_names(
            textures[int(rng.integers(len(textures)))],
            BACKGROUND_TEXTURES[int(rng.integers(len(BACKGROUND_TEXTURES)))],
            object_distance_m=math.inf if vergence < 1e-4 else max(1 / vergence, 0.2),
            background_distance_m=None if rng.random() < 0.3 else math.inf,
            object_fraction=float(rng.uniform(0.4, 0.8)),
            object_center=(float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6))),
        )
        lux = float(math.exp(rng.uniform(math.log(2), math.log(3000))))
        if cam is None:
            cam = SimCamera(scene, size=size, lux=lux)
        cam.set_scene(scene)
        cam.set_lux(lux)
        cam.set_f_number(float(rng.uniform(1.8, 8.0)))
        cam.reseed(int(rng.integers(2**31)))
        cam.exposure_us = 10_000
        mean = float(cam.render(noise=False).image.mean())
        target = float(np.exp(rng.uniform(np.log(25), np.log(200))))  # exposure errors included
        cam.exposure_us = float(np.clip(10_000 * target / max(mean, 1.0), 100, 4_500_000))
        v_focus = cam.in_focus_voltage()
        offset = float(np.exp(rng.uniform(np.log(0.01), np.log(15.0)))) * float(rng.choice([-1, 1]))
        cam.lens.snap(float(np.clip(v_focus + offset, 24, 70)))
        frame = cam.capture()
        feats[i] = enc.encode(frame.image)[0]
        blur[i] = frame.truth.blur_px
    return feats, blur


def fit(feats: np.ndarray, blur: np.ndarray, seed: int = 0, steps: int = 6000) -> dict[str, np.ndarray]:
    """Fit the MLP (Adam, Huber loss on log(1 + blur)); returns the numpy state."""
    import torch

    torch.manual_seed(seed)
    mu, sd = feats.mean(0), feats.std(0) + 1e-3
    x = torch.tensor((feats - mu) / sd, dtype=torch.float32)
    y = torch.tensor(np.log1p(blur), dtype=torch.float32)
    net = torch.nn.Sequential(
        torch.nn.Linear(DESCRIPTOR_DIM, HIDDEN), torch.nn.Tanh(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.Tanh(),
        torch.nn.Linear(HIDDEN, 1),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (512,), generator=gen)
        loss = torch.nn.functional.huber_loss(net(x[idx])[:, 0], y[idx], delta=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    state = {"mu": mu.astype(np.float32), "sd": sd.astype(np.float32)}
    for i, k in enumerate((0, 2, 4)):
        state[f"w{i}"] = net[k].weight.detach().numpy().copy()
        state[f"b{i}"] = net[k].bias.detach().numpy().copy()
    return state


def main(argv: list[str] | None = None) -> None:
    """Train the estimator on simulated frames and write the weights file."""
    import torch

    ap = argparse.ArgumentParser(description="Train the dasha blur-size estimator on the simulator.")
    ap.add_argument("--samples", type=int, default=24_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(str(resources.files("dasha") / "data" / WEIGHTS)))
    args = ap.parse_args(argv)
    feats, blur = simulate(args.samples, args.seed)
    state = fit(feats, blur, args.seed)
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, args.out)
    pred = BlurEstimator(state).blur_px(feats)
    print(f"wrote {args.out}; train median |error| {np.median(np.abs(pred - blur)):.2f} px")


if __name__ == "__main__":
    main()
