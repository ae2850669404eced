"""Soak: N frames of ``dasha run --continuous`` on ``sim`` and on ``twin``, random device faults injected throughout.

What ``dasha run --continuous`` does — tune (the shipped joint policy by default, or ``--method``), then watch the
stream and re-tune on drift — on a static scene (constant light, no vibration), the camera behind the fault
wrapper (``faults(…):SPEC``, :mod:`dasha.camera.faults`). An unrecovered fault ends a run with a clear error, as
``dasha run`` exits 1; the soak counts it and starts again where it stopped, as a supervisor (systemd) restarts it.

Reports, per camera: faults injected (by kind), recovered by a retry, survived (no error), errors raised (by type),
crashes (anything else: a bug; must be 0), commands that reached the devices outside their limits or NaN (spied on
at the device hooks; must be 0), RSS growth after warm-up (%), and commands per minute of stream time (50 fps) after
the first pass — on a static scene that is what hunting would cost. Writes a JSON file. ``--change-every K`` moves
the object between 1 m and 0.5 m and the light between 100 and 300 lx every K frames instead (re-tunes of exposure
and focus under faults: the lens faults get exercised).

Usage: ``python benchmarks/soak.py [--frames 100000] [--camera sim|twin|both] [--json soak.json]``
(100 000 frames ≈ 25 min on ``sim`` at 256 px, ≈ 70 min on ``twin``). Not part of the test suite
(``tests/test_soak.py`` runs it for 200 frames).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

FAULTS = ("timeout=0.01,disconnect=0.002,black=0.005,saturated=0.005,corrupt=0.005,shape=0.005,stale=0.1,"
          "nack=0.02,noreply=0.01,stuck=0.02,slow=0.01,slow_s=0.005")  # fmt: skip
"""Default fault rates: per capture, per lens command (the twin adds serial byte loss: ``TWIN_FAULTS``)."""
TWIN_FAULTS = "drop=0.0005"
SCENE = "distance=1.0,lux=100"
FPS = 50.0
"""Stream rate the commands-per-minute figure assumes (the simulator's frame time, 20 ms)."""


def rss_mb() -> float:
    """Resident set size of this process (MB)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return math.nan


class CommandSpy:
    """Wraps the device hooks of the camera under the fault wrapper: every exposure (µs) and lens setting that
    reaches a device is counted and checked against that device's limits (NaN included)."""

    def __init__(self, camera: Any) -> None:
        self.commands: Counter[str] = Counter()
        self.bad: list[tuple[str, float]] = []
        inner = camera.inner  # the simulator, or the twin (its hooks are the real drivers' public layer's callees)
        self._wrap(inner, "_do_set_exposure", "exposure", inner.exposure_limits)
        lens = inner.lens
        self._wrap(lens, "_do_set_setting", "lens", lens.limits)

    def _wrap(self, device: Any, hook: str, kind: str, limits: Any) -> None:
        real = getattr(device, hook)

        def spy(value: float) -> None:
            self.commands[kind] += 1
            if not (math.isfinite(value) and limits.low <= value <= limits.high):
                self.bad.append((kind, value))
            real(value)

        setattr(device, hook, spy)


def soak(base: str, frames: int, controller: str, faults: str, seed: int, warmup: int,
         change_every: int = 0) -> dict[str, Any]:  # fmt: skip
    """One soak run on the camera SPEC ``base`` (``sim:…`` or ``twin:…``); returns its report. ``change_every``:
    move the object (1 m ↔ 0.5 m) and switch the light (100 ↔ 300 lx) every so many frames (0: a static scene)."""
    from dasha.agents.policy import Policy
    from dasha.camera import make_camera
    from dasha.camera.resilient import is_device_fault
    from dasha.runtime.live import make_tuner

    spec = f"faults({faults},seed={seed}):{base}"
    camera = make_camera(spec)
    spy = CommandSpy(camera)
    policy = Policy.shipped("joint") if controller == "joint" else None
    tuner = make_tuner(camera, policy=policy, method=None if policy else controller)
    perception = tuner.perception
    state = {"frames": 0, "first_pass_commands": None, "rss_warm": math.nan, "rss_peak": 0.0}
    real_capture = perception.capture

    def counted(keep: bool = True) -> Any:
        shot = real_capture(keep)
        state["frames"] += 1
        n = state["frames"]
        if n == warmup:
            state["rss_warm"] = rss_mb()
        if n % 500 == 0:
            state["rss_peak"] = max(state["rss_peak"], rss_mb())
        if change_every and n % change_every == 0:  # the simulated world, through the wrapper
            odd = (n // change_every) % 2
            camera.set_lux(300.0 if odd else 100.0)
            camera.set_object_distance(0.5 if odd else 1.0)
        return shot

    perception.capture = counted  # type: ignore[method-assign]
    errors: Counter[str] = Counter()
    samples: list[str] = []
    crashes: list[str] = []
    passes, stuck = 0, 0
    t0 = time.monotonic()
    try:
        while state["frames"] < frames and stuck < 10:  # 10 errors in a row without a frame: the device is gone
            before = state["frames"]
            try:
                for _ in tuner.continuous(max(frames - state["frames"], 1)):
                    passes += 1
                    if state["first_pass_commands"] is None:
                        state["first_pass_commands"] = sum(spy.commands.values())
            except Exception as exc:
                if not is_device_fault(exc):  # a bug: stop and say where
                    crashes.append(traceback.format_exc(limit=8))
                    break
                errors[type(exc).__name__] += 1
                stuck = stuck + 1 if state["frames"] == before else 0
                if len(samples) < 5:
                    samples.append(" ".join(str(exc).split())[:240])
    finally:
        seconds = time.monotonic() - t0
        rss_end = rss_mb()
        injected = camera.injected
        board = getattr(camera.inner, "board", None)
        camera.close()
    total = sum(spy.commands.values())
    after_first = total - (state["first_pass_commands"] or 0)
    stream_min = state["frames"] / FPS / 60.0
    warm = state["rss_warm"] if math.isfinite(state["rss_warm"]) else rss_end
    report = {
        "camera": base, "spec": spec, "controller": controller, "frames": state["frames"], "seconds": seconds,
        "fps": state["frames"] / seconds if seconds else 0.0, "passes": passes,
        "faults_injected": dict(injected), "faults_injected_total": sum(injected.values()),
        "retries": dict(perception.recovery.retries), "recovered_by_retry": perception.recovery.recovered,
        "errors_raised": dict(errors), "errors_raised_total": sum(errors.values()), "error_samples": samples,
        "faults_survived": sum(injected.values()) - sum(errors.values()),
        "crashes": len(crashes), "crash_tracebacks": crashes,
        "commands": dict(spy.commands), "out_of_limit_commands": len(spy.bad), "bad_commands": spy.bad[:10],
        "commands_after_first_pass": after_first, "stream_minutes": stream_min,
        "commands_per_minute": after_first / stream_min if stream_min else 0.0,
        "rss_mb": {"warmup": warm, "end": rss_end, "peak": max(state["rss_peak"], rss_end)},
        "rss_growth_pct": 100.0 * (rss_end - warm) / warm if warm else math.nan,
        "warmup_frames": warmup, "change_every": change_every,
    }  # fmt: skip
    if board is not None:  # what reached the wire: the board's decoded focus codes
        report["wire_out_of_limit_codes"] = sum(1 for v in board.volts if not 24.0 <= v <= 70.0)
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000, help="frames per camera (default 100000)")
    ap.add_argument("--twin-frames", type=int, default=None, help="frames on the twin (default: --frames)")
    ap.add_argument("--camera", choices=("sim", "twin", "both"), default="both")
    ap.add_argument("--method", default="joint", help="joint (the shipped policy) or a classical method")
    ap.add_argument("--faults", default=FAULTS, help="fault rates, the faults(…) keys (default: a mix of all)")
    ap.add_argument("--size", type=int, default=256, help="frame size (px)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=None, help="frames before the RSS baseline (default 10 %%)")
    ap.add_argument("--change-every", type=int, default=0, help="move the object and switch the light every K frames "
                    "(0: a static scene)")  # fmt: skip
    ap.add_argument("--json", type=Path, default=Path("soak.json"))
    args = ap.parse_args(argv)
    if args.frames < 1:
        ap.error("--frames must be ≥ 1")
    import cv2

    cv2.setNumThreads(1)
    runs: dict[str, Any] = {}
    for name in ("sim", "twin") if args.camera == "both" else (args.camera,):
        frames = args.twin_frames if name == "twin" and args.twin_frames else args.frames
        warmup = args.warmup or max(frames // 10, 1)
        faults = args.faults + ("," + TWIN_FAULTS if name == "twin" and "drop=" not in args.faults else "")
        base = f"{name}:{SCENE},size={args.size}"
        r = runs[name] = soak(base, frames, args.method, faults, args.seed, warmup, args.change_every)
        print(f"{name}: {r['frames']} frames in {r['seconds']:.0f} s ({r['fps']:.0f} fps), {r['passes']} passes · "
              f"faults injected {r['faults_injected_total']} (recovered by retry {r['recovered_by_retry']}, "
              f"survived {r['faults_survived']}) · errors raised {r['errors_raised_total']} · crashes "
              f"{r['crashes']} · out-of-limit commands {r['out_of_limit_commands']} · RSS "
              f"{r['rss_mb']['warmup']:.0f} → {r['rss_mb']['end']:.0f} MB ({r['rss_growth_pct']:+.1f} %) · "
              f"{r['commands_per_minute']:.1f} commands/min after the first pass")  # fmt: skip
    doc = {"frames_requested": args.frames, "faults": args.faults, "controller": args.method,
           "change_every": args.change_every, "runs": runs}  # fmt: skip
    args.json.write_text(json.dumps(doc, indent=2, default=str))
    print(f"wrote {args.json}")
    return doc


if __name__ == "__main__":
    main()
