"""Commands for a real rig: ``dasha calibrate`` (measure the lens curve) and ``dasha devices`` (what is attached)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from dasha.cli.app import Interrupted, UsageError, app, check_output_file, open_camera


def _parse_distances(text: str) -> list[float]:
    try:
        values = [math.inf if x.strip().lower() in ("inf", "infinity") else float(x) for x in text.split(",") if x]
    except ValueError:
        raise UsageError(f"--distances must be comma-separated metres (or inf), got {text!r}") from None
    if len(set(values)) < 2:
        raise UsageError("--distances needs at least two distinct target distances")
    return values


@app.command()
def calibrate(
    camera: Annotated[str, typer.Option("--camera", help="camera SPEC (the target in front of it)")],
    out: Annotated[Path, typer.Option("--out", help="the lens.toml to write")],
    distances: Annotated[str, typer.Option(help="target distances, m (comma-separated; inf allowed)")] = (
        "0.3,0.5,1,2,inf"
    ),
    lens: Annotated[str | None, typer.Option(help="separate lens SPEC, composed with the camera")] = None,
    plot: Annotated[Path | None, typer.Option(help="figure of the measured curve (default: beside --out)")] = None,
) -> None:
    """Measure the lens's drive → dioptre curve: a sharpness sweep per target distance, then a monotone fit.

    On the simulator and the twin the target moves itself; on a real rig you are asked to place it."""
    from dasha.camera.lens_file import save_lens_calibration

    targets = _parse_distances(distances)
    check_output_file(out, "--out")
    check_output_file(plot or out.with_suffix(".png"), "--plot")
    try:
        curve, points, unit = _measure(camera, lens, targets)
    except KeyboardInterrupt:
        raise Interrupted(f"nothing written ({out} needs every target distance measured)") from None
    for p in points:
        typer.echo(f"  target {p.distance_m:g} m → {p.drive:.4f} {unit} ({p.power_d:.3f} dpt, {p.frames} frames)")
    save_lens_calibration(out, curve, camera)
    figure = _plot(curve, points, unit, plot or out.with_suffix(".png"))
    typer.echo(f"wrote {out}\nwrote {figure}")


def _measure(camera: str, lens: str | None, targets: list[float]) -> tuple[Any, list[Any], str]:
    """The sweeps of ``dasha calibrate``: ``(curve, points, lens unit)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dasha.runtime.calibrate import calibrate_lens

    with open_camera(camera, lens) as cam:

        def move_target(d: float) -> None:
            if hasattr(cam, "set_object_distance"):
                cam.set_object_distance(d)
            else:
                typer.prompt(f"place the target at {d:g} m and press Enter", default="", show_default=False)

        columns = (TextColumn("calibrate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as bar:
            task = bar.add_task("sweeps", total=len(targets))
            curve, points = calibrate_lens(cam, targets, move_target, on_point=lambda p: bar.advance(task))
        unit = cam.lens.unit if cam.lens is not None else "?"
    return curve, points, unit


def _plot(curve, points, unit: str, path: Path) -> Path:  # type: ignore[no-untyped-def]
    import numpy as np

    from dasha.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    xs = np.linspace(min(curve.drive_points) - 0.5, max(curve.drive_points) + 0.5, 200)
    ax.plot(xs, curve.power(xs), color="tab:blue", label="fitted curve (monotone, piecewise linear)")
    ax.scatter([p.drive for p in points], [p.power_d for p in points], color="tab:red", zorder=3,
               label="sharpest drive per target")  # fmt: skip
    for p in points:
        label = "∞" if math.isinf(p.distance_m) else f"{p.distance_m:g} m"
        ax.annotate(label, (p.drive, p.power_d), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel(f"lens drive ({unit})")
    ax.set_ylabel("added optical power (dpt)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


@app.command()
def devices() -> None:
    """List the cameras (pylon, V4L2) and serial ports this machine can see."""
    try:
        from dasha.camera.devices import list_devices
    except ImportError:  # pragma: no cover - the listing module ships with the package
        raise UsageError("device listing is not available in this build") from None
    found = list_devices()
    if not found:
        typer.echo("no cameras or serial ports found")
    for d in found:
        fields = " · ".join(f"{k} {v}" for k, v in d.items() if k not in ("kind",) and v not in (None, ""))
        typer.echo(f"{d.get('kind', '?'):8s} {fields}")
