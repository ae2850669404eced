"""record-grid: frames stream to disk, an ROI window, and a lens grid fine enough for the depth of field."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dasha.camera import make_camera
from dasha.camera.grid import Grid, record_grid
from dasha.cli import main


def test_frames_stream_into_a_spool_file_and_the_saved_grid_is_the_same(tmp_path: Path) -> None:
    cam = make_camera("sim:size=64,seed=1")
    spool = tmp_path / "spool.npy"
    grid = record_grid(cam, [5_000.0, 20_000.0], [46.0, 48.0, 50.0], spool=spool, roi=(8, 8, 48, 40))
    assert isinstance(grid.frames, np.memmap) and grid.frames.shape == (2, 3, 40, 48)  # on disk, not in RAM
    grid.save(tmp_path / "g.npz")
    again = Grid.load(tmp_path / "g.npz")
    assert np.array_equal(again.frames, np.asarray(grid.frames)) and again.meta["roi"] == [8, 8, 48, 40]
    assert again.meta["lens_unit"] == "V"


def test_cli_fine_grid_resolves_the_depth_of_field(tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    args = ["record-grid", "--camera", "sim:size=64,distance=1.0", "--out", str(out), "--exposures", "20000"]
    assert main([*args, "--lens-steps", "10", "--fine", "0.05", "--roi", "0,0,64,48"]) == 0
    grid = Grid.load(out)
    assert not (tmp_path / "g.npz.frames.npy").exists()  # the spool is gone once the .npz is written
    assert grid.frames.shape[2:] == (48, 64)
    blur = np.asarray(grid.meta["truth"]["blur_px"])
    assert blur.min() <= 0.5  # a 0.05 V step lands within the depth of field (1 V steps leave ≥ 1 px)
    assert main([*args, "--lens-steps", "10", "--roi", "0,0,999,10"]) == 2  # a window that does not fit
