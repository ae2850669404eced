"""Image encoders: frames → fixed-length float32 feature vectors (the agents' "latent").

One interface, :class:`Encoder` (``name``, ``dim``, ``encode(frames) -> float32 [N, dim]``), three encoders:

* ``default`` — :class:`DescriptorEncoder`, the fast hand-built no-reference descriptor of exposure and focus of
  :mod:`dasha.vision.descriptor` plus the shipped blur-size estimate (≈0.6 ms per 256×256 frame on one core).
* ``cnn`` — :class:`CNNEncoder`, a small convolutional encoder on a 64×64 downsampled frame; the same torch
  module serves as the trainable encoder of an RLlib policy (the paper's "deep features" option, end to end).
* ``resnet152`` — :class:`ResNet152Encoder`, the paper's encoder: torchvision ResNet-152 without its final fc
  (2048-d), Resize 256 / CenterCrop 224 / ImageNet normalisation, eval mode. Needs ``dasha[torchvision]``;
  weights from a local file or torchvision's cache, never downloaded (``weights="random"`` for tests).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dasha.camera.errors import DependencyMissingError
from dasha.vision.descriptor import DESCRIPTOR_DIM, describe


def as_batch(frames: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frames as a list of 2-D uint8 arrays (accepts one H×W frame, an N×H×W array or a sequence)."""
    if isinstance(frames, np.ndarray):
        if frames.ndim == 2:
            frames = [frames]
        elif frames.ndim == 3:
            frames = list(frames)
        else:
            raise ValueError(f"expected frames H×W or N×H×W, got shape {frames.shape}")
    out = []
    for f in frames:
        a = np.asarray(f)
        if a.ndim != 2 or a.shape[0] < 16 or a.shape[1] < 16:
            raise ValueError(f"each frame must be a 2-D grey image of at least 16×16 px, got shape {a.shape}")
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        out.append(a)
    return out


class Encoder(ABC):
    """Frames → features. ``encode`` accepts H×W, N×H×W or a list of frames (uint8 grey)."""

    name: str
    dim: int

    def encode(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Features, float32 ``[N, dim]``."""
        batch = as_batch(frames)
        out = self._encode(batch)
        return np.ascontiguousarray(out, dtype=np.float32)

    @abstractmethod
    def _encode(self, frames: list[np.ndarray]) -> np.ndarray:
        """Encode validated uint8 frames."""


# ---------------------------------------------------------------------------------------------------------
# default: hand-built descriptor
# ---------------------------------------------------------------------------------------------------------
class DescriptorEncoder(Encoder):
    """Fast no-reference exposure + focus descriptor (:mod:`dasha.vision.descriptor`). ``dim`` = 65 (64 without blur).

    Args:
        with_blur: append the blur-size estimate of :mod:`dasha.vision.blur_estimator` (feature 64,
            ``log(1 + blur_px) / 3``), an MLP on features 0–63 shipped with dasha.
    """

    name = "default"

    def __init__(self, with_blur: bool = True) -> None:
        self.estimator = None
        if with_blur:
            from dasha.vision.blur_estimator import load_estimator

            self.estimator = load_estimator()
            if self.estimator is None:
                raise FileNotFoundError(
                    "the blur-estimator weights (dasha/data/blur_estimator.pt) are missing; "
                    "reinstall dasha or run python -m dasha.vision.blur_estimator"
                )
        self.dim = DESCRIPTOR_DIM + 1 if with_blur else DESCRIPTOR_DIM

    def _encode(self, frames: list[np.ndarray]) -> np.ndarray:
        base = np.stack([describe(f) for f in frames])
        if self.estimator is None:
            return base
        blur = self.estimator.log_blur(base)[:, None] / 3.0
        return np.concatenate([base, blur.astype(np.float32)], axis=1)


# ---------------------------------------------------------------------------------------------------------
# cnn: small conv encoder (torch)
# ---------------------------------------------------------------------------------------------------------
CNN_INPUT_SIZE = 64


def cnn_preprocess(frames: list[np.ndarray], size: int = CNN_INPUT_SIZE) -> np.ndarray:
    """Area-resize frames to ``size``×``size`` and scale to [0, 1]: float32 ``[N, size, size, 1]`` (NHWC)."""
    out = np.empty((len(frames), size, size, 1), np.float32)
    for i, f in enumerate(frames):
        out[i, :, :, 0] = cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) * np.float32(1 / 255)
    return out


def build_cnn(dim: int = 128) -> Any:
    """The small conv net (torch ``nn.Sequential``): 64×64×1 → ``dim`` features. NCHW input."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 5, stride=2, padding=2),  # 32×32
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),  # 16×16
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1),  # 8×8
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),  # 4×4
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 16, dim),
        nn.ReLU(),
    )


class CNNEncoder(Encoder):
    """Small CNN on 64×64 frames (random init or a local ``state_dict`` file). ``dim`` = 128.

    Inside RLlib the same :func:`build_cnn` network is trained end to end from image observations produced by
    :func:`cnn_preprocess`; this class runs it stand-alone (e.g. with weights exported from a policy).
    """

    name = "cnn"

    def __init__(self, weights: str | Path | None = None, dim: int = 128, seed: int = 0) -> None:
        import torch

        self.dim = dim
        with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the caller's RNG alone
            torch.manual_seed(seed)
            self.net = build_cnn(dim).eval()
        if weights is not None and weights != "random":
            self.net.load_state_dict(_load_state_dict(weights))

    def _encode(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch

        x = torch.from_numpy(cnn_preprocess(frames)).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return self.net(x).numpy()


# ---------------------------------------------------------------------------------------------------------
# resnet152: the paper's encoder (torchvision)
# ---------------------------------------------------------------------------------------------------------
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _load_state_dict(path: str | Path) -> dict[str, Any]:
    import torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"weights file {str(p)!r} not found")
    return torch.load(p, map_location="cpu", weights_only=True)


def _torchvision() -> Any:
    try:
        import torchvision
    except (ImportError, RuntimeError) as exc:
        raise DependencyMissingError("torchvision", "torchvision", f"for the resnet152 encoder: {exc}") from None
    return torchvision


def _cached_resnet152_weights() -> Path | None:
    import torch

    hub = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(hub.glob("resnet152-*.pth")) if hub.is_dir() else []
    return found[0] if found else None


class ResNet152Encoder(Encoder):
    """The paper's encoder: ResNet-152 (ImageNet) without fc → 2048-d; eval mode (the original never called it).

    Args:
        weights: a local ``state_dict`` file, ``None`` to use torchvision's cache (``$TORCH_HOME``), or
            ``"random"`` for a random-init network (same compute; initialised from ``seed``, so a policy trained
            on its features sees the same features when it is loaded again).
        threads: torch intra-op threads (None: leave torch's setting).
        seed: the random init's seed (``weights="random"`` only).
    """

    name = "resnet152"
    dim = 2048

    def __init__(self, weights: str | Path | None = None, threads: int | None = None, seed: int = 0) -> None:
        import torch

        tv = _torchvision()
        with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the caller's RNG alone
            torch.manual_seed(seed)
            net = tv.models.resnet152(weights=None)
        if weights != "random":
            path = Path(weights) if weights is not None else _cached_resnet152_weights()
            if path is None:
                raise FileNotFoundError(
                    "no ResNet-152 weights: pass weights=PATH to a local .pth file (torchvision's "
                    "resnet152-*.pth) or put it in torchvision's cache; nothing is downloaded"
                )
            net.load_state_dict(_load_state_dict(path))
        net.fc = torch.nn.Identity()
        self.net = net.eval()
        if threads is not None:
            torch.set_num_threads(threads)

    def preprocess(self, frames: list[np.ndarray]) -> Any:
        """Resize shorter side to 256, centre-crop 224, grey → 3 channels, ImageNet normalisation (NCHW)."""
        import torch

        batch = np.empty((len(frames), 3, 224, 224), np.float32)
        mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
        std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
        for i, f in enumerate(frames):
            h, w = f.shape
            s = 256 / min(h, w)
            r = cv2.resize(f, (max(224, round(w * s)), max(224, round(h * s))), interpolation=cv2.INTER_LINEAR)
            y0, x0 = (r.shape[0] - 224) // 2, (r.shape[1] - 224) // 2
            crop = r[y0 : y0 + 224, x0 : x0 + 224].astype(np.float32) / 255.0
            batch[i] = (crop[None] - mean) / std
        return torch.from_numpy(batch)

    def _encode(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.net(self.preprocess(frames)).numpy()


ENCODERS = ("default", "cnn", "resnet152")


def make_encoder(name: str = "default", **kwargs: Any) -> Encoder:
    """Build an encoder by name (``default``, ``cnn``, ``resnet152``); kwargs go to its constructor."""
    if name == "default":
        return DescriptorEncoder(**kwargs)
    if name == "cnn":
        return CNNEncoder(**kwargs)
    if name == "resnet152":
        return ResNet152Encoder(**kwargs)
    raise ValueError(f"unknown encoder {name!r} (choose from: {', '.join(ENCODERS)})")
