"""The ``dasha`` command line (typer). Contract: ../shared/DESIGN.md, "CLI contract".

Errors are one line on stderr: exit code 2 for bad input (arguments, SPEC strings, config, files, limits),
1 for device or runtime failures, 130 when interrupted (partial results are saved first).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dasha.camera.errors import CameraError, DependencyMissingError

app = typer.Typer(
    name="dasha",
    help="Cameras that tune themselves: RL exposure + liquid-lens autofocus, simulator, baselines, benchmarks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class UsageError(ValueError):
    """Bad command-line input detected by dasha itself (exit code 2)."""


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
    lens_steps: Annotated[int, typer.Option(min=0, max=10_000, help="lens voltages, evenly over 24–70 V")] = 47,
    size: Annotated[int | None, typer.Option(min=16, max=4096, help="frame size, px (simulator)")] = None,
    compress: Annotated[bool, typer.Option(help="write a compressed .npz")] = False,
) -> None:
    """Capture the exposure × focus grid (the paper's Fig. 4 protocol) into an .npz file."""
    import numpy as np
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dasha.camera import make_camera, parse_spec
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
    with make_camera(spec) as cam:
        lens = cam.lens
        volts = list(np.linspace(lens.limits.low, lens.limits.high, lens_steps)) if lens and lens_steps else []
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
def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Show the simulator: focus and exposure sweeps of a real-photo scene as PNG contact sheets."""
    from dasha.demo import simulator_demo

    for path in simulator_demo(out, seed=seed):
        typer.echo(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app and turn errors into one line and an exit code."""
    command = typer.main.get_command(app)
    debug = bool(os.environ.get("DASHA_DEBUG"))
    try:
        command.main(args=argv, prog_name="dasha", standalone_mode=False)
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("dasha: interrupted", err=True)
        return 130
    except typer.exceptions.TyperException as exc:  # click usage errors (typer vendors click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            return 0
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"dasha: error: {' '.join(message.split())}", err=True)
        return int(getattr(exc, "exit_code", 2) or 2)
    except (UsageError, DependencyMissingError) as exc:
        typer.echo(f"dasha: error: {exc}", err=True)
        return 2
    except CameraError as exc:
        if debug:
            raise
        typer.echo(f"dasha: error: {exc}", err=True)
        return 2 if isinstance(exc, ValueError) else 1
    except Exception as exc:
        if debug:
            raise
        typer.echo(f"dasha: internal error: {type(exc).__name__}: {exc} (DASHA_DEBUG=1 shows the traceback)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
