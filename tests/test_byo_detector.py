"""Bring your own detector: `module:callable` and `NAME:WEIGHTS` wherever a detector is named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dasha.camera import SpecError
from dasha.cli import main
from dasha.envs import EnvConfig
from dasha.vision.detectors import CallableDetector, WeightsNotFoundError, is_detector_name, make_detector

MODULE = """
import numpy as np
from dasha.vision.detectors import make_detector

_haar = make_detector("haar-face")
calls = []

def faces(image):
    calls.append(image.shape)
    return [(b.x0, b.y0, b.x1, b.y1, b.score) for b in _haar.detect(image)]

def corner(image):
    return [(0, 0, 10, 10)]

def broken(image):
    return ["not a box"]
"""


@pytest.fixture
def my_detectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_detectors.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_detectors"
    sys.modules.pop("my_detectors", None)


def test_a_python_callable_is_a_detector(my_detectors: str) -> None:
    det = make_detector(f"{my_detectors}:corner")
    assert isinstance(det, CallableDetector)
    (box,) = det.detect(np.zeros((32, 32), np.uint8))
    assert box.as_tuple() == (0.0, 0.0, 10.0, 10.0) and box.label == "object"
    with pytest.raises(SpecError, match="not a box"):
        make_detector(f"{my_detectors}:broken").detect(np.zeros((32, 32), np.uint8))
    with pytest.raises(SpecError, match="has no 'nope'"):
        make_detector(f"{my_detectors}:nope")
    with pytest.raises(SpecError, match="cannot import"):
        make_detector("no_such_module_xyz:f")
    assert is_detector_name("pkg.mod:fn") and is_detector_name("yolo:w.pt") and not is_detector_name("nope")
    assert EnvConfig(detector=f"{my_detectors}:corner").detector == f"{my_detectors}:corner"


def test_weights_by_name_are_local_files_only(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="never downloads"):
        make_detector(f"faster-rcnn:{tmp_path / 'missing.pth'}")


def test_run_stops_when_your_detector_finds_the_object(my_detectors: str, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    spec = "sim:distance=0.5,lux=100"  # the astronaut photo: a face for the wrapped cascade
    assert main(["run", "--camera", spec, "--detector", f"{my_detectors}:faces", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["found"] is True and doc["truth"]["blur_px"] <= 2.0
    assert sys.modules[my_detectors].calls  # your function saw the frames
    assert main(["run", "--camera", "sim", "--detector", "no_such_module_xyz:f"]) == 2
