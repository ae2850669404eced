"""The typer application every ``dasha`` command registers on, and the helpers the commands share."""

from __future__ import annotations

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
