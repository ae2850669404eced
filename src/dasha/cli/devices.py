"""Commands that drive a camera: ``dasha record-grid`` and ``dasha run``."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from dasha.cli.app import Interrupted, UsageError, app, check_output_file, open_camera


def _parse_exposures(text: str | None) -> list[float]:
    from dasha.camera import EXPOSURE_TABLE_US

    if text is None or text.strip().lower() == "table":
        return [float(e) for e in EXPOSURE_TABLE_US]
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--exposures must be 'table' or comma-separated µs values, got {text!r}") from None
    if not values:
        raise UsageError("--exposures is empty")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise UsageError(f"--exposures must be positive, finite µs values, got {text!r}")
    return sorted(set(values))  # the grid is recorded (and stored) in ascending order


@contextlib.contextmanager
def _command_log(cam: Any, path: Path | None) -> Iterator[Callable[[dict[str, Any]], None]]:
    """With ``path``: every command sent to every device of ``cam`` (and each pass's result) as one JSON line,
    timestamped (:attr:`~dasha.camera.base.Device.command_log`); yields the writer (a no-op without ``path``)."""
    if path is None:
        yield lambda entry: None
        return
    from dasha.camera.compose import CameraWithLens
    from dasha.jsonio import dumps

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:

        def write(entry: dict[str, Any]) -> None:
            fh.write(dumps({"t": time.time(), **entry}, indent=None) + "\n")
            fh.flush()

        devices, seen = [cam], []
        while devices:  # every device reachable from the camera; wrappers delegate, their parts log
            d = devices.pop()
            if d is None or any(d is s for s in seen):
                continue
            seen.append(d)
            if not isinstance(d, CameraWithLens):
                d.command_log = write
            devices += [getattr(d, "lens", None), *d._attached_devices()]
        try:
            yield write
        finally:
            for d in seen:
                d.command_log = None


def _parse_roi(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    try:
        x, y, w, h = (int(v) for v in text.replace(":", ",").split(","))
    except ValueError:
        raise UsageError(f"--roi must be x,y,w,h in pixels, got {text!r}") from None
    return x, y, w, h


def _lens_grid(cam: Any, steps: int, step: float | None, fine: float | None, exposures: list[float]) -> list[float]:
    """The grid's lens settings: ``steps`` evenly (or every ``step``) over the lens's range, plus, with ``fine``,
    steps of ``fine`` within one coarse step of the sharpest coarse setting (the paper's coarse-then-fine)."""
    import numpy as np

    lens = cam.lens
    if lens is None or (steps == 0 and step is None):
        return []
    lo, hi = lens.limits.low, lens.limits.high
    coarse = list(np.arange(lo, hi + 1e-9, step)) if step is not None else list(np.linspace(lo, hi, steps))
    if fine is None:
        return [float(v) for v in coarse]
    from dasha.runtime.calibrate import sharpest_drive

    cam.exposure_us = float(np.median(exposures))
    best, _ = sharpest_drive(cam)
    width = (hi - lo) / max(len(coarse) - 1, 1)
    extra = np.arange(max(lo, best - width), min(hi, best + width) + 1e-9, fine)
    return sorted({round(float(v), 6) for v in [*coarse, *extra]})


@app.command("record-grid")
def record_grid_cmd(
    camera: Annotated[str, typer.Option("--camera", help="camera SPEC, e.g. sim or sim:lux=50,distance=0.5")],
    out: Annotated[Path, typer.Option("--out", help="output .npz file")],
    exposures: Annotated[
        str | None, typer.Option(help="'table' (the paper's 148 values) or comma-separated µs values")
    ] = None,
    lens_steps: Annotated[int, typer.Option(min=0, max=10_000, help="lens settings, evenly over its range")] = 47,
    size: Annotated[int | None, typer.Option(min=16, max=4096, help="frame size, px (simulator)")] = None,
    compress: Annotated[bool, typer.Option(help="write a compressed .npz")] = False,
    lens: Annotated[str | None, typer.Option(help="separate lens SPEC, composed with the camera")] = None,
    calibration: Annotated[Path | None, typer.Option(help="lens.toml from `dasha calibrate`: the lens curve")] = None,
    lens_step: Annotated[
        float | None, typer.Option(min=0.0001, help="lens grid step in the lens's unit (instead of --lens-steps)")
    ] = None,
    fine: Annotated[
        float | None,
        typer.Option(
            min=0.0001,
            help="coarse-then-fine: add steps of this size (lens unit) within one coarse step "
            "of the sharpest coarse setting (found at the middle exposure)",
        ),
    ] = None,
    roi: Annotated[str | None, typer.Option(help="keep the window x,y,w,h (px) of every frame")] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="continue the interrupted grid at --out (its own exposures and lens settings; same camera, size "
            "and ROI); without a file at --out, start one"
        ),
    ] = False,
) -> None:
    """Capture the exposure × focus grid (the paper's Fig. 4 protocol) into an .npz file, streamed to disk.

    Interrupted (Ctrl-C, SIGTERM, a device error), it saves the frames captured so far (only those rows) and
    ``--resume`` continues that file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dasha.camera import parse_spec
    from dasha.camera.errors import CameraError, ConfigError
    from dasha.camera.grid import Grid, record_grid, validate_grid

    check_output_file(out, "--out")
    prior = Grid.load(out, frames=False) if resume and out.exists() else None
    if prior is not None and prior.meta.get("complete"):
        typer.echo(f"{out} is complete ({int(prior.captured.sum())} frames); nothing to resume")
        return
    exp = _parse_exposures(exposures) if prior is None else [float(e) for e in prior.planned_exposure_us]
    spec = camera
    if size is not None:
        kind, args = parse_spec(camera)
        if kind != "sim":
            raise UsageError("--size applies to the simulator only (set the ROI on the camera instead)")
        if "size=" in args:
            raise UsageError("give the size either in the SPEC or with --size, not both")
        spec = f"sim:{args + ',' if args else ''}size={size}"
    window = _parse_roi(roi)
    spool = out.with_name(out.name + ".spool")  # frames stream here as captured, then into the .npz
    with open_camera(spec, lens, calibration) as cam:
        volts = _lens_grid(cam, lens_steps, lens_step, fine, exp) if prior is None else list(prior.lens_v)
        exp, volts = validate_grid(cam, exp, volts)
        total = len(exp) * max(len(volts), 1)
        columns = (TextColumn("record-grid"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())

        def check_space(shape: tuple[int, ...]) -> None:  # the spool and the .npz (one copy each), before any move
            check_output_file(out, "--out", need_bytes=2 * math.prod(shape) + (1 << 20))

        try:
            with Progress(*columns, transient=False) as bar:
                task = bar.add_task("grid", total=total, completed=int(prior.captured.sum()) if prior else 0)
                grid = record_grid(cam, exp, volts, on_frame=lambda i, j: bar.advance(task), roi=window,
                                   spool=spool, resume=out if prior is not None else None,
                                   on_start=check_space)  # fmt: skip
            done = int(grid.captured.sum())
            if done:
                grid.save(out, compress=compress)
        finally:
            spool.unlink(missing_ok=True)
    error = getattr(grid, "interrupted", None)
    if isinstance(error, KeyboardInterrupt):
        if not done:
            raise Interrupted("no frame captured; nothing written")
        raise Interrupted(f"kept {done}/{total} frames in {out} (continue with --resume)")
    if error is not None:  # a device error: the partial grid is saved; the error (one line) is the exit status
        if done and isinstance(error, CameraError | ConfigError) and len(error.args) == 1:
            error.args = (f"{error.args[0]} (saved {done}/{total} frames to {out}; continue with --resume)",)
        raise error
    typer.echo(f"wrote {out}: {len(exp)} exposures × {max(len(volts), 1)} lens steps, {done} frames")


@app.command()
def run(
    camera: Annotated[str, typer.Option("--camera", help="camera SPEC (sim, sim:..., replay:FILE, ...)")],
    policy_dir: Annotated[
        Path | None, typer.Option("--policy", help="policy directory (default: shipped joint)")
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="a classical method instead of a policy: an AE or AF baseline, dfd, AE+AF; +nets adds the deployed "
            "safety nets"
        ),
    ] = None,
    lens: Annotated[str | None, typer.Option(help="separate lens SPEC, composed with the camera")] = None,
    continuous: Annotated[bool, typer.Option(help="keep watching and re-tune when the scene changes")] = False,
    frames: Annotated[int, typer.Option(min=1, max=1_000_000_000, help="frames to watch in continuous mode")] = 200,
    detector: Annotated[
        str | None, typer.Option(help="stop the lens search as soon as this detector finds the object in focus")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write what was found here (JSON)")] = None,
    log: Annotated[
        Path | None, typer.Option(help="append every device command (timestamped) and each result as JSON lines")
    ] = None,
    calibration: Annotated[Path | None, typer.Option(help="lens.toml from `dasha calibrate`: the lens curve")] = None,
) -> None:
    """Tune a camera with a trained policy (exposure agent, then lens agent) or a classical method; prints the
    settings found."""
    from dasha.agents.policy import Policy, shipped_policy
    from dasha.jsonio import write_json

    if policy_dir is not None and method is not None:
        raise UsageError("give --policy or --method, not both")
    check_output_file(json_out, "--json")
    check_output_file(log, "--log")
    policy = Policy.load(policy_dir or shipped_policy("joint")) if method is None else None
    passes: list[dict[str, Any]] = []

    def document() -> dict[str, Any]:
        return {"camera": camera, "lens": lens, "controller": method or str(policy.path if policy else ""),
                "detector": detector, **(passes[-1] if passes else {}), "passes": passes}  # fmt: skip

    try:
        _run_passes(camera, lens, calibration, log, policy, method, detector, continuous, frames, passes)
    except KeyboardInterrupt:
        logged = f"; commands logged in {log}" if log else ""
        n = f"{len(passes)} pass{'' if len(passes) == 1 else 'es'}"
        if json_out is None or not passes:
            raise Interrupted(f"{n} finished; no JSON written{logged}") from None
        write_json(json_out, {**document(), "partial": True})
        raise Interrupted(f"kept {n} in {json_out} (marked partial){logged}") from None
    if json_out is not None:
        write_json(json_out, document())
        typer.echo(f"wrote {json_out}")


def _run_passes(camera: str, lens: str | None, calibration: Path | None, log: Path | None, policy: Any,
                method: str | None, detector: str | None, continuous: bool, frames: int,
                passes: list[dict[str, Any]]) -> None:  # fmt: skip
    """The tuning passes of ``dasha run``, appended to ``passes`` as they finish."""
    from dasha.runtime.live import make_tuner

    with open_camera(camera, lens, calibration) as cam, _command_log(cam, log) as record:
        tuner = make_tuner(cam, policy=policy, method=method, detector=detector)
        last_good = cam.lens.setting if cam.lens is not None else None
        try:
            for k, r in enumerate(tuner.continuous(frames) if continuous else (tuner.tune() for _ in (0,))):
                unit = r.lens_unit or ""
                lens_txt = f"{r.lens_setting:.3f} {unit}" if r.lens_setting is not None else "no lens"
                found = "" if r.found is None else (" · object found" if r.found else " · no object found")
                typer.echo(f"[{k}] exposure {r.exposure_us:.0f} µs · lens {lens_txt} · moves {r.exposure_moves}+"
                           f"{r.lens_moves} · {1e3 * r.seconds:.0f} ms{found}")  # fmt: skip
                passes.append(r.as_dict())
                record({"event": "result", "pass": k, **passes[-1]})
                last_good = r.lens_setting
        except BaseException:  # Ctrl-C or a device error mid-pass: leave the lens at its last good setting
            if cam.lens is not None and last_good is not None and not cam.lens.closed:
                with contextlib.suppress(Exception):
                    cam.lens.set_setting(last_good)
            raise
