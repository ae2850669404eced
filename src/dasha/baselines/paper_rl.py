"""The paper's RL autofocus baselines, rebuilt on dasha's simulator and trained with the same RLlib machinery.

Both are *reference-based* (RB in the paper's Table I): they need ground-truth-like information that a deployed
camera does not have, which is exactly what DASHA removes.

``phase_shift_rl`` — paper ref. [11]
    The reward is built on the ground-truth distance of the lens from its in-focus setting, as in [11] (the
    reference: −|V − V_focus| / 24 V per move; the stop earns +1 in focus, else −1 and the error over the moves it
    saved, so stopping early out of focus never pays); the observation is [11]'s: the phase shift (the camera's
    phase-detection reading, :attr:`dasha.camera.base.Frame.phase_shift_px`: extra hardware that DASHA does without)
    and the lens travel of the last step; the action moves the lens (relative moves,
    :data:`~dasha.envs.actions.LENS_MOVES_V`) or stops (action 0).
    The reference only scores; it never ends an episode: the agent stops itself, or the horizon does — in evaluation
    too.

``ten_rl`` — paper ref. [12] (Yu et al. 2018)
    At the start of every episode a full sweep over the lens range finds the maximum Tenengrad value (the
    reference; its frames are counted as steps). Observation: the latent; action: absolute lens setting
    ``MultiDiscrete([coarse, fine])`` over the searched range; reward: TEN / TEN_max − 1; the episode ends when
    TEN ≥ 0.9 · TEN_max or after ``horizon`` moves.

Both are trained and evaluated in their own papers' setting, an object at (nearly) one distance: the paper domain
(object 1.4–2.0 m, :data:`dasha.envs.config.DOMAINS`). Train with
``python -m dasha.baselines.paper_rl {phase_shift_rl|ten_rl} --timesteps N --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from dasha.camera.calibration import in_focus_half_width_v
from dasha.camera.errors import SpecError
from dasha.envs.actions import LENS_MOVES_V, STOP
from dasha.envs.config import EnvConfig
from dasha.envs.perception import Perception, Shot
from dasha.envs.world import SimWorld
from dasha.vision.focus_measures import af_window, tenengrad

SWEEP_POSITIONS = 47


class _ReferenceFocusEnv(gym.Env):
    """Shared scaffolding: a focus episode that starts well exposed, ends on a reference test or horizon."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    horizon = 20

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, **kw: Any) -> None:
        raw = dict(config) if isinstance(config, dict) else {}
        raw.setdefault("detector", "in-focus")
        cfg = EnvConfig.from_dict(raw) if not isinstance(config, EnvConfig) else config
        self.config = cfg.replace(**kw) if kw else cfg
        self.world = SimWorld(self.config)
        self.perception = Perception(self.config, self.world.camera)
        self._step: Shot | None = None
        self.moves = 0

    def _info(self) -> dict[str, Any]:
        assert self._step is not None
        truth = self._step.frame.truth
        return {"success": self._step.in_focus, "moves": self.moves, "lens_v": self._step.frame.lens_v,
                "blur_px": truth.blur_px if truth is not None else float("nan")}  # fmt: skip


class PhaseShiftFocusEnv(_ReferenceFocusEnv):
    """Paper ref. [11]: a reward from the ground-truth lens distance to focus, relative lens moves and a stop (see
    the module docstring)."""

    error_scale_v = 24.0
    """Lens error (V) that costs 1 per move (the largest error from the factory start, so every move is shaped)."""

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(config, **kw)
        self.action_space = gym.spaces.Discrete(1 + len(LENS_MOVES_V))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self._travel = 0.0
        self._focus_v = 0.0
        self._tol_v = 0.12

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._step = self.world.reset(self.np_random, self.perception, oracle_exposure=True)
        cam = self.world.camera
        self._focus_v = (
            self.world.in_focus_voltage()
        )  # the reference: where focus is (simulator truth, training signal)
        self._tol_v = in_focus_half_width_v(cam.optics, cam.lens.curve, self._focus_v)
        self.moves, self._travel = 0, 0.0
        return self._obs(), self._info()

    def _error_v(self) -> float:
        """|lens − in-focus voltage| (V), the reference-based quantity [11]'s reward is built on."""
        return abs(self.world.camera.lens.voltage - self._focus_v)

    def _obs(self) -> np.ndarray:
        assert self._step is not None
        phase = self._step.frame.phase_shift_px
        if phase is None:
            raise SpecError("phase_shift_rl needs a camera with phase-detection pixels (Frame.phase_shift_px)")
        return np.asarray([np.sign(phase) * np.log1p(abs(phase)) / 3.0, self._travel / 5.0], np.float32)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        assert self._step is not None
        a = int(np.asarray(action).ravel()[0])
        if a == STOP:  # the agent's own stop; the reference only scores it: +1 in focus, else what waiting would cost
            err = self._error_v()
            reward = 1.0 if err <= self._tol_v else -1.0 - (self.horizon - self.moves) * err / self.error_scale_v
            return self._obs(), reward, True, False, self._info()
        lens = self.world.camera.lens
        before = lens.voltage
        lens.set_voltage(lens.limits.clip(before + float(LENS_MOVES_V[a - 1])))
        self._travel = lens.voltage - before
        self.moves += 1
        self._step = self.perception.capture()
        reward = -self._error_v() / self.error_scale_v
        return self._obs(), reward, False, self.moves >= self.horizon, self._info()


class TenFocusEnv(_ReferenceFocusEnv):
    """Paper ref. [12]: Tenengrad reward against a per-episode sweep maximum (see the module docstring)."""

    nvec = (8, 100)
    """Coarse (1 V) × fine (0.01 V) absolute settings over the searched range."""
    accept = 0.9

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(config, **kw)
        self.action_space = gym.spaces.MultiDiscrete(self.nvec)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.perception.encoder.dim,), np.float32)
        self._ten_max = 1.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._step = self.world.reset(self.np_random, self.perception, oracle_exposure=True)
        lens = self.world.camera.lens
        start = lens.voltage
        lo, hi = self.config.start_lens_range_v
        scores = []
        for v in np.linspace(lo, hi, SWEEP_POSITIONS):  # the reference sweep of ref. [12], counted as steps
            lens.set_voltage(float(v))
            scores.append(tenengrad(af_window(self.perception.capture().frame.image)))
        self._ten_max = max(float(np.max(scores)), 1e-9)
        lens.set_voltage(start)
        self._step = self.perception.capture()
        self.moves = 0
        return self._step.features.astype(np.float32), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        lo, hi = self.config.start_lens_range_v
        coarse, fine = (int(x) for x in np.asarray(action).ravel()[:2])
        self.world.camera.lens.set_voltage(min(max(lo + coarse + fine / 100.0, lo), hi))
        self.moves += 1
        self._step = self.perception.capture()
        ratio = float(tenengrad(af_window(self._step.frame.image))) / self._ten_max
        done = ratio >= self.accept
        return (
            self._step.features.astype(np.float32),
            ratio - 1.0,
            done,
            self.moves >= self.horizon and not done,
            self._info(),
        )


PAPER_RL_ENVS = {"phase_shift_rl": PhaseShiftFocusEnv, "ten_rl": TenFocusEnv}


def train_paper_baseline(name: str, timesteps: int, out: Path, seed: int = 0) -> Path:
    """Train ``phase_shift_rl`` or ``ten_rl`` with RLlib PPO (the ``fast`` preset's settings) in the paper domain."""
    from dasha.agents.train import TrainOptions, train

    env_class = PAPER_RL_ENVS[name]
    opts = TrainOptions("focus", "fast", timesteps, seed, out=out, domain="paper")
    return train(opts, env_class=env_class, variant=name)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train one of the paper's RL autofocus baselines.")
    ap.add_argument("name", choices=sorted(PAPER_RL_ENVS))
    ap.add_argument("--timesteps", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    run = train_paper_baseline(args.name, args.timesteps, args.out, args.seed)
    print(f"trained {args.name}: {run / 'policy'}")


if __name__ == "__main__":
    # Re-enter through the package so the env classes are recorded as ``dasha.baselines.paper_rl:…``
    # in the policy files, not as ``__main__:…`` (which no loader may import).
    from dasha.baselines.paper_rl import main as _main

    _main()
