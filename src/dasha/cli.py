"""The ``dasha`` command line (typer). Commands, options, exit codes and JSON files are a contract.

Errors are one line on stderr: exit code 2 for bad input (arguments, SPEC strings, config, files, limits),
1 for device or runtime failures, 130 when interrupted (partial results are saved first).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dasha.camera.errors import CameraError, ConfigError, DependencyMissingError

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


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="exposure | focus | joint")],
    preset: Annotated[str, typer.Option(help="paper | fast")] = "fast",
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with [ppo] and [env] overrides")] = None,
    timesteps: Annotated[
        int,
        typer.Option(
            min=0, help="total env steps to sample (0 with --init-from: export the initial modules as they are)"
        ),
    ] = 200_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    num_env_runners: Annotated[int, typer.Option(min=0, max=256, help="remote env runners (0: in-process)")] = 0,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (ray start --head prints it)")] = None,
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/train/TASK-PRESET-sSEED)")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue a run directory from its latest checkpoint")] = None,
    detector: Annotated[str | None, typer.Option(help="detector defining success (joint)")] = None,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="checkpoint every N iterations")] = 1,
    max_minutes: Annotated[float | None, typer.Option(min=0.1, help="stop after this wall time")] = None,
    domain: Annotated[
        str, typer.Option(help="wide (0.2 m–∞, 5–1000 lx) | paper (1.4–2.0 m, 13–300 lx, factory start)")
    ] = "wide",
    scene: Annotated[list[str] | None, typer.Option(help="object photo to train on (repeatable)")] = None,
    background: Annotated[list[str] | None, typer.Option(help="background photo to train on (repeatable)")] = None,
    init_from: Annotated[
        list[Path] | None,
        typer.Option(
            help="policy directory whose modules start the training (exposure → joint high level, focus → low level)"
        ),
    ] = None,
) -> None:
    """Train a policy with RLlib PPO: progress bar, TensorBoard, checkpoints, learning_curve.png, policy/."""
    from dasha.agents.rllib import PRESETS, TASKS
    from dasha.agents.train import TrainOptions
    from dasha.agents.train import train as run_training

    if task not in TASKS:
        raise UsageError(f"unknown task {task!r} (choose from: {', '.join(TASKS)})")
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r} (choose from: {', '.join(PRESETS)})")
    _check_domain(domain)
    if timesteps == 0 and not init_from:
        raise UsageError("--timesteps 0 only makes sense with --init-from (it exports the initial modules)")
    opts = TrainOptions(task, preset, timesteps, seed, num_env_runners, address, out, resume, config, detector,
                        checkpoint_every, max_minutes=max_minutes, domain=domain, scenes=list(scene or []) or None,
                        backgrounds=list(background or []) or None,
                        init_from=list(init_from or []) or None)  # fmt: skip
    with _progress(timesteps, f"train {task}") as bar:
        job = bar.add_task("train", total=timesteps, info="")

        def show(row: dict[str, Any]) -> None:
            s = row.get("success_rate")
            info = f"it {row['iteration']} · success {100 * s:.0f}%" if s is not None else f"it {row['iteration']}"
            bar.update(job, completed=min(row["env_steps"], timesteps), info=info)

        run_dir = run_training(opts, on_iteration=show)
    typer.echo(f"run directory: {run_dir}  (policy: {run_dir / 'policy'}, curve: {run_dir / 'learning_curve.png'})")


@app.command("eval")
def eval_cmd(
    policy_dir: Annotated[Path, typer.Argument(help="policy directory (policy.json + .pt files)")],
    task: Annotated[str | None, typer.Option(help="exposure | focus | joint (default: the policy's)")] = None,
    episodes: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option()] = 0,
    scene: Annotated[list[str] | None, typer.Option(help="scene image or skimage photo (repeatable)")] = None,
    detector: Annotated[str | None, typer.Option(help="detector defining success (joint)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results as JSON")] = None,
    plots: Annotated[Path | None, typer.Option(help="directory for before_after.png")] = None,
    background: Annotated[list[str] | None, typer.Option(help="background image or photo (repeatable)")] = None,
    domain: Annotated[
        str, typer.Option(help="wide | paper (the paper's 1.4–2.0 m, 13–300 lx, factory start)")
    ] = "wide",
) -> None:
    """Evaluate a trained policy on seeded simulator episodes (held-out objects and backgrounds by default)."""
    from dasha.agents.evaluate import before_after, eval_config
    from dasha.agents.policy import Policy

    _check_domain(domain)
    policy = Policy.load(policy_dir)
    if task is not None and task != policy.task:
        raise UsageError(f"{policy_dir} holds a {policy.task!r} policy, not {task!r}")
    cfg = eval_config(policy, scenes=scene, detector=detector, backgrounds=background, domain=domain)
    summary, results = _evaluate_with_progress(policy, episodes, seed, cfg, f"eval {policy.task}", "success")
    _print_results(policy.task, summary, results)
    if json_out is not None:
        _write_json(json_out, policy.task, episodes, seed, cfg, summary, results)
    if plots is not None:
        typer.echo(f"wrote {before_after(results, plots / 'before_after.png', f'dasha eval {policy_dir}')}")


def _evaluate_with_progress(policy: Any, episodes: int, seed: int, cfg: Any, label: str, word: str) -> Any:
    """``dasha.agents.evaluate.evaluate`` under a progress bar showing the running success rate."""
    from dasha.agents.evaluate import evaluate

    with _progress(episodes, label) as bar:
        job = bar.add_task(label, total=episodes, info="")
        hits = [0]

        def show(done: int, r: Any) -> None:
            hits[0] += r.success
            bar.update(job, completed=done, info=f"{word} {100 * hits[0] / done:.0f}%")

        return evaluate(policy, episodes, seed, cfg, progress=show)


def _print_results(task: str, summary: dict[str, Any], results: list[Any], limit: int = 20) -> None:
    from rich.console import Console
    from rich.table import Table

    joint = bool(results) and results[0].detected is not None
    table = Table(title=f"{task}: first {min(limit, len(results))} of {len(results)} episodes")
    columns = ["#", "scene", "background", "distance m", "lux", "steps", "exposure µs", "lens V", "blur px"]
    for col in (*columns, *(["detected"] if joint else []), "result"):
        table.add_column(col, justify="right")
    for r in results[:limit]:
        cells = [str(r.episode), r.scene, r.background, f"{r.distance_m:.2f}", f"{r.lux:.0f}", str(r.steps),
                 f"{r.final_exposure_us:.0f}", f"{r.final_lens_v:.2f}" if r.final_lens_v else "-",
                 f"{r.final_blur_px:.1f}"]  # fmt: skip
        if joint:
            cells.append("yes" if r.detected else "no")
        table.add_row(*cells, "[green]ok[/]" if r.success else "[red]fail[/]")
    console = Console()
    console.print(table)
    rig = summary["rig_seconds"]
    rig_text = "–" if rig["paper"] is None else f"{rig['paper']:.1f} s (paper rig) / {rig['fast']:.3f} s (fast rig)"
    detected = f" · detected {100 * summary['detection_rate']:.1f}%" if "detection_rate" in summary else ""
    lo, hi = summary["success_ci95"]
    console.print(
        f"success {100 * summary['success_rate']:.1f}% (95 % CI {100 * lo:.1f}–{100 * hi:.1f}){detected} · mean steps "
        f"{summary['mean_steps']:.2f} (p95 {summary['p95_steps']:.0f}) · {summary['ms_per_step']:.2f} ms/step "
        f"(detector {summary['detector_ms_per_step']:.2f}) · rig time of the successes {rig_text}"
    )


def _write_json(path: Path, task: str, episodes: int, seed: int, cfg: Any, summary: dict, results: list) -> None:
    import json

    doc = {
        "suite": task,
        "episodes": episodes,
        "seed": seed,
        "scenes": list(cfg.scenes),
        "backgrounds": list(cfg.backgrounds),
        "methods": {"dasha": summary},
        "per_episode": [r.as_dict() for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    typer.echo(f"wrote {path}")


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
) -> None:
    """Every method on the same seeded episodes: JSON, figures and a markdown table (methods alone first)."""
    from dasha.agents.policy import policies_root
    from dasha.bench.suites import SUITES, BenchOptions, run_suite

    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r} (choose from: {', '.join(SUITES)})")
    _check_domain(domain)
    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    with _progress(0, f"bench {suite}") as bar:
        job = bar.add_task("bench", total=None, info="")

        def tick(label: str, n: int) -> None:
            bar.update(job, advance=n, info=label)

        opts = BenchOptions(episodes, seed, list(scene) if scene else None, chosen, detector,
                            policies or policies_root(), plots, tick, backgrounds=list(background or []) or None,
                            domain=domain, workers=workers)  # fmt: skip
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


@app.command()
def run(
    camera: Annotated[str, typer.Option("--camera", help="camera SPEC (sim, sim:..., replay:FILE, ...)")],
    policy_dir: Annotated[
        Path | None, typer.Option("--policy", help="policy directory (default: shipped joint)")
    ] = None,
    lens: Annotated[str | None, typer.Option(help="separate lens SPEC (hardware lens drivers)")] = None,
    continuous: Annotated[bool, typer.Option(help="keep watching and re-tune when the scene changes")] = False,
    frames: Annotated[int, typer.Option(min=1, help="frames to watch in continuous mode")] = 200,
    detector: Annotated[
        str | None, typer.Option(help="stop the lens agent as soon as this detector finds an object")
    ] = None,
) -> None:
    """Tune a camera with a trained policy: exposure agent, then lens agent; prints the settings found."""
    from dasha.agents.policy import Policy, shipped_policy
    from dasha.camera import make_camera
    from dasha.runtime.live import LiveTuner

    if lens is not None:
        raise UsageError("--lens: no separate lens drivers in this release; use a camera SPEC with a lens (sim)")
    policy = Policy.load(policy_dir or shipped_policy("joint"))
    with make_camera(camera) as cam:
        tuner = LiveTuner(cam, policy, detector=detector)
        results = tuner.continuous(frames) if continuous else iter([tuner.tune()])
        for k, r in enumerate(results):
            lens_txt = f"{r.lens_v:.3f} V" if r.lens_v is not None else "no lens"
            found = "" if r.found is None else (" · object found" if r.found else " · no object found")
            typer.echo(f"[{k}] exposure {r.exposure_us:.0f} µs · lens {lens_txt} · moves {r.exposure_moves}+"
                       f"{r.lens_moves} · {1e3 * r.seconds:.0f} ms{found}")  # fmt: skip


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/demo"),
    episodes: Annotated[int, typer.Option(min=1, max=10_000, help="joint episodes")] = 50,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    policy_dir: Annotated[Path | None, typer.Option("--policy", help="joint policy (default: shipped)")] = None,
    detector: Annotated[str | None, typer.Option(help="detector defining success")] = None,
) -> None:
    """The main job, offline: the shipped joint policy sets exposure and focus on held-out simulator scenes."""
    import json

    from dasha.agents.evaluate import before_after, eval_config
    from dasha.agents.policy import Policy, shipped_policy
    from dasha.demo import simulator_demo

    path = policy_dir or shipped_policy("joint")
    policy = Policy.load(path)
    cfg = eval_config(policy, detector=detector)
    typer.echo(
        f"joint policy {path} · detector {cfg.detector} · objects {', '.join(cfg.scenes)} on backgrounds "
        f"{', '.join(cfg.backgrounds)} (none used in training) · success: detected and in focus"
    )
    summary, results = _evaluate_with_progress(policy, episodes, seed, cfg, "demo", "detected")
    _print_results("joint", summary, results, limit=15)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "suite": "demo",
        "episodes": episodes,
        "seed": seed,
        "policy": str(path),
        "detector": cfg.detector,
        "scenes": list(cfg.scenes),
        "backgrounds": list(cfg.backgrounds),
        "methods": {"dasha": summary},
        "per_episode": [r.as_dict() for r in results],
    }
    (out / "summary.json").write_text(json.dumps(doc, indent=2))
    figure = before_after(results, out / "before_after.png", "dasha demo: start (top) → after exposure + focus agents")
    for extra in simulator_demo(out, seed=seed):
        typer.echo(f"wrote {extra}")
    typer.echo(f"wrote {out / 'summary.json'}\nwrote {figure}")


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
