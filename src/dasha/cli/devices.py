"""Commands that drive a camera: ``dasha record-grid`` and ``dasha run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dasha.cli.app import UsageError, app, open_camera


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
    return values


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
) -> None:
    """Capture the exposure × focus grid (the paper's Fig. 4 protocol) into an .npz file."""
    import numpy as np
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dasha.camera import parse_spec
    from dasha.camera.grid import record_grid, validate_grid

    exp = _parse_exposures(exposures)
    spec = camera
    if size is not None:
        kind, args = parse_spec(camera)
        if kind != "sim":
            raise UsageError("--size applies to the simulator only (set the ROI on the camera instead)")
        if "size=" in args:
            raise UsageError("give the size either in the SPEC or with --size, not both")
        spec = f"sim:{args + ',' if args else ''}size={size}"
    with open_camera(spec, lens, calibration) as cam:
        drive = cam.lens
        volts = list(np.linspace(drive.limits.low, drive.limits.high, lens_steps)) if drive and lens_steps else []
        exp, volts = validate_grid(cam, exp, volts)
        total = len(exp) * max(len(volts), 1)
        columns = (TextColumn("record-grid"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("grid", total=total)
            grid = record_grid(cam, exp, volts, on_frame=lambda i, j: bar.advance(task))
    grid.save(out, compress=compress)
    done = int(grid.captured.sum())
    error = getattr(grid, "interrupted", None)
    if error is not None:
        typer.echo(f"dasha: interrupted after {done}/{total} frames; partial grid saved to {out}", err=True)
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
    frames: Annotated[int, typer.Option(min=1, help="frames to watch in continuous mode")] = 200,
    detector: Annotated[
        str | None, typer.Option(help="stop the lens search as soon as this detector finds the object in focus")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write what was found here (JSON)")] = None,
    log: Annotated[Path | None, typer.Option(help="append one JSON line per tuning pass to this file")] = None,
    calibration: Annotated[Path | None, typer.Option(help="lens.toml from `dasha calibrate`: the lens curve")] = None,
) -> None:
    """Tune a camera with a trained policy (exposure agent, then lens agent) or a classical method; prints the
    settings found."""
    from dasha.agents.policy import Policy, shipped_policy
    from dasha.jsonio import dumps, write_json
    from dasha.runtime.live import make_tuner

    if policy_dir is not None and method is not None:
        raise UsageError("give --policy or --method, not both")
    policy = Policy.load(policy_dir or shipped_policy("joint")) if method is None else None
    passes: list[dict[str, Any]] = []
    with open_camera(camera, lens, calibration) as cam:
        tuner = make_tuner(cam, policy=policy, method=method, detector=detector)
        results = tuner.continuous(frames) if continuous else iter([tuner.tune()])
        for k, r in enumerate(results):
            unit = r.lens_unit or ""
            lens_txt = f"{r.lens_setting:.3f} {unit}" if r.lens_setting is not None else "no lens"
            found = "" if r.found is None else (" · object found" if r.found else " · no object found")
            typer.echo(f"[{k}] exposure {r.exposure_us:.0f} µs · lens {lens_txt} · moves {r.exposure_moves}+"
                       f"{r.lens_moves} · {1e3 * r.seconds:.0f} ms{found}")  # fmt: skip
            passes.append(r.as_dict())
            if log is not None:
                with log.open("a") as fh:
                    fh.write(dumps(passes[-1], indent=None) + "\n")
    if json_out is not None:
        doc = {"camera": camera, "lens": lens, "controller": method or str(policy.path if policy else ""),
               "detector": detector, **passes[-1], "passes": passes}  # fmt: skip
        write_json(json_out, doc)
        typer.echo(f"wrote {json_out}")
