"""Encoders: the interface contract, and that the default descriptor really sees focus (linear probe)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from dasha.camera import DependencyMissingError
from dasha.camera.sim import BACKGROUND_TEXTURES, OBJECT_TEXTURES, Scene, SimCamera
from dasha.vision import make_encoder
from dasha.vision.encoders import CNN_INPUT_SIZE, build_cnn, cnn_preprocess
from tests.conftest import need

HELD_OUT = ("astronaut", "coffee", "moon", "coins")
TRAIN = tuple(t for t in OBJECT_TEXTURES if t not in HELD_OUT)


@pytest.mark.parametrize("name", ["default", "cnn"])
def test_encoder_contract(name: str) -> None:
    enc = make_encoder(name)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 96, 80), dtype=np.uint8)
    batch = enc.encode(frames)
    assert batch.shape == (3, enc.dim) and batch.dtype == np.float32 and np.isfinite(batch).all()
    single = enc.encode(frames[1])
    assert single.shape == (1, enc.dim)
    np.testing.assert_allclose(single[0], batch[1], rtol=1e-5, atol=1e-5)
    listed = enc.encode([frames[0], rng.integers(0, 256, (64, 200), dtype=np.uint8)])  # mixed sizes
    assert listed.shape == (2, enc.dim)
    with pytest.raises(ValueError, match="2-D grey image"):
        enc.encode(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        enc.encode(np.zeros((2, 2, 32, 32), np.uint8))


def test_unknown_encoder_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="default, cnn, resnet152"):
        make_encoder("vgg")


def test_default_descriptor_is_contrast_normalised_for_focus() -> None:
    """Scaling the image contrast must not move the spectral focus features much; blurring must."""
    cam = SimCamera(Scene.from_names("camera", "grass", object_distance_m=1.0), size=128, seed=0, exposure_us=20_000)
    cam.lens.voltage = cam.in_focus_voltage()
    sharp = cam.render(noise=False).image
    dim = (sharp.astype(np.float32) * 0.5).astype(np.uint8)
    cam.lens.voltage = cam.in_focus_voltage() + 0.6  # ≈10 px blur
    blurred = cam.render(noise=False).image
    enc = make_encoder("default")
    f_sharp, f_dim, f_blur = enc.encode(np.stack([sharp, dim, blurred]))
    focus = slice(46, 62)
    assert np.abs(f_sharp[focus] - f_dim[focus]).mean() < 0.25 * np.abs(f_sharp[focus] - f_blur[focus]).mean()


def _probe_set(textures: tuple[str, ...], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Well-exposed frames, half in focus (blur ≤ 2 px), half clearly defocused (blur ≥ 4 px)."""
    rng = np.random.default_rng(seed)
    enc = make_encoder("default")
    feats, labels = [], []
    for i in range(n):
        vergence = rng.uniform(0.0, 5.0)
        scene = Scene.from_names(
            textures[i % len(textures)],
            BACKGROUND_TEXTURES[i % len(BACKGROUND_TEXTURES)],
            object_distance_m=float("inf") if vergence < 1e-3 else max(1 / vergence, 0.2),
            object_fraction=float(rng.uniform(0.45, 0.75)),
        )
        lux = float(np.exp(rng.uniform(np.log(5), np.log(1000))))
        cam = SimCamera(scene, size=192, lux=lux, seed=seed * 10_000 + i, exposure_us=10_000)
        mean = float(cam.render(noise=False).image.mean())
        cam.exposure_us = float(np.clip(10_000 * rng.uniform(70, 150) / max(mean, 1.0), 24, 4e6))
        v_focus, px_per_v = cam.in_focus_voltage(), cam.optics.px_per_diopter  # 1 dpt/V on the working span
        if i % 2 == 0:
            v = v_focus + rng.uniform(-1.9, 1.9) / px_per_v
        else:
            v = v_focus + rng.choice([-1, 1]) * rng.uniform(4.0 / px_per_v, 4.0)
        cam.lens.voltage = float(np.clip(v, 24, 70))
        frame = cam.capture()
        feats.append(enc.encode(frame.image)[0])
        labels.append(frame.truth.blur_px <= 2.0)
    return np.asarray(feats), np.asarray(labels, dtype=np.float32)


def test_default_features_separate_in_focus_from_defocused_on_held_out_scenes() -> None:
    """Linear probe (logistic regression) trained on 10 photos, tested on 4 other photos: ≥ 95 % accuracy."""
    x_tr, y_tr = _probe_set(TRAIN, 500, seed=1)
    x_te, y_te = _probe_set(HELD_OUT, 240, seed=2)
    assert 0.4 < y_tr.mean() < 0.6 and 0.4 < y_te.mean() < 0.6
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-6
    a = torch.tensor((x_tr - mu) / sd, dtype=torch.float32)
    y = torch.tensor(y_tr)
    torch.manual_seed(0)
    probe = torch.nn.Linear(a.shape[1], 1)
    opt = torch.optim.LBFGS(probe.parameters(), max_iter=300)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(probe(a)[:, 0], y)
        loss = loss + 1e-3 * (probe.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = probe(torch.tensor((x_te - mu) / sd, dtype=torch.float32))[:, 0].numpy() > 0
    accuracy = float((pred == (y_te > 0.5)).mean())
    assert accuracy >= 0.95, accuracy


def test_cnn_is_trainable_end_to_end_on_preprocessed_frames() -> None:
    frames = [np.full((100, 120), 7, np.uint8), np.full((64, 64), 200, np.uint8)]
    x = cnn_preprocess(frames)
    assert x.shape == (2, CNN_INPUT_SIZE, CNN_INPUT_SIZE, 1) and 0 <= x.min() and x.max() <= 1
    net = build_cnn(32)
    out = net(torch.from_numpy(x).permute(0, 3, 1, 2))
    out.sum().backward()
    assert out.shape == (2, 32) and all(p.grad is not None for p in net.parameters())


def test_cnn_encoder_loads_local_weights(tmp_path) -> None:  # type: ignore[no-untyped-def]
    net = build_cnn(128)
    for p in net.parameters():
        torch.nn.init.constant_(p, 0.01)
    path = tmp_path / "cnn.pt"
    torch.save(net.state_dict(), path)
    a = make_encoder("cnn", weights=path).encode(np.full((64, 64), 255, np.uint8))
    b = make_encoder("cnn", seed=3).encode(np.full((64, 64), 255, np.uint8))
    assert not np.allclose(a, b)
    assert np.allclose(a, a[0, 0])  # constant weights, constant image: every feature equal
    with pytest.raises(FileNotFoundError):
        make_encoder("cnn", weights=tmp_path / "missing.pt")


def test_resnet152_without_torchvision_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(DependencyMissingError, match=r"dasha\[torchvision\]"):
        make_encoder("resnet152", weights="random")


@pytest.mark.extras
def test_resnet152_random_init_contract() -> None:
    need("torchvision")
    enc = make_encoder("resnet152", weights="random")
    out = enc.encode(np.random.default_rng(0).integers(0, 256, (2, 240, 320), dtype=np.uint8))
    assert out.shape == (2, 2048) and np.isfinite(out).all()
    assert not enc.net.training  # eval mode, unlike the original notebook
    frame = np.random.default_rng(1).integers(0, 256, (1, 240, 320), dtype=np.uint8)
    torch_state = torch.random.get_rng_state()
    again = make_encoder("resnet152", weights="random")  # a policy trained on these features loads the same ones
    assert torch.equal(torch_state, torch.random.get_rng_state())  # caller's RNG kept
    assert np.allclose(enc.encode(frame), again.encode(frame))
    assert not np.allclose(enc.encode(frame), make_encoder("resnet152", weights="random", seed=1).encode(frame))
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        make_encoder("resnet152", weights=None) if not _cached() else pytest.skip("weights cached here")


def _cached() -> bool:
    from dasha.vision.encoders import _cached_resnet152_weights

    return _cached_resnet152_weights() is not None


def test_encoder_weights_reach_the_task_and_a_missing_file_is_a_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dasha.camera import SpecError, make_camera
    from dasha.envs.perception import Perception

    cam = make_camera("sim:size=96")
    perception = Perception({"size": 96, "encoder": "cnn", "encoder_weights": "random"}, cam)
    assert perception.encoder.name == "cnn"
    with pytest.raises(SpecError, match="not found"):
        Perception({"size": 96, "encoder": "cnn", "encoder_weights": str(tmp_path / "missing.pt")}, cam)
    with pytest.raises(SpecError, match="encoder_weights"):
        Perception({"size": 96, "encoder_weights": "random"}, cam)


def test_default_descriptor_computes_its_documented_formulas() -> None:
    """The descriptor's OpenCV paths (histogram, neighbour differences, Laplacian, DFT) give what the layout table
    says, checked against plain numpy on a textured frame and a cropped (non-contiguous) view of it."""
    import cv2

    from dasha.vision.descriptor import FFT_SIZE, FOCUS_FEATURES, N_BANDS, _radial_bins, describe, describe_focus

    rng = np.random.default_rng(3)
    big = cv2.GaussianBlur(rng.integers(0, 256, (300, 300), dtype=np.uint8), (0, 0), 1.5)
    for img in (big[:256, :256].copy(), big[40:168, 60:188]):
        out = describe(img)
        x = img.astype(np.float64)
        counts = np.bincount(img.ravel(), minlength=256)
        assert np.allclose(out[0:32], counts.reshape(32, 8).sum(axis=1) / img.size * 4.0)
        var = x.var()
        gx, gy = np.diff(x, axis=1), np.diff(x, axis=0)
        want = np.log10(((gx**2).sum() + (gy**2).sum()) / x.size / (var + 1.0) + 1e-6)
        assert out[42] == pytest.approx(want, abs=1e-5)
        lap = x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4.0 * x[1:-1, 1:-1]
        assert out[62] == pytest.approx(np.log10((lap**2).mean() / (var + 1.0) + 1e-6), abs=1e-5)
        assert out[63] == pytest.approx(np.median(np.abs(lap[::4, ::4])) / 128.0)
        s = max(img.shape) / FFT_SIZE
        xs = cv2.resize(img.astype(np.float32), (round(img.shape[1] / s), round(img.shape[0] / s)),
                        interpolation=cv2.INTER_AREA) if s > 1 else img.astype(np.float32)  # fmt: skip
        idx, window, nb = _radial_bins(*xs.shape, N_BANDS)
        f = np.fft.rfft2((xs.astype(np.float64) - x.mean()) * window)
        bands = np.bincount(idx, weights=np.abs(f.ravel()) ** 2, minlength=nb + 1)[:nb]
        assert np.allclose(out[46:58], np.log10(bands / bands.sum() + 1e-9) / 4.0, atol=1e-5)
        assert np.array_equal(describe_focus(img), out[FOCUS_FEATURES])  # the focus part alone: the same values
