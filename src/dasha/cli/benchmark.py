"""``dasha bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dasha.cli.app import UsageError, _check_camera, _check_domain, _progress, app


@app.command()
def bench(
    suite: Annotated[str, typer.Argument(help="af | ae | joint | detection-grid | robustness | table1 | all")],
    episodes: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option()] = 0,
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
    from dasha.bench.suites import SUITES, BenchOptions, run_suite

    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r} (choose from: {', '.join(SUITES)})")
    _check_domain(domain)
    _check_camera(camera)
    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    with _progress(0, f"bench {suite}") as bar:
        job = bar.add_task("bench", total=None, info="")

        def tick(label: str, n: int) -> None:
            bar.update(job, advance=n, info=label)

        opts = BenchOptions(episodes, seed, list(scene) if scene else None, chosen, detector,
                            policies or policies_root(), plots, tick, backgrounds=list(background or []) or None,
                            domain=domain, workers=workers, camera=camera)  # fmt: skip
        result = run_suite(suite, opts, json_out)
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
