"""The typer application every ``dasha`` command registers on, and the helpers the commands share."""

from __future__ import annotations

import os
import shutil
import tempfile
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


class Interrupted(Exception):
    """A command stopped by Ctrl-C or SIGTERM after saving what it had; ``str()`` says what was kept (exit 130)."""


#: Free space an output location must have before a command starts (bytes), unless the command asks for more.
MIN_FREE_BYTES = 1 << 20


def check_output_file(path: Path | None, option: str, need_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse (UsageError, exit 2) an output file that cannot be written, before any work: a directory, a parent
    that is a file or not writable, or a disk with less than ``need_bytes`` free. Creates no file."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory (give a file name)")
    if path.exists() and not path.is_file():  # /dev/stdout, a FIFO: written in place
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {path}: not writable")
        return
    _check_directory(path.parent, path, option, need_bytes)


def check_output_dir(path: Path | None, option: str, need_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse (UsageError, exit 2) an output directory that cannot be written, before any work: a file, under a
    file, not writable, or on a disk with less than ``need_bytes`` free."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: not a directory")
    _check_directory(path, path, option, need_bytes)


def _check_directory(directory: Path, given: Path, option: str, need_bytes: int) -> None:
    existing = directory.absolute()
    while not existing.exists():  # the directory will be created: check the nearest ancestor that exists
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {given}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {given}: {existing} is not writable")
    free = shutil.disk_usage(existing).free
    if free < need_bytes:
        raise UsageError(f"{option} {given}: {_size(free)} free on {existing}, {_size(need_bytes)} needed")
    try:  # a real write: read-only mounts, quotas and full disks that os.access and disk_usage do not show
        with tempfile.TemporaryFile(dir=existing) as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
    except OSError as exc:
        raise UsageError(f"{option} {given}: cannot write in {existing} ({exc.strerror})") from None


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def check_images(images: list[str] | None, option: str) -> None:
    """Read every ``--scene`` / ``--background`` image (file or built-in photo) now, so a bad one is refused
    (SpecError, exit 2, one line) before any work, not in the middle of it."""
    from dasha.camera.errors import SpecError
    from dasha.camera.sim import load_texture

    for image in images or []:
        try:
            load_texture(image)
        except SpecError as exc:
            raise SpecError(f"{option}: {exc}") from None


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
    """``--camera`` of eval / bench: ``sim``, ``twin``, or either with faults injected (``faults(…):sim``)."""
    from dasha.camera.faults import split_faults

    try:
        _, base = split_faults(camera)
    except ValueError as exc:  # SpecError is a ValueError
        raise UsageError(f"--camera {camera!r}: {exc}") from None
    if base not in ("sim", "twin"):
        raise UsageError(f"--camera must be sim, twin or faults(…):sim|twin, got {camera!r}")


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
