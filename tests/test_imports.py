"""Imports that mean what they say: ``import dasha`` / ``import dasha.camera`` import no RL stack, yet the Gymnasium
ids are registered whether Gymnasium is imported before or after dasha; evaluation, the bench, the demo and ``run``
never import Ray (only training needs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RL_FREE = """
import sys
import {module}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("gymnasium", "torch", "ray") or m.startswith("dasha.envs"))
print("HEAVY", len(heavy), *heavy[:5])
"""


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", ["dasha", "dasha.camera", "dasha.camera.sim"])
def test_import_dasha_imports_no_rl_stack(module: str) -> None:
    assert _python(RL_FREE.format(module=module)) == "HEAVY 0"


GYM_MAKE = """
import sys
{imports}
import gymnasium as gym
assert "dasha.envs.focus" not in sys.modules  # registered by string: the env module loads on make
env = gym.make("dasha/Focus-v0", size=64)
env.reset(seed=0)
print("OK", gym.make("dasha/Exposure-v0", size=64).spec.id, type(gym.__spec__.loader).__name__,
      [type(f).__name__ for f in sys.meta_path if "Gymnasium" in type(f).__name__])
"""


@pytest.mark.parametrize("imports", ["import dasha\nimport gymnasium", "import gymnasium\nimport dasha",
                                     "import dasha.camera\nfrom gymnasium import spaces"])  # fmt: skip
def test_gymnasium_ids_registered_whichever_is_imported_first(imports: str) -> None:
    # the hook leaves Gymnasium its own loader and removes itself once it has registered
    assert _python(GYM_MAKE.format(imports=imports)) == "OK dasha/Exposure-v0 SourceFileLoader []"


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
