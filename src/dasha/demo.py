"""``dasha demo`` pieces: contact sheets of what the simulator renders.

The demo runs the shipped joint policy (``policies/joint``) on held-out scenes, and adds a focus sweep and an
exposure sweep of a real-photo scene as PNG contact sheets with the ground truth under every frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dasha.camera import EXPOSURE_TABLE_US
from dasha.camera.sim import Scene, SimCamera
from dasha.plotting import pyplot, save_figure
from dasha.vision.histogram import paper_histogram


def contact_sheet(images: list[np.ndarray], labels: list[str], title: str, path: Path, cols: int = 6) -> Path:
    """Save grey frames as a labelled grid (PNG)."""
    plt = pyplot()
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.45 * rows + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, label in zip(axes.ravel(), images, labels, strict=False):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(label, fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def simulator_demo(out: Path, seed: int = 0, size: int = 192) -> list[Path]:
    """Render a focus sweep and an exposure sweep of the astronaut scene; return the PNG paths."""
    scene = Scene.from_names("astronaut", "brick", object_distance_m=0.7)
    cam = SimCamera(scene, size=size, lux=100.0, exposure_us=20_000, seed=seed)
    v_focus = cam.in_focus_voltage()
    images, labels = [], []
    for v in v_focus + np.linspace(-3.0, 3.0, 13)[1:]:  # includes the in-focus voltage
        cam.lens.voltage = float(v)
        f = cam.capture()
        images.append(f.image)
        labels.append(f"{v:.2f} V · blur {f.truth.blur_px:.1f} px")
    focus = contact_sheet(
        images,
        labels,
        f"Focus sweep: object at {scene.object_distance_m} m, f/{cam.optics.f_number}, in focus at {v_focus:.2f} V",
        out / "focus_sweep.png",
    )
    cam.lens.voltage = v_focus
    images, labels = [], []
    table = np.asarray(EXPOSURE_TABLE_US, dtype=float)
    for target in np.geomspace(2_000, 400_000, 12):
        e = float(table[np.argmin(np.abs(np.log(table / target)))])
        cam.exposure_us = e
        f = cam.capture()
        _, _, peak = paper_histogram(f.image)
        ok = "ok" if 50 <= peak <= 150 else "bad"
        images.append(f.image)
        labels.append(f"{e / 1000:g} ms · P={peak:.0f} ({ok})")
    exposure = contact_sheet(
        images, labels, "Exposure sweep at 100 lx (histogram peak P, paper rule 50–150)", out / "exposure_sweep.png"
    )
    return [focus, exposure]
