"""No-reference blur-size estimator: descriptor → object blur-circle diameter (px), from one frame.

A small MLP on the :class:`~dasha.vision.encoders.DescriptorEncoder` features, trained on simulated frames of
the training photos (random scenes, distances, illuminance, exposure errors, f-numbers and defocus). It is the
"single-shot defocus estimation" idea (Jiang 2018; Pinkard 2019) at the cost of a few µs per frame, and it is
part of the ``default`` encoder's output (the last feature: ``log(1 + blur_px) / 3``). It estimates the *size* of
the defocus, not its sign: a disc blur looks the same on both sides of focus.

Two estimators ship: ``frame`` (whole frame; ``dasha/data/blur_estimator.pt``) and ``window`` (the AF window, the
central quarter of the frame that always shows the object; ``blur_estimator_window.pt``), torch ``state_dict`` files
reproducible with::

    python -m dasha.vision.blur_estimator --kind frame --samples 24000 --seed 0
    python -m dasha.vision.blur_estimator --kind window --samples 24000 --seed 0

Its accuracy on held-out photos is tested in ``tests/test_blur_estimator.py``.
"""

from __future__ import annotations

import argparse
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from dasha.vision.descriptor import DESCRIPTOR_DIM, describe

HIDDEN = 64
WEIGHTS = {"frame": "blur_estimator.pt", "window": "blur_estimator_window.pt"}
"""Weights per kind: ``frame`` looks at the whole frame, ``window`` at the AF window (central quarter)."""
#: Textures the shipped estimators were trained on (astronaut, coffee, moon, coins are held out for evaluation).
TRAIN_TEXTURES = ("camera", "chelsea", "rocket", "text", "page", "clock", "hubble_deep_field", "immunohistochemistry",
                  "cell", "retina", "horse", "checkerboard", "logo", "colorwheel", "microaneurysms",
                  "shepp_logan_phantom", "brick", "grass", "gravel")  # fmt: skip


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


WINDOW_PX = 64
"""Side of the AF window the ``window`` estimator was trained on (the central quarter of a 256 px frame)."""


def window_blur(image: np.ndarray) -> float:
    """Estimated object blur of a frame from its AF window: ``log(1 + blur_px) / 3`` (same scale as feature 64).

    Windows of other sizes are resampled to 64×64 px and the estimate is scaled back to native pixels.
    """
    import cv2

    from dasha.vision.focus_measures import af_window

    est = load_estimator("window")
    if est is None:
        raise FileNotFoundError("the window blur-estimator weights are missing (dasha/data/blur_estimator_window.pt)")
    win = af_window(image)
    scale = WINDOW_PX / win.shape[0]
    if win.shape != (WINDOW_PX, WINDOW_PX):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        win = cv2.resize(win, (WINDOW_PX, WINDOW_PX), interpolation=interp)
    blur = float(est.blur_px(describe(win)[None])[0]) / scale
    return math.log1p(blur) / 3.0


@lru_cache(maxsize=4)
def load_estimator(kind: str = "frame", path: str | None = None) -> BlurEstimator | None:
    """The shipped estimator of ``kind`` (or one at ``path``); None if no weights file exists yet."""
    import torch

    if kind not in WEIGHTS:
        raise ValueError(f"unknown blur estimator {kind!r} (choose from {sorted(WEIGHTS)})")
    file = Path(path) if path else Path(str(resources.files("dasha") / "data" / WEIGHTS[kind]))
    if not file.is_file():
        return None
    state = torch.load(file, map_location="cpu", weights_only=True)
    return BlurEstimator({k: v.numpy() for k, v in state.items()})


def simulate(
    samples: int, seed: int, textures: tuple[str, ...] = TRAIN_TEXTURES, size: int = 256, window: bool = False
):  # type: ignore[no-untyped-def]
    """Simulated (descriptor, blur px) pairs with random scenes, light, exposure error, aperture, defocus.

    With ``window`` the descriptor is computed on the AF window (:func:`dasha.vision.focus_measures.af_window`).
    """
    from dasha.camera.sim import BACKGROUND_TEXTURES, Scene, SimCamera
    from dasha.vision.focus_measures import af_window

    rng = np.random.default_rng(seed)
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
        feats[i] = describe(af_window(frame.image) if window else frame.image)
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
    ap.add_argument("--kind", choices=sorted(WEIGHTS), default="frame", help="whole frame or AF window")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out or Path(str(resources.files("dasha") / "data" / WEIGHTS[args.kind]))
    feats, blur = simulate(args.samples, args.seed, window=args.kind == "window")
    state = fit(feats, blur, args.seed)
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, out)
    pred = BlurEstimator(state).blur_px(feats)
    print(f"wrote {out}; train median |error| {np.median(np.abs(pred - blur)):.2f} px")


if __name__ == "__main__":
    main()
