"""RLlib PPO configurations for the three tasks, with the ``paper`` and ``fast`` presets.

=============  =====================================================================================
preset         what it is
=============  =====================================================================================
``paper``      the authors' settings (their published training code): PPO, lr 2.5e-4, entropy 0.01, train batch 128,
               fully connected [256, 256], RLlib 1.x defaults otherwise (30 SGD epochs, λ = 1, clip 0.3,
               adaptive KL penalty); the paper's observations/actions/rewards (``mode="paper"``);
               γ_H = 0.99, γ_L = 0. Two departures make it learn within the paper's ≈ 3 072 steps
               (measured in the paper domain; README): the lens module has no KL penalty and no entropy
               bonus (with them its policy stays near-uniform over 4 700 voltages, where ≈ 0.8 % are in
               focus), and the histogram is observed as fractions (``obs_hist_fractions``: raw counts
               up to 65 536 saturate the first layer).
``fast``       tuned for wall-clock on a laptop CPU: our mode (relative actions, learned stop, history),
               batch 1 000, minibatch 125, 10 epochs, lr 1e-3, entropy 0.005, γ_L = 0.99, 64-unit tanh MLP.
=============  =====================================================================================

Every preset can be overridden from a TOML file (``dasha train --config FILE.toml``)::

    [ppo]            # any of: lr, entropy_coeff, train_batch_size, minibatch_size, num_epochs, gamma_high,
    lr = 3e-4        #         gamma_low, lambda_, clip_param, hiddens, activation, vf_clip_param, use_kl_loss,
                     #         entropy_coeff_low, use_kl_loss_low (the lens module's own: focus task, joint
                     #         low_level), anneal_steps (linear decay of lr and entropy bonus)
    [env]            # any EnvConfig field (dasha.envs.config.EnvConfig)
    lux = [5, 1000]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from dasha.agents.raycluster import RayConnectError, check_cpus, init_ray, ray_host_port
from dasha.camera.errors import ConfigError
from dasha.envs.config import EnvConfig, domain_changes, joint_training_scenes
from dasha.jsonio import to_jsonable

__all__ = ["PPOSettings", "RayConnectError", "RunSpec", "build_config", "check_cpus", "env_creator", "init_ray",
           "ray_host_port"]  # fmt: skip

Task = Literal["exposure", "focus", "joint"]
TASKS: tuple[str, ...] = ("exposure", "focus", "joint")
PRESETS: tuple[str, ...] = ("paper", "fast")


@dataclass(frozen=True)
class PPOSettings:
    """PPO hyper-parameters (one per preset; each can be overridden)."""

    lr: float = 1e-3
    """Adam learning rate."""
    entropy_coeff: float = 0.005
    """Entropy bonus coefficient."""
    train_batch_size: int = 1000
    """Env steps per PPO iteration."""
    minibatch_size: int = 125
    """SGD minibatch size."""
    num_epochs: int = 10
    """SGD passes over each batch."""
    gamma_high: float = 0.99
    """Discount of the exposure (high-level) module."""
    gamma_low: float = 0.99
    """Discount of the lens (low-level) module."""
    lambda_: float = 0.95
    """GAE λ."""
    clip_param: float = 0.2
    """PPO clip ε."""
    vf_clip_param: float = 10.0
    """Value-loss clip."""
    use_kl_loss: bool = True
    """PPO's adaptive KL penalty (RLlib's default, as in the paper's RLlib 1.x)."""
    entropy_coeff_low: float | None = None
    """Entropy bonus of the lens module (the focus task, the joint task's ``low_level``); None: ``entropy_coeff``."""
    use_kl_loss_low: bool | None = None
    """KL penalty of the lens module; None: ``use_kl_loss``."""
    hiddens: tuple[int, ...] = (64, 64)
    """MLP hidden widths (actor and critic trunks)."""
    activation: str = "tanh"
    """MLP activation."""
    anneal_steps: int = 0
    """When > 0: over this many env steps, the learning rate decays linearly to 10 % and the entropy bonus to
    0, then both stay there (CleanRL's ``anneal_lr``; set it to the run's ``--timesteps``). 0: constant."""


PRESET_SETTINGS: dict[str, PPOSettings] = {
    "paper": PPOSettings(
        lr=2.5e-4,
        entropy_coeff=0.01,
        train_batch_size=128,
        minibatch_size=128,
        num_epochs=30,
        gamma_high=0.99,
        gamma_low=0.0,
        lambda_=1.0,
        clip_param=0.3,
        hiddens=(256, 256),
        entropy_coeff_low=0.0,
        use_kl_loss_low=False,
    ),
    "fast": PPOSettings(),
}
PRESET_MODES: dict[str, str] = {"paper": "paper", "fast": "ours"}


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a training run's algorithm (serialised next to its checkpoints)."""

    task: str
    preset: str = "fast"
    ppo: PPOSettings = field(default_factory=PPOSettings)
    env: EnvConfig = field(default_factory=EnvConfig)
    seed: int = 0
    num_env_runners: int = 0
    num_envs_per_env_runner: int = 1

    @classmethod
    def build(
        cls,
        task: str,
        preset: str = "fast",
        overrides: dict[str, Any] | None = None,
        seed: int = 0,
        num_env_runners: int = 0,
        detector: str | None = None,
        domain: str = "wide",
        scenes: list[str] | None = None,
        backgrounds: list[str] | None = None,
    ) -> RunSpec:
        """Preset + domain + TOML-style overrides (``{"ppo": {...}, "env": {...}}``) → a validated run spec.

        Precedence, lowest first: the preset's mode and discounts, the domain's world (:data:`DOMAINS`), the task's
        defaults, the TOML ``[env]`` table, then ``scenes`` / ``backgrounds`` / ``detector`` from the command line.
        """
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r} (choose from: {', '.join(TASKS)})")
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r} (choose from: {', '.join(PRESETS)})")
        from dasha.agents.checks import check_counts, check_ppo_values, check_table

        if overrides is not None and not isinstance(overrides, dict):
            raise ConfigError(f"config overrides must be a table of [ppo] and [env], not {type(overrides).__name__}")
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - {"ppo", "env"})
        if unknown:
            raise ConfigError(f"unknown config section(s) {unknown}; use [ppo] and [env]")
        check_counts(seed, num_env_runners)
        ppo_kw = check_table(overrides.get("ppo", {}), PPOSettings, "ppo")
        env_table = check_table(overrides.get("env", {}), EnvConfig, "env", scalar_ok=True)  # lux = 100: (100, 100)
        if "hiddens" in ppo_kw:
            ppo_kw["hiddens"] = tuple(ppo_kw["hiddens"])
        ppo = dataclasses.replace(PRESET_SETTINGS[preset], **ppo_kw)
        check_ppo_values(ppo)
        env_kw = {"mode": PRESET_MODES[preset], "gamma_high": ppo.gamma_high, "gamma_low": ppo.gamma_low,
                  **domain_changes(domain)}  # fmt: skip
        if preset == "paper":
            env_kw["obs_hist_fractions"] = True  # a departure: see the module docstring
        if task == "focus":
            env_kw["detector"] = "in-focus"
        if task == "joint" and PRESET_MODES[preset] == "ours":
            env_kw["detector"] = "in-focus"  # cheap ground-truth training signal; eval uses a real detector
        env_kw.update(env_table)
        if scenes:
            env_kw["scenes"] = tuple(scenes)
        if backgrounds:
            env_kw["backgrounds"] = tuple(backgrounds)
        if detector is not None:
            env_kw["detector"] = detector
        if task == "joint" and "scenes" not in env_kw:  # the paper trained on one scene; a detector needs a face
            env_kw["scenes"] = joint_training_scenes(str(env_kw.get("detector", EnvConfig().detector)))
        try:
            env = EnvConfig.from_dict(env_kw)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:  # a value EnvConfig's own checks did not expect
            raise ConfigError(f"bad [env] value: {' '.join(str(exc).split())}") from None
        return cls(task, preset, ppo, env, seed, num_env_runners)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (:func:`dasha.jsonio.to_jsonable`: ``inf`` as a string)."""
        return to_jsonable(
            {
                "task": self.task,
                "preset": self.preset,
                "ppo": dataclasses.asdict(self.ppo),
                "env": self.env.to_dict(),
                "seed": self.seed,
                "num_env_runners": self.num_env_runners,
            }
        )


def env_creator(task: str) -> Any:
    """Env class / id for RLlib: single-agent Gymnasium envs or the hierarchical MultiAgentEnv."""
    if task == "exposure":
        from dasha.envs.exposure import ExposureEnv

        return ExposureEnv
    if task == "focus":
        from dasha.envs.focus import FocusEnv

        return FocusEnv
    from dasha.envs.hierarchical_rllib import HierarchicalCameraEnv

    return HierarchicalCameraEnv


def build_config(spec: RunSpec, env_class: Any = None) -> Any:
    """The RLlib ``PPOConfig`` of a run (new API stack, custom module, per-module γ for the joint task).

    ``env_class`` replaces the task's standard environment (e.g. the paper's RL baselines).
    """
    import logging

    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from dasha.agents.callbacks import OutcomeCallbacks
    from dasha.agents.learner import HierPPOTorchLearner
    from dasha.agents.module import DashaPPOModule

    logging.getLogger("ray.rllib.algorithms.algorithm_config").setLevel(logging.ERROR)  # "new API stack" notice
    p = spec.ppo
    model_config = {"hiddens": list(p.hiddens), "activation": p.activation}
    env_config = dataclasses.asdict(spec.env)
    cfg = (
        PPOConfig()
        .environment(env_class or env_creator(spec.task), env_config=env_config)
        .env_runners(
            num_env_runners=spec.num_env_runners,
            num_envs_per_env_runner=spec.num_envs_per_env_runner,
            episodes_to_numpy=False,  # measured with RLlib 2.60: True slows sampling quadratically with short episodes
            rollout_fragment_length="auto",
            sample_timeout_s=600,
        )
        .training(
            lr=[[0, p.lr], [p.anneal_steps, 0.1 * p.lr]] if p.anneal_steps else p.lr,
            entropy_coeff=[[0, p.entropy_coeff], [p.anneal_steps, 0.0]] if p.anneal_steps else p.entropy_coeff,
            train_batch_size_per_learner=p.train_batch_size,
            minibatch_size=p.minibatch_size,
            num_epochs=p.num_epochs,
            gamma=p.gamma_high,
            lambda_=p.lambda_,
            clip_param=p.clip_param,
            vf_clip_param=p.vf_clip_param,
            use_kl_loss=p.use_kl_loss,
        )
        .callbacks(OutcomeCallbacks)
        .debugging(seed=spec.seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=100)
    )
    if spec.task == "joint":
        from dasha.envs.hierarchical import HIGH_MODULE, LOW_MODULE, policy_mapping_fn

        cfg = (
            cfg.multi_agent(policies={HIGH_MODULE, LOW_MODULE}, policy_mapping_fn=policy_mapping_fn)
            .rl_module(
                rl_module_spec=MultiRLModuleSpec(
                    rl_module_specs={
                        HIGH_MODULE: RLModuleSpec(module_class=DashaPPOModule, model_config=model_config),
                        LOW_MODULE: RLModuleSpec(module_class=DashaPPOModule, model_config=model_config),
                    }
                ),
                algorithm_config_overrides_per_module={
                    HIGH_MODULE: PPOConfig.overrides(gamma=p.gamma_high),
                    LOW_MODULE: PPOConfig.overrides(gamma=p.gamma_low, **_lens_overrides(p)),
                },
            )
            .learners(learner_class=HierPPOTorchLearner)
        )
    else:
        gamma = p.gamma_high if spec.task == "exposure" else p.gamma_low
        lens = _lens_overrides(p) if spec.task == "focus" else {}
        cfg = cfg.training(gamma=gamma, **lens).rl_module(
            rl_module_spec=RLModuleSpec(module_class=DashaPPOModule, model_config=model_config)
        )
    return cfg


def _lens_overrides(p: PPOSettings) -> dict[str, Any]:
    """The lens module's own entropy bonus and KL penalty, where set (``entropy_coeff_low``, ``use_kl_loss_low``)."""
    out: dict[str, Any] = {}
    if p.entropy_coeff_low is not None:
        out["entropy_coeff"] = (
            [[0, p.entropy_coeff_low], [p.anneal_steps, 0.0]] if p.anneal_steps else p.entropy_coeff_low
        )
    if p.use_kl_loss_low is not None:
        out["use_kl_loss"] = p.use_kl_loss_low
    return out
