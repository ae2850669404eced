"""Perception cost per frame on one core, side by side in one run: encoders, BRISQUE, detectors.

Reports median ms/frame at 256×256 (and 1024×544 for detectors) and the speed ratio of the ``default``
encoder over the paper's ResNet-152 (random init = same compute) when torchvision is installed.
Optional models that are not installed are listed as skipped.

Usage: ``python benchmarks/bench_vision.py [--repeats 30]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from dasha.camera.sim import Scene, SimCamera


def median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def frame(size: tuple[int, int]) -> np.ndarray:
    cam = SimCamera(Scene.from_names("astronaut", "brick", object_distance_m=1.0, object_fraction=0.8), size=size)
    cam.exposure_us = 40_000
    cam.lens.voltage = cam.in_focus_voltage()
    return cam.capture().image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    import torch

    torch.set_num_threads(1)
    from dasha.vision import brisque_score, make_detector, make_encoder

    small, large = frame((256, 256)), frame((544, 1024))
    rows: list[tuple[str, str, float | None]] = []
    encoders = {}
    for name, kw in (("default", {}), ("cnn", {}), ("resnet152", {"weights": "random"})):
        try:
            enc = make_encoder(name, **kw)
        except ImportError as exc:
            rows.append((f"encoder {name}", f"skipped: {exc}", None))
            continue
        reps = 5 if name == "resnet152" else args.repeats
        encoders[name] = median_ms(lambda e=enc: e.encode(small), reps)
        rows.append((f"encoder {name}", "256×256", encoders[name]))
    for model in ("live", "paper"):
        rows.append(
            (f"brisque {model}", "256×256", median_ms(lambda m=model: brisque_score(small, model=m), args.repeats))
        )
    for name in ("haar-face", "haar-body", "aruco", "yolo", "faster-rcnn", "retinanet"):
        kw = (
            {"model_yaml": "yolov8n.yaml"}
            if name == "yolo"
            else ({"weights": None} if "-" in name and "haar" not in name else {})
        )
        try:
            det = make_detector(name, **kw)
        except (ImportError, ValueError) as exc:
            rows.append((f"detector {name}", f"skipped: {str(exc)[:60]}", None))
            continue
        reps = 3 if name in ("faster-rcnn", "retinanet") else max(5, args.repeats // 3)
        for img, label in ((small, "256×256"), (large, "1024×544")):
            rows.append((f"detector {name}", label, median_ms(lambda d=det, i=img: d.detect(i), reps)))
    print("perception cost, one core, median ms per frame")
    for what, size, ms in rows:
        print(f"  {what:<22} {size:<12} {'' if ms is None else f'{ms:9.2f} ms'}")
    if "default" in encoders and "resnet152" in encoders:
        ratio = encoders["resnet152"] / encoders["default"]
        print(f"default encoder is {ratio:.0f}× faster than ResNet-152 (target ≥ 50×)")


if __name__ == "__main__":
    main()
