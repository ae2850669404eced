"""``dasha train``, ``dasha eval`` and ``dasha demo``."""

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
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="random seed (0 … 2³² − 1)")] = 0,
    num_env_runners: Annotated[
        int, typer.Option(min=0, max=256, help="remote env runners, one CPU each (0: in-process)")
    ] = 0,
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
    from dasha.agents.train import TrainingInterrupted, TrainOptions, prepare
    from dasha.agents.train import train as run_training

    if task not in TASKS:
        raise UsageError(f"unknown task {task!r} (choose from: {', '.join(TASKS)})")
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r} (choose from: {', '.join(PRESETS)})")
    _check_domain(domain)
    if timesteps == 0 and not init_from:
        raise UsageError("--timesteps 0 only makes sense with --init-from (it exports the initial modules)")
    check_output_dir(resume if resume is not None else out, "--resume" if resume is not None else "--out")
    opts = TrainOptions(task, preset, timesteps, seed, num_env_runners, address, out, resume, config, detector,
                        checkpoint_every, max_minutes=max_minutes, domain=domain, scenes=list(scene or []) or None,
                        backgrounds=list(background or []) or None,
                        init_from=list(init_from or []) or None)  # fmt: skip
    prepared = prepare(opts)  # every check that needs no Ray, before the progress bar and before any file
    with _progress(timesteps, f"train {task}") as bar:
        job = bar.add_task("train", total=timesteps, info="")

        def show(row: dict[str, Any]) -> None:
            s = row.get("success_rate")
            info = f"it {row['iteration']} · success {100 * s:.0f}%" if s is not None else f"it {row['iteration']}"
            bar.update(job, completed=min(row["env_steps"], timesteps), info=info)

        try:
            run_dir = run_training(opts, on_iteration=show, prepared=prepared)
        except TrainingInterrupted as exc:  # Ctrl-C / SIGTERM: the newest checkpoint and its policy are kept
            bar.stop()
            raise Interrupted(str(exc)) from None
    typer.echo(f"run directory: {run_dir}  (policy: {run_dir / 'policy'}, curve: {run_dir / 'learning_curve.png'})")


@app.command("eval")
def eval_cmd(
    policy_dir: Annotated[Path, typer.Argument(help="policy directory (policy.json + .pt files)")],
    task: Annotated[str | None, typer.Option(help="exposure | focus | joint (default: the policy's)")] = None,
    episodes: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option(min=0, help="random seed (≥ 0)")] = 0,
    scene: Annotated[list[str] | None, typer.Option(help="scene image or skimage photo (repeatable)")] = None,
    detector: Annotated[str | None, typer.Option(help="detector defining success (joint)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results as JSON")] = None,
    plots: Annotated[Path | None, typer.Option(help="directory for before_after.png")] = None,
    background: Annotated[list[str] | None, typer.Option(help="background image or photo (repeatable)")] = None,
    domain: Annotated[
        str, typer.Option(help="wide | paper (the paper's 1.4–2.0 m, 13–300 lx, factory start)")
    ] = "wide",
    camera: Annotated[
        str, typer.Option(help="sim | twin (the simulator behind the real Basler and Varioptic drivers)")
    ] = "sim",
) -> None:
    """Evaluate a trained policy on seeded simulator episodes (held-out objects and backgrounds by default)."""
    from dasha.agents.evaluate import before_after, eval_config
    from dasha.agents.policy import Policy

    _check_domain(domain)
    _check_camera(camera)
    check_output_file(json_out, "--json")
    check_output_dir(plots, "--plots")
    check_images(scene, "--scene")
    check_images(background, "--background")
    policy = Policy.load(policy_dir)
    if task is not None and task != policy.task:
        raise UsageError(f"{policy_dir} holds a {policy.task!r} policy, not {task!r}")
    cfg = eval_config(policy, scenes=scene, detector=detector, backgrounds=background, domain=domain, camera=camera)
    summary, results, cut = _evaluate_with_progress(policy, episodes, seed, cfg, f"eval {policy.task}", "success")
    if cut:
        if json_out is not None:
            _write_json(json_out, policy.task, episodes, seed, cfg, summary, results, partial=True)
        raise Interrupted(_kept(len(results), episodes, json_out, "--json"))
    _print_results(policy.task, summary, results)
    if json_out is not None:
        _write_json(json_out, policy.task, episodes, seed, cfg, summary, results)
    if plots is not None:
        typer.echo(f"wrote {before_after(results, plots / 'before_after.png', f'dasha eval {policy_dir}')}")
        from dasha.agents.evaluate import make_env
        from dasha.agents.saliency import saliency_figure

        env = make_env(policy.task, cfg, policy.meta.get("env_class"))  # what the agents attend to, 3 episodes
        typer.echo(
            f"wrote {saliency_figure(policy, env, [seed * 100_003 + i for i in range(3)], plots / 'saliency.png')}"
        )


def _evaluate_with_progress(
    policy: Any, episodes: int, seed: int, cfg: Any, label: str, word: str
) -> tuple[dict[str, Any], list[Any], bool]:
    """``dasha.agents.evaluate.evaluate`` under a progress bar showing the running success rate: ``(summary,
    results, interrupted)``; on Ctrl-C / SIGTERM the episodes finished so far and their summary, interrupted True."""
    from dasha.agents.evaluate import evaluate, summarise

    finished: list[Any] = []
    with _progress(episodes, label) as bar:
        job = bar.add_task(label, total=episodes, info="")
        hits = [0]

        def show(done: int, r: Any) -> None:
            finished.append(r)
            hits[0] += r.success
            bar.update(job, completed=done, info=f"{word} {100 * hits[0] / done:.0f}%")

        try:
            summary, results = evaluate(policy, episodes, seed, cfg, progress=show)
        except KeyboardInterrupt:
            bar.stop()
            return summarise(finished), finished, True
    return summary, results, False


def _kept(done: int, episodes: int, path: Path | None, option: str) -> str:
    """What an interrupted evaluation kept (one line)."""
    if path is None:
        return f"{done}/{episodes} episodes finished; nothing written (give {option} to keep them)"
    return f"kept {done}/{episodes} finished episodes in {path} (marked partial)"


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


def _write_json(path: Path, task: str, episodes: int, seed: int, cfg: Any, summary: dict, results: list,
                partial: bool = False) -> None:  # fmt: skip
    from dasha.jsonio import write_json

    doc = {
        "suite": task,
        "episodes": episodes,
        "seed": seed,
        "scenes": list(cfg.scenes),
        "backgrounds": list(cfg.backgrounds),
        "methods": {"dasha": summary},
        "per_episode": [r.as_dict() for r in results],
    }
    if partial:  # interrupted: the episodes finished so far
        doc["partial"], doc["episodes_done"] = True, len(results)
    write_json(path, doc)
    if not partial:
        typer.echo(f"wrote {path}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/demo"),
    episodes: Annotated[int, typer.Option(min=1, max=10_000, help="joint episodes")] = 50,
    seed: Annotated[int, typer.Option(min=0, help="random seed (≥ 0)")] = 0,
    policy_dir: Annotated[Path | None, typer.Option("--policy", help="joint policy (default: shipped)")] = None,
    detector: Annotated[str | None, typer.Option(help="detector defining success")] = None,
) -> None:
    """The main job, offline: the shipped joint policy sets exposure and focus on held-out simulator scenes."""
    from dasha.agents.evaluate import before_after, eval_config
    from dasha.agents.policy import Policy, shipped_policy
    from dasha.demo import simulator_demo
    from dasha.jsonio import write_json

    check_output_dir(out, "--out")
    path = policy_dir or shipped_policy("joint")
    policy = Policy.load(path)
    cfg = eval_config(policy, detector=detector)
    typer.echo(
        f"joint policy {path} · detector {cfg.detector} · objects {', '.join(cfg.scenes)} on backgrounds "
        f"{', '.join(cfg.backgrounds)} (none used in training) · success: detected and in focus"
    )
    summary, results, cut = _evaluate_with_progress(policy, episodes, seed, cfg, "demo", "detected")
    if not cut:
        _print_results("joint", summary, results, limit=15)
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
    if cut:  # interrupted: the episodes finished so far, no figures
        write_json(out / "summary.json", {**doc, "partial": True, "episodes_done": len(results)})
        raise Interrupted(_kept(len(results), episodes, out / "summary.json", "--out"))
    write_json(out / "summary.json", doc)
    figure = before_after(results, out / "before_after.png", "dasha demo: start (top) → after exposure + focus agents")
    for extra in simulator_demo(out, seed=seed):
        typer.echo(f"wrote {extra}")
    typer.echo(f"wrote {out / 'summary.json'}\nwrote {figure}")
