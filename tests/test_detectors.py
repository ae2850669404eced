"""Detectors: the interface contract of every registered name; the paper's Fig. 1 premise on the simulator.

Fig. 1 premise: an off-the-shelf detector finds its object in the sharp, well-exposed render and loses it
in a strongly defocused one. Shown for ``haar-face`` (astronaut), ``aruco`` (a rendered marker) and
``haar-cat`` (Chelsea), each over several object distances and noise seeds. ``haar-body`` finds no person
in any offline ``skimage.data`` photo, so it is tested on the contract only. The CNN detectors
(``faster-rcnn``, ``retinanet``, ``yolo``) are optional extras: their contract tests run on random-init
models where the extras are installed and skip elsewhere; the "extra missing" error is tested everywhere.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from dasha.camera import DependencyMissingError
from dasha.camera.sim import Scene, SimCamera, load_texture
from dasha.vision.detectors import (
    DETECTORS,
    Box,
    Detector,
    WeightsNotFoundError,
    aruco_marker_texture,
    best_iou,
    iou,
    make_detector,
)
from tests.conftest import need

CORE = ("haar-face", "haar-body", "haar-cat", "aruco")
DISTANCES_M = (0.5, 1.5, 5.0)
SEEDS = (0, 1)
WIDE = (544, 1024)
STRONG_DEFOCUS_V = 24.0  # ≈ −5 dpt from focus for these distances: ~85–115 px blur circle


# -- helpers -----------------------------------------------------------------------------------------------
def well_exposed(cam: SimCamera, target: float = 115.0) -> float:
    """Set the exposure whose noise-free mean grey is closest to ``target``; return that mean."""
    best_e, best_m = 0.0, -1e9
    for e in np.geomspace(2_000, 200_000, 41):
        cam.exposure_us = float(e)
        m = float(cam.render(noise=False).image.mean())
        if abs(m - target) < abs(best_m - target):
            best_e, best_m = float(e), m
    cam.exposure_us = best_e
    assert 80 <= best_m <= 150
    return best_m


def sharp_and_blurred(
    scene: Scene, size: int | tuple[int, int], seed: int, defocus_v: float | None = None
) -> tuple[SimCamera, np.ndarray, np.ndarray, float]:
    """The in-focus frame and a defocused one (``defocus_v`` V off focus, or 24 V), and its blur (px)."""
    cam = SimCamera(scene, size=size, lux=100, seed=seed)
    well_exposed(cam)
    v_focus = cam.in_focus_voltage()
    cam.lens.voltage = v_focus
    sharp = cam.capture()
    assert sharp.truth is not None and sharp.truth.blur_px <= 2.0
    assert 80 <= sharp.image.mean() <= 150
    if defocus_v is None:
        cam.lens.voltage = STRONG_DEFOCUS_V
    else:
        lo, hi = cam.lens.limits.low, cam.lens.limits.high
        cam.lens.voltage = v_focus + defocus_v if v_focus + defocus_v <= hi else max(lo, v_focus - defocus_v)
    blurred = cam.capture()
    assert blurred.truth is not None
    return cam, sharp.image, blurred.image, blurred.truth.blur_px


def map_texture_box(box: Box, texture_shape: tuple[int, int], object_box: tuple[int, int, int, int]) -> Box:
    """Map a box in texture pixels into frame pixels through the scene's object box."""
    th, tw = texture_shape
    x0, y0, x1, y1 = object_box
    sx, sy = (x1 - x0) / tw, (y1 - y0) / th
    return Box(x0 + box.x0 * sx, y0 + box.y0 * sy, x0 + box.x1 * sx, y0 + box.y1 * sy, box.score, box.label)


def sample_frame(size: int | tuple[int, int] = 256) -> np.ndarray:
    cam = SimCamera(Scene.from_names("astronaut", "brick", object_distance_m=1.5, object_fraction=0.9), size=size)
    cam.exposure_us = 35_000
    cam.lens.voltage = cam.in_focus_voltage()
    return cam.capture().image


def check_boxes(boxes: list[Box], shape: tuple[int, ...]) -> None:
    h, w = shape[:2]
    assert isinstance(boxes, list)
    for b in boxes:
        assert isinstance(b, Box)
        assert isinstance(b.score, float) and np.isfinite(b.score)
        assert isinstance(b.label, str) and b.label
        assert -0.5 <= b.x0 <= b.x1 <= w + 0.5 and -0.5 <= b.y0 <= b.y1 <= h + 0.5
    scores = [b.score for b in boxes]
    assert scores == sorted(scores, reverse=True)


def check_bad_input(det: Detector) -> None:
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((64, 64), np.float32))
    with pytest.raises(ValueError, match="numpy array"):
        det.detect([[0] * 64] * 64)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="H×W"):
        det.detect(np.zeros(64, np.uint8))
    with pytest.raises(ValueError, match="H×W"):
        det.detect(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError, match="at least 8×8"):
        det.detect(np.zeros((4, 64), np.uint8))


# -- Box and IoU -------------------------------------------------------------------------------------------
def test_box_fields_and_helpers() -> None:
    b = Box(10.0, 20.0, 50.0, 40.0, 0.9, "face")
    assert (b.x0, b.y0, b.x1, b.y1, b.score, b.label) == (10.0, 20.0, 50.0, 40.0, 0.9, "face")
    assert b.area == 800.0 and b.width == 40.0 and b.height == 20.0
    assert b.as_tuple() == (10.0, 20.0, 50.0, 40.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.x0 = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="x1 ≥ x0"):
        Box(5.0, 0.0, 1.0, 1.0, 1.0, "bad")
    with pytest.raises(ValueError, match="finite"):
        Box(0.0, 0.0, float("nan"), 1.0, 1.0, "bad")


def test_iou_and_best_iou() -> None:
    a = Box(0.0, 0.0, 10.0, 10.0, 1.0, "x")
    assert iou(a, a) == 1.0
    assert iou(a, (0, 0, 10, 10)) == 1.0
    assert iou(a, (10, 0, 20, 10)) == 0.0  # touching edges (x1 exclusive)
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    assert best_iou([], a) == 0.0
    assert best_iou([(20, 20, 30, 30), (0, 0, 5, 10)], a) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="x0, y0, x1, y1"):
        iou((0, 0, 1), a)  # type: ignore[arg-type]


def test_registry_names_and_unknown_name() -> None:
    assert DETECTORS == ("haar-face", "haar-body", "haar-cat", "aruco", "faster-rcnn", "retinanet", "yolo")
    with pytest.raises(ValueError, match="haar-face, haar-body, haar-cat, aruco, faster-rcnn, retinanet, yolo"):
        make_detector("hog")


def test_detect_sorts_by_score_and_validates() -> None:
    class Fixed(Detector):
        name = "fixed"

        def _detect(self, image: np.ndarray) -> list[Box]:
            assert image.dtype == np.uint8 and image.ndim == 2 and image.flags.c_contiguous
            return [Box(0, 0, 1, 1, s, "x") for s in (0.2, 0.9, -1.0, 0.5)]

    det = Fixed()
    assert [b.score for b in det.detect(np.zeros((16, 16), np.uint8))] == [0.9, 0.5, 0.2, -1.0]
    assert len(det.detect(np.zeros((16, 16, 3), np.uint8))) == 4  # 3-channel converted to grey
    assert len(det.detect(np.zeros((16, 32), np.uint8)[:, ::2])) == 4  # non-contiguous view
    check_bad_input(det)


# -- contract of the core detectors -----------------------------------------------------------------------
@pytest.mark.parametrize("name", CORE)
def test_core_detector_contract(name: str) -> None:
    det = make_detector(name)
    assert det.name == name and isinstance(det, Detector)
    frame = sample_frame()
    boxes = det.detect(frame)
    check_boxes(boxes, frame.shape)
    # a 3-channel copy of the grey frame gives the same boxes
    assert det.detect(np.dstack([frame] * 3)) == boxes
    assert det.detect(np.zeros((64, 64), np.uint8)) == []
    check_bad_input(det)


def test_haar_options() -> None:
    det = make_detector("haar-body", cascade="haarcascade_fullbody.xml", min_neighbors=2, label="pedestrian")
    assert "fullbody" in repr(det)
    check_boxes(det.detect(sample_frame()), (256, 256))
    with pytest.raises(FileNotFoundError, match="not found"):
        make_detector("haar-face", cascade="no_such_cascade.xml")
    with pytest.raises(ValueError, match="scale_factor"):
        make_detector("haar-face", scale_factor=1.0)


def test_aruco_marker_texture() -> None:
    tex = aruco_marker_texture(7, size_px=400, border_frac=0.25)
    assert tex.dtype == np.uint8 and tex.shape == (400, 400)
    assert (tex[:40] == 255).all() and (tex[:, -40:] == 255).all()  # white quiet zone
    boxes = make_detector("aruco").detect(tex)
    assert [b.label for b in boxes] == ["aruco-7"] and boxes[0].score == 1.0
    marker = 400 / 1.5
    assert iou(boxes[0], (66.7, 66.7, 66.7 + marker, 66.7 + marker)) > 0.95
    assert make_detector("aruco", ids=[3]).detect(tex) == []
    big = aruco_marker_texture(42, size_px=300, dictionary="DICT_6X6_250")
    assert [b.label for b in make_detector("aruco", dictionary="DICT_6X6_250").detect(big)] == ["aruco-42"]
    with pytest.raises(ValueError, match="marker_id"):
        aruco_marker_texture(50)
    with pytest.raises(ValueError, match="unknown ArUco dictionary"):
        make_detector("aruco", dictionary="DICT_9X9_1")
    with pytest.raises(ValueError, match="unknown ArUco detector parameter"):
        make_detector("aruco", params={"noSuchParameter": 1})


# -- Fig. 1: detected when sharp, lost when strongly defocused ----------------------------------------------
@pytest.fixture(scope="module")
def face_in_photo() -> tuple[Box, tuple[int, int]]:
    """The astronaut's face found by haar-face on the original photo (texture px): the reference box."""
    tex = load_texture("astronaut")
    boxes = make_detector("haar-face").detect((tex * 255).astype(np.uint8))
    assert len(boxes) == 1  # one face in the photo
    return boxes[0], tex.shape


@pytest.mark.parametrize("distance_m", DISTANCES_M)
@pytest.mark.parametrize(("size", "fraction"), [(256, 0.9), (WIDE, 0.7)], ids=["256", "1024x544"])
def test_haar_face_sharp_vs_defocused(
    face_in_photo: tuple[Box, tuple[int, int]],
    size: int | tuple[int, int],
    fraction: float,
    distance_m: float,
) -> None:
    det = make_detector("haar-face")
    scene = Scene.from_names("astronaut", "brick", object_distance_m=distance_m, object_fraction=fraction)
    for seed in SEEDS:
        cam, sharp, blurred, blur_px = sharp_and_blurred(scene, size, seed)
        ref = map_texture_box(face_in_photo[0], face_in_photo[1], cam.scene.layers(*cam.size).object_box)
        assert best_iou(det.detect(sharp), ref) >= 0.5, f"face missed on the sharp render, seed {seed}"
        assert blur_px > 80
        assert best_iou(det.detect(blurred), ref) < 0.5, f"face found at {blur_px:.0f} px blur, seed {seed}"


@pytest.mark.parametrize(("size", "fraction"), [(256, 0.9), (WIDE, 0.7)], ids=["256", "1024x544"])
def test_haar_face_lost_three_volts_off_focus(
    face_in_photo: tuple[Box, tuple[int, int]], size: int | tuple[int, int], fraction: float
) -> None:
    """A moderate defocus (≈ 50 px blur circle, 3 V from focus) already loses the face."""
    det = make_detector("haar-face")
    for distance_m in DISTANCES_M:
        scene = Scene.from_names("astronaut", "brick", object_distance_m=distance_m, object_fraction=fraction)
        cam, sharp, blurred, blur_px = sharp_and_blurred(scene, size, seed=0, defocus_v=3.0)
        ref = map_texture_box(face_in_photo[0], face_in_photo[1], cam.scene.layers(*cam.size).object_box)
        assert best_iou(det.detect(sharp), ref) >= 0.5
        assert 40 < blur_px < 60
        assert best_iou(det.detect(blurred), ref) < 0.5


ARUCO_ID = 7
ARUCO_BORDER = 0.25


@pytest.mark.parametrize("distance_m", DISTANCES_M)
@pytest.mark.parametrize(
    ("size", "fraction"),
    [(256, 0.3), (256, 0.6), (256, 0.9), (WIDE, 0.2), (WIDE, 0.5), (WIDE, 0.9)],
    ids=["256-0.3", "256-0.6", "256-0.9", "1024x544-0.2", "1024x544-0.5", "1024x544-0.9"],
)
def test_aruco_sharp_vs_defocused(size: int | tuple[int, int], fraction: float, distance_m: float) -> None:
    tex = aruco_marker_texture(ARUCO_ID, size_px=400, border_frac=ARUCO_BORDER).astype(np.float32) / 255
    scene = Scene(
        name="aruco",
        object_texture=tex,
        background_texture=load_texture("brick"),
        object_distance_m=distance_m,
        object_fraction=fraction,
    )
    det = make_detector("aruco")
    label = f"aruco-{ARUCO_ID}"
    for seed in SEEDS:
        cam, sharp, blurred, blur_px = sharp_and_blurred(scene, size, seed)
        x0, y0, x1, y1 = cam.scene.layers(*cam.size).object_box
        q = ARUCO_BORDER / (1 + 2 * ARUCO_BORDER)  # quiet zone, fraction of the texture side
        marker = (x0 + q * (x1 - x0), y0 + q * (y1 - y0), x1 - q * (x1 - x0), y1 - q * (y1 - y0))
        found = [b for b in det.detect(sharp) if b.label == label]
        assert len(found) == 1, f"marker missed (or duplicated) on the sharp render, seed {seed}"
        assert iou(found[0], marker) >= 0.8
        assert blur_px > 80
        assert not [b for b in det.detect(blurred) if b.label == label], f"decoded at {blur_px:.0f} px blur"


@pytest.mark.parametrize("fraction", [0.3, 0.4])
def test_haar_cat_sharp_vs_defocused(fraction: float) -> None:
    """Chelsea's face (the whole object) at ~75–100 px; the cat cascade is scale-sensitive, see haar.py."""
    det = make_detector("haar-cat")
    for distance_m in DISTANCES_M:
        scene = Scene.from_names("chelsea", "brick", object_distance_m=distance_m, object_fraction=fraction)
        for seed in SEEDS:
            cam, sharp, blurred, _ = sharp_and_blurred(scene, 256, seed)
            box = cam.scene.layers(*cam.size).object_box
            assert best_iou(det.detect(sharp), box) >= 0.5, f"cat missed at {distance_m} m, seed {seed}"
            assert best_iou(det.detect(blurred), box) < 0.5


# -- optional extras: missing -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["faster-rcnn", "retinanet"])
def test_torchvision_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision → ImportError, installed or not
    with pytest.raises(DependencyMissingError, match=r"dasha\[torchvision\]") as info:
        make_detector(name)
    assert info.value.package == "torchvision" and isinstance(info.value, ImportError)


def test_ultralytics_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    with pytest.raises(DependencyMissingError, match=r"dasha\[yolo\]"):
        make_detector("yolo", model_yaml="yolov8n.yaml")


# -- optional extras: installed (random-init models, small frames) ------------------------------------------
@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to resolve a host name or open a network connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def small_frame() -> np.ndarray:
    return cv2.resize(sample_frame(256), (128, 128), interpolation=cv2.INTER_AREA)


@pytest.mark.extras
@pytest.mark.parametrize("name", ["faster-rcnn", "retinanet"])
def test_torchvision_contract(name: str, tmp_path: Path, no_network: None) -> None:
    need("torchvision")
    import torch

    torch.manual_seed(0)
    small = {"min_size": 128, "max_size": 128}
    det = make_detector(name, num_classes=3, score_threshold=0.0, **small)
    assert det.name == name
    frame = small_frame()
    boxes = det.detect(frame)
    check_boxes(boxes, frame.shape)
    assert boxes and {b.label for b in boxes} <= {"class-0", "class-1", "class-2"}
    check_bad_input(det)
    # weights round trip: a saved state_dict reloads to the same detections
    path = tmp_path / f"{name}.pth"
    torch.save(det._model.state_dict(), path)  # type: ignore[attr-defined]
    again = make_detector(name, weights=path, num_classes=3, score_threshold=0.0, **small)
    reloaded = again.detect(frame)
    assert [b.label for b in reloaded] == [b.label for b in boxes]
    np.testing.assert_allclose([b.as_tuple() for b in reloaded], [b.as_tuple() for b in boxes], atol=1e-3)
    only = make_detector(name, weights=path, num_classes=3, score_threshold=0.0, classes=["class-1"], **small)
    assert {b.label for b in only.detect(frame)} <= {"class-1"}
    with pytest.raises(ValueError, match="cannot load"):
        make_detector(name, weights=path, num_classes=5, **small)
    with pytest.raises(WeightsNotFoundError, match="never downloads") as info:
        make_detector(name, weights=tmp_path / "missing.pth")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


@pytest.mark.extras
def test_torchvision_coco_labels(no_network: None) -> None:
    need("torchvision")
    det = make_detector("faster-rcnn", classes=["person", "cat"], min_size=128, max_size=128)
    assert det.class_names[1] == "person" and len(det.class_names) == 91  # type: ignore[attr-defined]
    check_boxes(det.detect(small_frame()), (128, 128))
    with pytest.raises(ValueError, match="unknown class 'unicorn'"):
        make_detector("retinanet", classes=["unicorn"], min_size=128, max_size=128)


@pytest.fixture(scope="module")
def ultralytics_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ultralytics' settings at a temporary directory, and keep it offline, before it is imported."""
    config = tmp_path_factory.mktemp("ultralytics-config")
    env = {"YOLO_CONFIG_DIR": str(config), "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0", "YOLO_VERBOSE": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield config
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.mark.extras
def test_yolo_contract(
    ultralytics_sandbox: Path, tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    need("ultralytics")
    monkeypatch.chdir(tmp_path)
    import torch
    import ultralytics.utils

    assert Path(ultralytics.utils.USER_CONFIG_DIR).is_relative_to(ultralytics_sandbox)
    torch.manual_seed(0)
    det = make_detector("yolo", model_yaml="yolov8n.yaml", score_threshold=0.0, imgsz=128)
    assert det.name == "yolo"
    frame = small_frame()
    boxes = det.detect(frame)
    check_boxes(boxes, frame.shape)
    assert boxes and {b.label for b in boxes} <= set(det.names.values())  # type: ignore[attr-defined]
    check_bad_input(det)
    only = make_detector("yolo", model_yaml="yolov8n.yaml", score_threshold=0.0, imgsz=128, classes=["3"])
    assert {b.label for b in only.detect(frame)} <= {"3"}
    # a local checkpoint loads; a missing one (even a known model name) is an error, never a download
    path = tmp_path / "random.pt"
    det._model.save(path)  # type: ignore[attr-defined]
    check_boxes(make_detector("yolo", weights=path, score_threshold=0.0, imgsz=128).detect(frame), frame.shape)
    with pytest.raises(WeightsNotFoundError, match="never downloads"):
        make_detector("yolo", weights="yolov8n.pt")
    with pytest.raises(ValueError, match="exactly one"):
        make_detector("yolo")


def test_aruco_marker_scene_from_a_camera_spec() -> None:
    """``sim:scene=aruco:7``: the simulator renders the marker; it decodes in focus and not far out of focus."""
    from dasha.camera import make_camera
    from dasha.camera.sim import load_texture

    assert np.array_equal(load_texture("aruco:7"), aruco_marker_texture(7).astype(np.float32) / 255.0)
    cam = make_camera("sim:scene=aruco:7,distance=1.0,lux=300,exposure=8000")
    det = make_detector("aruco")
    cam.lens.set_voltage(cam.in_focus_voltage())
    assert [b.label for b in det.detect(cam.capture().image)] == ["aruco-7"]
    cam.lens.set_voltage(cam.in_focus_voltage() + 4.0)  # ≈ 65 px of blur
    assert det.detect(cam.capture().image) == []
