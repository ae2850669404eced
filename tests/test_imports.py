"""Imports that mean what they say: evaluation, the bench, the demo and ``run`` never import Ray (only training
needs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RAY_FREE = """
import sys
from dasha.cli import main
for argv in ({commands}):
    assert main(list(argv)) == 0, argv
ray = sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))
print("RAY", len(ray), *ray[:3])
"""


def test_eval_bench_demo_and_run_never_import_ray(tmp_path: Path) -> None:
    commands = [
        ["eval", str(ROOT / "policies" / "joint"), "--episodes", "1"],
        ["eval", str(ROOT / "policies" / "focus"), "--episodes", "1"],
        ["run", "--camera", "sim:distance=0.5,lux=50"],
        ["bench", "joint", "--episodes", "1", "--methods", "dasha,dasha_policy,mean_luminance+brent",
         "--plots", str(tmp_path / "bench"), "--workers", "1"],
        ["demo", "--episodes", "1", "--out", str(tmp_path / "demo")],
    ]  # fmt: skip
    code = RAY_FREE.format(commands=", ".join(repr(c) for c in commands) + ",")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "RAY 0", out.stdout.splitlines()[-1]


def test_training_env_is_the_same_episode_under_rllib() -> None:
    from ray.rllib.env.multi_agent_env import MultiAgentEnv

    from dasha.envs import HierarchicalCameraEnv, HierarchicalCameraEpisode

    env, episode = HierarchicalCameraEnv({"size": 96}), HierarchicalCameraEpisode({"size": 96})
    assert isinstance(env, MultiAgentEnv) and isinstance(env, HierarchicalCameraEpisode)
    assert not isinstance(episode, MultiAgentEnv)
    a, _ = env.reset(seed=3)
    b, _ = episode.reset(seed=3)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert env.agents == episode.agents and env.observation_spaces.keys() == episode.observation_spaces.keys()
