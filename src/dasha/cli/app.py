"""The typer application every ``dasha`` command registers on, and the helpers the commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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


def _version(value: bool) -> None:
    if value:
        from dasha import __version__

        typer.echo(f"dasha {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print dasha's version and exit")
    ] = False,
) -> None:
    """Cameras that tune themselves: RL exposure + liquid-lens autofocus, simulator, baselines, benchmarks."""


def _check_domain(domain: str) -> None:
    from dasha.envs.config import DOMAINS

    if domain not in DOMAINS:
        raise UsageError(f"unknown domain {domain!r} (choose from: {', '.join(DOMAINS)})")


def _check_camera(camera: str) -> None:
    if camera not in ("sim", "twin"):
        raise UsageError(f"--camera must be sim or twin, got {camera!r}")


def _progress(total: int, label: str) -> Any:
    """A rich progress bar (steps or episodes)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip


def open_camera(camera: str, lens: str | None = None, calibration: Path | None = None) -> Any:
    """The camera of ``--camera``, composed with the lens of ``--lens`` when given, its lens given the curve of
    ``--calibration`` (a ``lens.toml``) when given."""
    from dasha.camera import make_camera, make_lens
    from dasha.camera.compose import CameraWithLens

    if lens is None:
        return _calibrated(make_camera(camera), calibration)
    if camera.split(":", 1)[0].strip() == "sim":
        raise UsageError("--lens: the simulator renders through its own lens; narrow it in the SPEC instead, "
                         "e.g. --camera sim:lens_low=30,lens_high=60")  # fmt: skip
    body = make_camera(camera)
    try:
        return _calibrated(CameraWithLens(body, make_lens(lens)), calibration)
    except BaseException:
        body.close()
        raise


def _calibrated(cam: Any, calibration: Path | None) -> Any:
    if calibration is None:
        return cam
    from dasha.camera.lens_file import apply_lens_calibration

    try:
        if cam.lens is None:
            raise UsageError("--calibration: the camera has no lens")
        apply_lens_calibration(cam.lens, calibration)
    except BaseException:
        cam.close()
        raise
    return cam
