"""``dasha bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dasha.cli.app import (
    Interrupted,
    UsageError,
    _check_camera,
    _check_domain,
    _progress,
    app,
    check_images,
    check_output_dir,
    check_output_file,
)


@app.command()
def bench(
    suite: Annotated[
        str,
        typer.Argument(help="af | ae | joint | calibration | conditions | detection-grid | robustness | table1 | all"),
    ],
    episodes: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option(min=0, help="random seed (≥ 0)")] = 0,
    scene: Annotated[list[str] | None, typer.Option(help="scene image or skimage photo (repeatable)")] = None,
    methods: Annotated[str | None, typer.Option(help="comma-separated method names")] = None,
    detector: Annotated[str, typer.Option(help="detector defining success (joint)")] = "haar-face",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results JSON here")] = None,
    plots: Annotated[Path, typer.Option(help="directory for figures, JSON and results.md")] = Path("runs/bench"),
    policies: Annotated[Path | None, typer.Option(help="directory of trained policies (default: shipped)")] = None,
    readme: Annotated[Path | None, typer.Option(help="also rewrite this README's results block")] = None,
    background: Annotated[list[str] | None, typer.Option(help="background image or photo (repeatable)")] = None,
    domain: Annotated[
        str, typer.Option(help="wide | paper (the paper's 1.4–2.0 m, 13–300 lx, factory start)")
    ] = "wide",
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="worker processes (default: all cores)")] = None,
    camera: Annotated[
        str, typer.Option(help="sim | twin (the simulator behind the real Basler and Varioptic drivers)")
    ] = "sim",
) -> None:
    """Every method on the same seeded episodes: JSON, figures and a markdown table (methods alone first)."""
    from dasha.agents.policy import policies_root
    from dasha.bench.suites import SUITES, BenchInterrupted, BenchOptions, run_suite

    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r} (choose from: {', '.join(SUITES)})")
    _check_domain(domain)
    _check_camera(camera)
    check_output_file(json_out, "--json")
    check_output_dir(plots, "--plots")
    check_output_file(readme, "--readme")
    if readme is not None and not readme.is_file():
        raise UsageError(f"--readme {readme}: no such file (it must hold the results block to rewrite)")
    check_images(scene, "--scene")
    check_images(background, "--background")
    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    with _progress(0, f"bench {suite}") as bar:
        job = bar.add_task("bench", total=None, info="")

        def tick(label: str, n: int) -> None:
            bar.update(job, advance=n, info=label)

        opts = BenchOptions(episodes, seed, list(scene) if scene else None, chosen, detector,
                            policies or policies_root(), plots, tick, backgrounds=list(background or []) or None,
                            domain=domain, workers=workers, camera=camera)  # fmt: skip
        try:
            result = run_suite(suite, opts, json_out)
        except BenchInterrupted as exc:
            bar.stop()
            raise Interrupted(_kept(exc, plots, json_out)) from None
    md = plots / "results.md"
    if md.is_file():
        typer.echo(md.read_text())
    if readme is not None:
        from dasha.bench.suites import update_readme

        where = f" --domain {domain}" if domain != "wide" else ""
        command = f"dasha bench {suite} --episodes {episodes} --seed {seed}{where} --plots {plots} --readme {readme}"
        update_readme(readme, plots, command)
    typer.echo(f"wrote {plots}/ ({suite})" + (f" and {json_out}" if json_out else ""))
    del result


def _kept(exc: Any, plots: Path, json_out: Path | None) -> str:
    """What an interrupted bench kept (one line)."""
    doc = exc.doc or {}
    done = int(doc.get("episodes_done", 0) or 0)
    where = f"{plots}/" + (f" and {json_out}" if json_out else "")
    if "suites" in doc:  # bench all: the suites finished, then the one cut short
        return f"kept {len(doc['suites'])} suite documents in {where}, the last partial ({done} episodes)"
    return f"kept {done} finished episodes in {where} (marked partial)"
