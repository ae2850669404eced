"""Image encoders: frames → fixed-length float32 feature vectors (the agents' "latent").

One interface, :class:`Encoder` (``name``, ``dim``, ``encode(frames) -> float32 [N, dim]``), three encoders:

* ``default`` — :class:`DescriptorEncoder`, a fast hand-built no-reference descriptor of exposure and focus
  (≈1 ms per 256×256 frame on one core; no weights). Exposure: a fine histogram, percentiles and clipping
  fractions. Focus: multi-scale gradient energy and radial spectral band ratios, both normalised by the
  image's own contrast so that blur size, not brightness, moves them (a disc blur of diameter c removes
  spectral power above ≈1.22/c cycles/px).
* ``cnn`` — :class:`CNNEncoder`, a small convolutional encoder on a 64×64 downsampled frame; the same torch
  module serves as the trainable encoder of an RLlib policy (the paper's "deep features" option, end to end).
* ``resnet152`` — :class:`ResNet152Encoder`, the paper's encoder: torchvision ResNet-152 without its final fc
  (2048-d), Resize 256 / CenterCrop 224 / ImageNet normalisation, eval mode. Needs ``dasha[torchvision]``;
  weights from a local file or torchvision's cache, never downloaded (``weights="random"`` for tests).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dasha.camera.errors import DependencyMissingError


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
@lru_cache(maxsize=16)
def _radial_bins(h: int, w: int, n_bands: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Band index of every rFFT coefficient (log-spaced radial bands, cycles/px 1/64 … 0.5) and the window."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    r = np.sqrt(fy**2 + fx**2)
    edges = np.geomspace(1.0 / 64.0, 0.5, n_bands + 1)
    idx = np.searchsorted(edges, r, side="right") - 1  # -1 below the first edge (DC and lowest frequencies)
    idx[(r > 0.5)] = n_bands - 1  # corners beyond Nyquist radius join the top band
    idx = np.where(idx < 0, n_bands, idx).astype(np.int32)  # n_bands = the discarded lowest band
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    return idx.ravel(), window, n_bands


class DescriptorEncoder(Encoder):
    """Fast no-reference exposure + focus descriptor (see the module docstring). ``dim`` = 65 (64 without blur).

    Args:
        with_blur: append the blur-size estimate of :mod:`dasha.vision.blur_estimator` (feature 64,
            ``log(1 + blur_px) / 3``), an MLP on features 0–63 shipped with dasha.

    Layout (all roughly unit-scaled):

    ======  ======================================================================================
    0–31    32-bin grey histogram over 0–255, fractions × 4
    32–36   percentiles 1, 10, 50, 90, 99 of the grey level / 255
    37–39   mean / 255, std / 128, log10 of the std
    40–41   fractions of pixels at ≤ 2 (black-clipped) and ≥ 253 (saturated)
    42–45   gradient energy at scales 1, 2, 4, 8 px, log10 of mean |∇I|² / (σ² + 1)
    46–57   12 radial spectral bands (log-spaced 1/64 … 0.5 cycles/px) log10 share of the AC power
    58–61   band ratios high/mid: log10 of neighbouring-octave power ratios at the 4 highest octaves
    62–63   Laplacian energy log10 (mean Δ² / (σ² + 1)) and a noise estimate (median |Δ| / 128)
    64      estimated object blur: log(1 + blur px) / 3 (``with_blur`` only)
    ======  ======================================================================================
    """

    name = "default"
    n_bands = 12
    fft_size = 128
    """Frames are area-resized to at most this size per side for the spectrum (px)."""

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
        self.dim = 65 if with_blur else 64

    def _encode(self, frames: list[np.ndarray]) -> np.ndarray:
        base = np.stack([self._one(f) for f in frames])
        if self.estimator is None:
            return base
        blur = self.estimator.log_blur(base)[:, None] / 3.0
        return np.concatenate([base, blur.astype(np.float32)], axis=1)

    def _one(self, img: np.ndarray) -> np.ndarray:
        out = np.empty(64, np.float32)
        n = img.size
        counts = np.bincount(img.ravel(), minlength=256).astype(np.float64)
        out[0:32] = counts.reshape(32, 8).sum(axis=1) / n * 4.0
        cdf = np.cumsum(counts) / n
        out[32:37] = np.searchsorted(cdf, [0.01, 0.10, 0.50, 0.90, 0.99]) / 255.0
        levels = np.arange(256.0)
        mean = float(counts @ levels / n)
        var = float(counts @ (levels - mean) ** 2 / n)
        std = math.sqrt(var)
        out[37:40] = (mean / 255.0, std / 128.0, math.log10(std + 1e-3))
        out[40] = cdf[2]
        out[41] = 1.0 - cdf[252]
        x = img.astype(np.float32)
        norm = var + 1.0
        level = x
        for k in range(4):
            gx = level[:, 1:] - level[:, :-1]
            gy = level[1:, :] - level[:-1, :]
            energy = (float(np.dot(gx.ravel(), gx.ravel())) + float(np.dot(gy.ravel(), gy.ravel()))) / level.size
            out[42 + k] = math.log10(energy / norm + 1e-6)
            if k < 3:
                level = cv2.pyrDown(level)
        out[46:62] = self._spectrum(x, mean)
        lap = x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4.0 * x[1:-1, 1:-1]
        out[62] = math.log10(float(np.dot(lap.ravel(), lap.ravel())) / lap.size / norm + 1e-6)
        out[63] = float(np.median(np.abs(lap[::4, ::4]))) / 128.0
        return out

    def _spectrum(self, x: np.ndarray, mean: float) -> np.ndarray:
        h, w = x.shape
        s = max(h, w) / self.fft_size
        if s > 1:
            x = cv2.resize(x, (max(16, round(w / s)), max(16, round(h / s))), interpolation=cv2.INTER_AREA)
        h, w = x.shape
        idx, window, nb = _radial_bins(h, w, self.n_bands)
        f = np.fft.rfft2((x - mean) * window)
        power = (f.real**2 + f.imag**2).ravel()
        bands = np.bincount(idx, weights=power, minlength=nb + 1)[:nb]
        total = bands.sum() + 1e-9
        share = np.log10(bands / total + 1e-9)
        top = bands[-8:]  # the highest 8 bands ≈ 4 octaves in pairs
        octaves = top.reshape(4, 2).sum(axis=1) + 1e-9
        ratios = np.log10(np.concatenate([[octaves[0] / (bands[:-8].sum() + 1e-9)], octaves[1:] / octaves[:-1]]))
        return np.concatenate([share / 4.0, ratios / 4.0]).astype(np.float32)


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
        torch.manual_seed(seed)
        self.net = build_cnn(dim).eval()
        if weights is not None:
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
            ``"random"`` for a random-init network (tests; same compute).
        threads: torch intra-op threads (None: leave torch's setting).
    """

    name = "resnet152"
    dim = 2048

    def __init__(self, weights: str | Path | None = None, threads: int | None = None) -> None:
        import torch

        tv = _torchvision()
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
