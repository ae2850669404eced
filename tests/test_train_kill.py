"""Training interrupts lose nothing (issue 15 item 3): a real ``dasha train`` subprocess, stopped by SIGTERM and
killed with SIGKILL at random moments (starting up, mid-iteration, mid-checkpoint), resumed each time.

SIGTERM (what ``docker stop``, systemd and ``timeout`` send): exit 130 and one stderr line saying what was kept; the
newest checkpoint's policy is exported. SIGKILL: nothing can be saved, but ``--resume`` continues from the newest
complete checkpoint; ``metrics.jsonl`` never holds an iteration twice or out of order, and the run finishes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dasha.agents.policy import Policy
from dasha.agents.train import read_metrics

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TINY = "[ppo]\ntrain_batch_size = 100\nminibatch_size = 50\nnum_epochs = 1\nhiddens = [16]\n[env]\nsize = 64\n"
TIMESTEPS = 1200  # 12 iterations of 100 steps


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_DEDUP_LOGS": "0"}
    return subprocess.Popen([sys.executable, "-m", "dasha.cli", "train", "focus", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill what is left of the process group this test started (Ray's own processes outlive a SIGKILLed driver)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _iterations(run: Path) -> list[int]:
    rows = read_metrics(run)
    its = [r["iteration"] for r in rows]
    assert its == list(range(1, len(its) + 1)), its  # strictly increasing, none twice, none missing
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(set(steps)), steps
    return its


def _wait_for_iterations(run: Path, n: int, proc: subprocess.Popen[str], limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(read_metrics(run)) >= n:
                return
        except Exception:  # a file being replaced: try again
            pass
        time.sleep(0.2)
    raise AssertionError(f"no iteration {n} in {limit_s} s (exit {proc.poll()})")


def test_sigterm_keeps_the_policy_and_sigkill_at_random_points_loses_no_iteration(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(TINY)
    run = tmp_path / "run"
    rng = random.Random(15)
    # 1. SIGTERM after two iterations: exit 130, one line, the newest checkpoint's policy exported
    proc = _start(["--config", "tiny.toml", "--timesteps", str(TIMESTEPS), "--out", "run"], tmp_path)
    _wait_for_iterations(run, 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    _reap(proc)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("dasha: interrupted; kept iteration "), lines
    kept = int(lines[0].split("kept iteration ")[1].split()[0])
    assert (run / "checkpoints" / "latest").read_text() == f"iter_{kept:06d}"
    meta = json.loads((run / "policy" / "policy.json").read_text())
    assert meta["training"]["iterations"] == kept and Policy.load(run / "policy").task == "focus"
    assert _iterations(run)[-1] >= kept
    # 2. SIGKILL of the driver at random moments: while starting up, then right after a new iteration appears
    #    (inside the iteration that follows, or inside its checkpoint save)
    for attempt in range(3):
        before = len(read_metrics(run))
        proc = _start(["--resume", "run", "--timesteps", str(TIMESTEPS)], tmp_path)
        if attempt == 0:
            time.sleep(rng.uniform(1.0, 8.0))
        else:
            _wait_for_iterations(run, before + 1, proc)
            time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        _reap(proc)
        _iterations(run)
    # 3. resume to the end: every iteration once, in order, and the policy of the last one
    proc = _start(["--resume", "run", "--timesteps", str(TIMESTEPS)], tmp_path)
    _, err = proc.communicate(timeout=300)
    _reap(proc)
    assert proc.returncode == 0, err[-2000:]
    its = _iterations(run)
    assert read_metrics(run)[-1]["env_steps"] >= TIMESTEPS
    assert json.loads((run / "policy" / "policy.json").read_text())["training"]["iterations"] == its[-1]
    assert (run / "checkpoints" / "latest").read_text() == f"iter_{its[-1]:06d}"
    assert not list((run / "checkpoints").glob(".tmp_*"))
