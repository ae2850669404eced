"""Cluster mode is real: a two-node local Ray cluster runs `dasha train --address` with 2 env runners."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_bin() -> str:
    path = Path(sys.executable).with_name("ray")
    return str(path) if path.exists() else (shutil.which("ray") or "ray")


# A private test cluster on loopback: no usage stats, no token authentication (every process agrees).
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _start(args: list[str], tmp: Path, name: str) -> subprocess.Popen:
    log = open(tmp / f"{name}.log", "w")
    return subprocess.Popen([_ray_bin(), "start", "--block", *args], stdout=log, stderr=subprocess.STDOUT, env=ENV)


def _wait_for_nodes(address: str, n: int, timeout_s: float = 120.0) -> None:
    code = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False);"
        "print(len([x for x in ray.nodes() if x['Alive']]))"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-c", code, address], capture_output=True, text=True, timeout=120, env=ENV
        )
        if out.stdout.strip().isdigit() and int(out.stdout.strip()) >= n:
            return
        time.sleep(2)
    raise AssertionError(f"Ray cluster at {address} did not reach {n} nodes")


def test_train_on_a_two_node_cluster(tmp_path: Path) -> None:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
    head = _start(["--head", "--port", str(port), "--include-dashboard", "false", *common], tmp_path, "head")
    worker = None
    try:
        time.sleep(3)
        worker = _start(["--address", address, *common], tmp_path, "worker")
        _wait_for_nodes(address, 2)
        (tmp_path / "cfg.toml").write_text("[ppo]\ntrain_batch_size = 200\nminibatch_size = 100\nnum_epochs = 1\n"
                                           "[env]\nsize = 64\n")  # fmt: skip
        out = tmp_path / "run"
        proc = subprocess.run(
            [sys.executable, "-m", "dasha.cli", "train", "focus", "--address", address, "--num-env-runners", "2",
             "--timesteps", "200", "--config", str(tmp_path / "cfg.toml"), "--out", str(out)],
            capture_output=True, text=True, timeout=600, env=ENV,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        cluster = json.loads((out / "cluster.json").read_text())
        assert cluster["cluster_nodes"] == 2
        assert len(cluster["env_runner_nodes"]) == 2
        assert len(set(cluster["env_runner_nodes"])) == 2  # one env runner on each node
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        assert rows[0]["env_steps"] >= 200
    finally:
        for proc in (worker, head):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
