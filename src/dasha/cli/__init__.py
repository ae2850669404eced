"""The ``dasha`` command line (typer). Commands, options, exit codes and JSON files are a contract.

Errors are one line on stderr: exit code 2 for bad input (arguments, SPEC strings, config, files, limits),
1 for device or runtime failures, 130 when interrupted (partial results are saved first).
"""

from __future__ import annotations

import os

import typer

from dasha.camera.errors import CameraError, ConfigError, DependencyMissingError
from dasha.cli import benchmark, devices, rig, training  # noqa: F401  (they register their commands on the app)
from dasha.cli.app import UsageError, app

__all__ = ["UsageError", "app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app and turn errors into one line and an exit code."""
    command = typer.main.get_command(app)
    debug = bool(os.environ.get("DASHA_DEBUG"))
    try:
        code = command.main(args=argv, prog_name="dasha", standalone_mode=False)
        if code == 130:  # click turns Ctrl-C inside a command into an Abort and returns its exit code
            typer.echo("dasha: interrupted", err=True)
            return 130
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
    except Exception as exc:
        if debug:
            raise
        typer.echo(f"dasha: internal error: {type(exc).__name__}: {exc} (DASHA_DEBUG=1 shows the traceback)", err=True)
        return 1
    return 0
