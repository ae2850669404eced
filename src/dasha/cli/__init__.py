"""The ``dasha`` command line (typer). Commands, options, exit codes and JSON files are a contract.

Errors are one line on stderr: exit code 2 for bad input (arguments, SPEC strings, config, files, limits),
1 for device or runtime failures (a full disk mid-write included: the old file is left intact), 130 when interrupted
by Ctrl-C or SIGTERM (``docker stop``, systemd, ``timeout``) — handled alike: what was finished is saved first and
the one line says what was kept.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from dasha.camera.errors import CameraError, ConfigError, DependencyMissingError
from dasha.cli import benchmark, devices, rig, training  # noqa: F401  (they register their commands on the app)
from dasha.cli.app import Interrupted, UsageError, app
from dasha.jsonio import OutputError

__all__ = ["Interrupted", "UsageError", "app", "main"]


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """While a command runs, SIGTERM raises KeyboardInterrupt as Ctrl-C does (the commands save what they have);
    the previous handler is restored afterwards. Only the main thread can own signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app and turn errors into one line and an exit code."""
    with _sigterm_as_ctrl_c():
        return _run(argv)


def _run(argv: list[str] | None) -> int:  # noqa: C901 - one except clause per exit-code rule
    command = typer.main.get_command(app)
    debug = bool(os.environ.get("DASHA_DEBUG"))
    try:
        code = command.main(args=argv, prog_name="dasha", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C inside a command into Exit(130) and returns its exit code
            typer.echo("dasha: interrupted", err=True)
            return 130
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except Interrupted as exc:  # a command saved what it had and says what
        if debug:
            raise
        typer.echo(f"dasha: interrupted; {exc}", err=True)
        return 130
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
    except ConfigError as exc:  # bad configuration: SPEC strings, TOML configs, policy files, presets
        if debug:
            raise
        typer.echo(f"dasha: error: {' '.join(str(exc).split())}", err=True)
        return 2
    except CameraError as exc:
        if debug:
            raise
        typer.echo(f"dasha: error: {exc}", err=True)
        return 2 if isinstance(exc, ValueError) else 1
    except OSError as exc:  # an output that failed mid-write (full disk, …): OutputError says which file
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename and not isinstance(exc, OutputError) else ""
        typer.echo(f"dasha: error: {where}{' '.join(str(exc.strerror if where else exc).split())}", err=True)
        return 1
    except Exception as exc:
        if debug:
            raise
        typer.echo(f"dasha: internal error: {type(exc).__name__}: {exc} (DASHA_DEBUG=1 shows the traceback)", err=True)
        return 1
    return 0
