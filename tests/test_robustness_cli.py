"""Issue 15, items 3–4 outside training: interrupts lose nothing, outputs are written atomically and checked before
the work, and every input (image files, replay grids, CLI ranges) is validated at the edge — each failure one line
on stderr with exit 2 (bad input), 1 (runtime, a full disk mid-write) or 130 (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from dasha.camera import make_camera
from dasha.camera.errors import SpecError
from dasha.camera.grid import Grid, record_grid
from dasha.camera.sim import load_texture
from dasha.cli import main
from dasha.jsonio import OutputError, write_atomic, write_json

POLICIES = Path(__file__).resolve().parents[1] / "src" / "dasha" / "policies"


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single line a failed command wrote to stderr."""
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


# -- interrupts: Ctrl-C and SIGTERM keep what was finished --------------------------------------------------------
def _interrupt_after(monkeypatch: pytest.MonkeyPatch, target: str, calls: int, how: str = "sigterm") -> None:
    """Make the ``calls``-th call of ``target`` (``module:attr``) be interrupted (SIGTERM to this process, or a
    KeyboardInterrupt as Ctrl-C raises), after the earlier calls ran for real."""
    module, _, attr = target.partition(":")
    mod = __import__(module, fromlist=[attr])
    real = getattr(mod, attr)
    count = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if count[0] == calls:
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1.0)  # the handler raises KeyboardInterrupt here
                raise AssertionError("SIGTERM was not handled like Ctrl-C")
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, attr, wrapped)


def test_sigterm_during_eval_writes_the_finished_episodes_marked_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    _interrupt_after(monkeypatch, "dasha.agents.evaluate:run_episode", 4)
    out = tmp_path / "eval.json"
    assert main(["eval", str(POLICIES / "focus"), "--episodes", "50", "--json", str(out)]) == 130
    assert one_line(capsys) == f"dasha: interrupted; kept 3/50 finished episodes in {out} (marked partial)"
    doc = json.loads(out.read_text())
    assert doc["partial"] is True and doc["episodes_done"] == 3 and len(doc["per_episode"]) == 3
    assert 0.0 <= doc["methods"]["dasha"]["success_rate"] <= 1.0
    assert signal.getsignal(signal.SIGTERM) is before  # main restores the handler it replaced


def test_ctrl_c_during_eval_without_json_says_nothing_was_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, "dasha.agents.evaluate:run_episode", 3, how="ctrl-c")
    assert main(["eval", str(POLICIES / "exposure"), "--episodes", "50"]) == 130
    assert one_line(capsys) == "dasha: interrupted; 2/50 episodes finished; nothing written (give --json to keep them)"


def test_interrupted_bench_writes_the_finished_episodes_of_every_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dasha.bench.runner import AutofocusPlayer

    real, count = AutofocusPlayer.play, [0]

    def play(self: AutofocusPlayer, env: Any, seed: int, index: int) -> Any:
        count[0] += 1
        if count[0] == 6:  # one method's 3 episodes done, the 3rd of the other under way
            raise KeyboardInterrupt
        return real(self, env, seed, index)

    monkeypatch.setattr(AutofocusPlayer, "play", play)
    plots, out = tmp_path / "bench", tmp_path / "bench.json"
    args = ["bench", "af", "--episodes", "3", "--methods", "brent,sweep", "--workers", "1"]
    assert main([*args, "--plots", str(plots), "--json", str(out)]) == 130
    assert one_line(capsys) == f"dasha: interrupted; kept 5 finished episodes in {plots}/ and {out} (marked partial)"
    for doc in (json.loads(out.read_text()), json.loads((plots / "af.json").read_text())):
        assert doc["partial"] is True and doc["episodes_done"] == 5
        done = {k: m["episodes_done"] for k, m in doc["methods"].items()}
        assert done == {"sweep": 3, "brent": 2}  # table order: sweep runs first
    assert "**Partial** (interrupted): 5 episodes finished" in (plots / "results.md").read_text()


@pytest.mark.slow
def test_ctrl_c_to_a_parallel_bench_collects_every_workers_episodes(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole process group: the workers ignore it, finish their episode and hand
    back what they have; nothing is left running."""
    import subprocess
    import sys

    plots = tmp_path / "bench"
    cmd = [sys.executable, "-m", "dasha.cli", "bench", "af", "--episodes", "5000", "--methods", "brent,sweep",
           "--workers", "2", "--plots", str(plots)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(20)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"dasha: interrupted; kept {json.loads((plots / 'af.json').read_text())['episodes_done']} finished episodes "
        f"in {plots}/ (marked partial)"
    ]
    doc = json.loads((plots / "af.json").read_text())
    assert doc["partial"] is True and sum(m["episodes_done"] for m in doc["methods"].values()) == doc["episodes_done"]
    for _ in range(100):  # the workers (and multiprocessing's resource tracker) are gone too
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the bench are still running")


def test_interrupted_demo_writes_a_partial_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, "dasha.agents.evaluate:run_episode", 2)
    assert main(["demo", "--episodes", "20", "--out", str(tmp_path)]) == 130
    summary = tmp_path / "summary.json"
    assert one_line(capsys) == f"dasha: interrupted; kept 1/20 finished episodes in {summary} (marked partial)"
    doc = json.loads(summary.read_text())
    assert doc["partial"] is True and doc["episodes_done"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == [
        "summary.json"]  # fmt: skip


def _grid_args(out: Path, seed: int = 2) -> list[str]:
    return ["record-grid", "--camera", f"sim:seed={seed}", "--size", "32", "--exposures", "1000,4000,2000",
            "--lens-steps", "4", "--out", str(out)]  # fmt: skip


def test_interrupted_record_grid_keeps_only_its_rows_and_resume_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dasha.camera.sim import SimCamera

    out = tmp_path / "g.npz"
    real, count = SimCamera._do_capture, [0]

    def capture(self: SimCamera, timeout_s: float | None = None) -> Any:
        count[0] += 1
        if count[0] == 7:  # the shape probe, then 5 frames: row 0 and the first frame of row 1
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1.0)
            raise AssertionError("SIGTERM was not handled like Ctrl-C")
        return real(self, timeout_s)

    monkeypatch.setattr(SimCamera, "_do_capture", capture)
    assert main(_grid_args(out)) == 130
    assert one_line(capsys) == f"dasha: interrupted; kept 5/12 frames in {out} (continue with --resume)"
    partial = Grid.load(out)
    assert partial.frames.shape == (2, 4, 32, 32)  # the rows reached, not a full-size placeholder
    assert partial.captured.sum() == 5 and not partial.meta["complete"]
    assert list(partial.exposure_us) == [1000.0, 2000.0] and list(partial.planned_exposure_us) == [1000, 2000, 4000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]  # no spool, no temporary file left
    replay = make_camera(f"replay:{out}")  # an interrupted grid replays what it holds
    assert replay.capture().exposure_us == 1000.0

    assert main([*_grid_args(out, seed=3), "--resume"]) == 2
    assert "was recorded with camera 'sim:seed=2,size=32', not 'sim:seed=3,size=32'" in one_line(capsys)
    monkeypatch.undo()
    assert main([*_grid_args(out), "--resume"]) == 0
    grid = Grid.load(out)
    assert grid.frames.shape == (3, 4, 32, 32) and grid.captured.all() and grid.meta["complete"]
    assert np.array_equal(grid.frames.reshape(-1, 32, 32)[:5], partial.frames.reshape(-1, 32, 32)[:5])
    assert "planned_exposure_us" not in grid.meta and len(grid.meta["truth"]["blur_px"]) == 4
    assert main([*_grid_args(out), "--resume"]) == 0
    assert "is complete (12 frames); nothing to resume" in capsys.readouterr().out


def test_record_grid_without_lens_steps_on_a_camera_with_a_lens(tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    assert main(["record-grid", "--camera", "sim:size=16", "--lens-steps", "0", "--exposures", "1000", "--out",
                 str(out)]) == 0  # fmt: skip
    assert Grid.load(out).frames.shape == (1, 1, 16, 16)


def test_interrupted_run_keeps_its_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dasha.runtime.live import ClassicalTuner

    def two_then_stop(self: ClassicalTuner, *args: Any, **kwargs: Any) -> Any:
        yield self.tune()
        yield self.tune()
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassicalTuner, "continuous", two_then_stop)
    out = tmp_path / "run.json"
    assert main(["run", "--camera", "sim", "--method", "brent", "--continuous", "--json", str(out)]) == 130
    assert one_line(capsys) == f"dasha: interrupted; kept 2 passes in {out} (marked partial)"
    doc = json.loads(out.read_text())
    assert doc["partial"] is True and len(doc["passes"]) == 2


def test_interrupted_calibrate_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, "dasha.runtime.calibrate:calibrate_lens", 1, how="ctrl-c")
    out = tmp_path / "lens.toml"
    assert main(["calibrate", "--camera", "sim", "--out", str(out)]) == 130
    assert one_line(capsys) == f"dasha: interrupted; nothing written ({out} needs every target distance measured)"
    assert not out.exists()


# -- outputs: atomic, and checked before the work starts -----------------------------------------------------------
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_json(tmp_path / "doc.json", {"old": True})

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match=r"cannot write .*doc\.json: No space left on device"):
        write_json(path, {"new": True})
    with pytest.raises(OutputError):
        write_atomic(tmp_path / "fresh.txt", "x")
    assert json.loads(path.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]
    monkeypatch.undo()
    with pytest.raises(TypeError):  # nothing to serialise: nothing written, not even an empty file
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()


def test_grid_and_figure_saves_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dasha.plotting import pyplot, save_figure

    grid = record_grid(make_camera("sim:size=16"), [1000.0], [40.0, 50.0])
    path = grid.save(tmp_path / "g.npz")
    before = path.read_bytes()

    def full(*args: Any, **kwargs: Any) -> None:
        Path(args[0]).write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OutputError, match="No space left on device"):
        grid.save(path)
    assert path.read_bytes() == before
    fig = pyplot().figure()
    png = save_figure(fig, tmp_path / "f.png")
    old = png.read_bytes()
    fig = pyplot().figure()
    monkeypatch.setattr(fig, "savefig", full)
    with pytest.raises(OSError, match="No space left"):
        save_figure(fig, png)
    assert png.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "g.npz"]


def test_a_full_disk_mid_write_is_exit_1_one_line_and_the_old_file_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.npz"
    out.write_bytes(b"the old grid")

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full)
    assert main(["record-grid", "--camera", "sim:size=16", "--exposures", "1000", "--lens-steps", "2", "--out",
                 str(out)]) == 1  # fmt: skip
    assert one_line(capsys) == f"dasha: error: cannot write {out}: No space left on device"
    assert out.read_bytes() == b"the old grid" and sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]
    if Path("/dev/full").exists():
        assert main(["run", "--camera", "sim", "--method", "brent", "--json", "/dev/full"]) == 1
        assert one_line(capsys) == "dasha: error: cannot write /dev/full: No space left on device"


@pytest.mark.parametrize(
    "command",
    [
        ["eval", str(POLICIES / "focus"), "--episodes", "1"],
        ["bench", "af", "--episodes", "1"],
        ["run", "--camera", "sim"],
        ["record-grid", "--camera", "sim"],
        ["calibrate", "--camera", "sim"],
        ["demo", "--episodes", "1"],
    ],
    ids=lambda c: c[0],
)
def test_unwritable_outputs_are_refused_before_any_work(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    name = command[0]
    option = {"eval": "--json", "bench": "--json", "run": "--json", "record-grid": "--out", "calibrate": "--out",
              "demo": "--out"}[name]  # fmt: skip
    target = a_file if name == "demo" else a_file / "x.json"
    assert main([*command, option, str(target)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"dasha: error: {option} {target}: ") and "not a directory" in line
    if option == "--json":
        assert main([*command, option, str(tmp_path)]) == 2
        assert one_line(capsys) == f"dasha: error: {option} {tmp_path}: is a directory (give a file name)"
    if name in ("eval", "bench"):
        assert main([*command, "--plots", str(a_file)]) == 2
        assert one_line(capsys) == f"dasha: error: --plots {a_file}: not a directory"
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))  # a full disk
    fresh = tmp_path / ("out" if name == "demo" else "out.json")
    assert main([*command, option, str(fresh)]) == 2
    assert f"{option} {fresh}: 1.0 kB free on {tmp_path}, 1.0 MB needed" in one_line(capsys)
    monkeypatch.undo()

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("tempfile.TemporaryFile", read_only)
    assert main([*command, option, str(fresh)]) == 2
    assert one_line(capsys).endswith(f"{option} {fresh}: cannot write in {tmp_path} (Read-only file system)")
    assert not fresh.exists()


def test_record_grid_refuses_a_grid_the_disk_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=50_000_000))
    out = tmp_path / "g.npz"
    assert main(["record-grid", "--camera", "sim", "--size", "512", "--out", str(out)]) == 2
    assert "--out" in one_line(capsys) and not out.exists()


# -- inputs validated at the edge ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["eval", str(POLICIES / "focus"), "--episodes", "1"],
        ["bench", "af", "--episodes", "1"],
        ["demo", "--episodes", "1"],
    ],
    ids=lambda c: c[0],
)
def test_a_negative_seed_is_exit_2(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--seed", "-1"]) == 2
    assert one_line(capsys) == "dasha: error: Invalid value for '--seed': Input should be greater than or equal to 0"


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` px, with a little image data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(900_000))) + chunk(
        b"IEND", b"")  # fmt: skip


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    rgb = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    (d / "bomb.png").write_bytes(_png_header(30_000, 30_000))
    jpeg = cv2.imencode(".jpg", rgb)[1].tobytes()
    (d / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (d / "corrupt.png").write_bytes(rng.bytes(2000))
    nan = rng.random((40, 40)).astype(np.float32)
    nan[5, 5] = np.nan
    Image.fromarray(nan, mode="F").save(d / "nan.tif")
    Image.fromarray((rng.random((40, 40)) * 4000).astype(np.uint16)).save(d / "deep.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]), "RGBA").save(d / "rgba.png")
    Image.fromarray(rgb).save(d / "rgb.png")
    Image.fromarray(np.zeros((4, 40), np.uint8)).save(d / "tiny.png")
    return d


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bomb.png", "declares 30000 × 30000 px; at most 40 Mpx and 16384 px a side are accepted (downscale it)"),
        ("truncated.jpg", "truncated or corrupt image data"),
        ("corrupt.png", "not an image file Pillow can decode"),
        ("nan.tif", "has 1 non-finite (NaN or inf) pixels of 1600"),
        ("tiny.png", "is 40 × 4 px; at least 8 px a side is needed"),
    ],
)
def test_bad_image_files_are_refused_with_one_line(images: Path, name: str, message: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_texture(images / name)
    assert "\n" not in str(info.value) and time.perf_counter() - t0 < 1.0  # the bomb is never decoded
    with pytest.raises(SpecError, match=r"non-finite|declares|truncated|not an image|at least"):
        make_camera(f"sim:size=32,scene={images / name}")


def test_colour_alpha_and_deep_images_are_converted_by_rule(images: Path) -> None:
    rgb = np.asarray(Image.open(images / "rgb.png"), np.float64)
    luma = np.rint(rgb @ [0.2126, 0.7152, 0.0722]) / 255.0
    assert np.allclose(load_texture(images / "rgb.png"), luma, atol=1 / 255 + 1e-6)  # Rec.709 luma of RGB
    assert np.array_equal(load_texture(images / "rgba.png"), load_texture(images / "rgb.png"))  # alpha ignored
    deep = load_texture(images / "deep.png")  # 12-bit data in 16 bits: stretched min–max, not shifted to black
    assert deep.min() == 0.0 and deep.max() == 1.0


def test_cli_refuses_a_bad_scene_image_before_any_episode(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = images / "bomb.png"
    assert main(["eval", str(POLICIES / "focus"), "--episodes", "1", "--scene", str(bomb)]) == 2
    assert one_line(capsys).startswith(f"dasha: error: --scene: scene image '{bomb}' declares 30000 × 30000 px")
    assert main(["bench", "af", "--episodes", "1", "--background", str(images / "nan.tif")]) == 2
    assert "--background: scene image" in one_line(capsys)
    assert main(["run", "--camera", f"sim:scene={images / 'truncated.jpg'}"]) == 2
    assert "truncated or corrupt image data" in one_line(capsys)


@pytest.fixture(scope="module")
def good_grid(tmp_path_factory: pytest.TempPathFactory) -> Grid:
    return record_grid(make_camera("sim:size=16,seed=1"), [1000.0, 2000.0, 4000.0], [30.0, 40.0, 50.0, 60.0])


def _bad_grid(grid: Grid, path: Path, **changes: Any) -> Path:
    fields = {"frames": grid.frames, "exposure_us": grid.exposure_us, "lens_v": grid.lens_v,
              "captured": grid.captured, "meta": np.array(json.dumps(grid.meta))}  # fmt: skip
    fields.update(changes)
    np.savez(path, **fields)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exposure_us": np.array([np.nan, 2000.0, 4000.0])}, "exposure_us holds non-finite values"),
        ({"exposure_us": np.array([-5.0, 2000.0, 4000.0])}, "exposures must be positive µs"),
        ({"exposure_us": np.array([4000.0, 2000.0, 1000.0])}, "exposure_us must be strictly ascending"),
        ({"lens_v": np.array([-100.0, 40.0, 50.0, 1e9])}, r"lens voltages -100–1e\+09 V lie outside"),
        ({"lens_v": np.array([30.0, np.inf, 50.0, 60.0])}, "lens_v holds non-finite values"),
        ({"frames": np.zeros((3, 4, 16, 16), np.float32)}, "frames must be uint8"),
        ({"frames": np.zeros((2, 4, 16, 16), np.uint8)}, "do not match 3 exposures × 4 lens steps"),
        ({"exposure_us": np.array([1, 2, 3], dtype=object)}, "Object arrays cannot be loaded"),
        ({"captured": np.zeros((3, 4), bool)}, "no frame was captured"),
        ({"meta": np.array("[1, 2]")}, "meta must be a JSON object"),
        ({"meta": np.array(json.dumps({"truth": {"blur_px": [1.0]}}))}, "meta truth is malformed"),
        ({"meta": np.array(json.dumps({"optics": {"f_number": -2.0}}))}, "meta optics needs finite values"),
    ],
)
def test_replay_refuses_a_grid_no_camera_could_have_recorded(
    good_grid: Grid, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = _bad_grid(good_grid, tmp_path / "bad.npz", **changes)
    with pytest.raises(SpecError, match=message) as info:
        make_camera(f"replay:{path}")
    assert "\n" not in str(info.value)


def test_cli_run_on_a_bad_replay_grid_is_exit_2_one_line(
    good_grid: Grid, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_grid(good_grid, tmp_path / "nan.npz", exposure_us=np.array([np.nan, 2000.0, 4000.0]))
    assert main(["run", "--camera", f"replay:{path}", "--method", "brent"]) == 2
    assert one_line(capsys) == f"dasha: error: grid file '{path}': exposure_us holds non-finite values (NaN or inf)"
    (tmp_path / "text.npz").write_text("not a grid")
    assert main(["run", "--camera", f"replay:{tmp_path / 'text.npz'}"]) == 2
    assert "is not a dasha grid file (not an .npz archive)" in one_line(capsys)


def test_run_refuses_a_paper_policy_and_a_joint_policy_without_a_lens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--camera", "sim", "--policy", str(POLICIES / "joint_paper")]) == 2
    assert one_line(capsys) == "dasha: error: live tuning needs an ours-mode policy (it decides itself when to stop)"
    no_lens = record_grid(make_camera("sim:size=16"), [1000.0, 4000.0], []).save(tmp_path / "nolens.npz")
    assert main(["run", "--camera", f"replay:{no_lens}"]) == 2
    assert one_line(capsys) == "dasha: error: a joint policy needs a camera with a lens"


def test_record_grid_exposures_are_checked_and_sorted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.npz"
    base = ["record-grid", "--camera", "sim:size=16", "--lens-steps", "2", "--out", str(out)]
    assert main([*base, "--exposures", "1000,nan"]) == 2
    assert one_line(capsys) == "dasha: error: --exposures must be positive, finite µs values, got '1000,nan'"
    assert main([*base, "--exposures", "4000,1000,4000"]) == 0
    assert list(Grid.load(out).exposure_us) == [1000.0, 4000.0]
