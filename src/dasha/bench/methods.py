"""The bench's methods: which methods each suite runs, in which order and group, and the player of each.

A method is a name: an RL policy (:data:`RL_METHODS`, loaded from :data:`POLICY_DIRS`), a classical autofocus or
auto-exposure baseline, a joint pipeline (:data:`JOINT_PIPELINES`), the ``oracle`` bound, or any of them with the
deployed safety nets (``NAME+nets``; ``dasha`` is ``dasha_policy+nets``). :func:`make_player` turns a name into
the player that plays it (:mod:`dasha.bench.runner`), :func:`env_for` gives that player its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dasha.agents.evaluate import make_env
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import AUTOEXPOSURE_METHODS
from dasha.baselines.autofocus import AUTOFOCUS_METHODS
from dasha.bench.runner import (
    NETS,
    AutoExposurePlayer,
    AutofocusPlayer,
    JointBaselinePlayer,
    OraclePlayer,
    PolicyPlayer,
)
from dasha.camera.errors import SpecError
from dasha.envs.config import EnvConfig

#: ``dasha_policy``: the shipped ``dasha`` policy alone, its safety nets off (what the RL agent learned by itself).
BARE_POLICY = "dasha_policy"
RL_METHODS = ("dasha", BARE_POLICY, "dasha_paper", "phase_shift_rl", "ten_rl")
#: Joint pipelines: an AE baseline, then an AF method; ``metered_jump+dfd`` is the ablation of the hierarchy (dasha's
#: perception and both agents' jumps, no learning).
JOINT_PIPELINES = {"metered_jump+dfd": ("metered_jump", "dfd"), "mean_luminance+dfd": ("mean_luminance", "dfd"),
                   "mean_luminance+brent": ("mean_luminance", "brent"), "basler_once+sweep": ("basler_once", "sweep"),
                   "agc+hill_climb": ("agc", "hill_climb")}  # fmt: skip
#: Policy directory (under the policies root) of each RL method, per suite.
POLICY_DIRS = {
    "af": {"dasha": "focus", BARE_POLICY: "focus", "dasha_paper": "focus_paper", "phase_shift_rl": "phase_shift_rl",
           "ten_rl": "ten_rl"},
    "ae": {"dasha": "exposure", "dasha_paper": "exposure_paper"},  # the exposure task has no safety net
    "joint": {"dasha": "joint", BARE_POLICY: "joint", "dasha_paper": "joint_paper"},
}  # fmt: skip
TASK_OF_SUITE = {"af": "focus", "ae": "exposure", "joint": "joint"}
#: What a row's method is, where the name does not say it (reference-based methods: Table I "RB"), per suite.
METHOD_NOTES = {
    "phase_shift_rl": "RB: trained on a reward from the ground-truth lens distance to focus, as ref. [11]; observes a "
                      "simulated phase-detection reading (extra hardware) and its last lens travel; stops with its own "
                      "stop action; trained in the paper domain",
    "ten_rl": "RB: the reference is a sweep of every lens position per episode (its frames are counted as steps); "
              "stops at TEN ≥ 0.9·TEN_max of that sweep, as in ref. [12]; trained in the paper domain",
    "dasha_paper": {
        "af": "the paper's lens agent, trained in the paper domain; its episode ends when the detector finds the "
              "object — here, where no detector sees most photos, when the no-reference estimated blur is ≤ 1.5 px",
        "ae": "the paper's exposure agent, trained in the paper domain: one absolute exposure per episode",
        "joint": "the paper's two agents, trained in the paper domain; the lens search ends when the detector finds "
                 "the object (the paper's rule), sharp or not",
    },
    "dfd": "no learning: the policies' own perception (blur and side-of-focus estimates, depth-from-defocus fit), "
           "jump and stop by rule",
}  # fmt: skip


def method_note(name: str, suite: str) -> str | None:
    """The note of ``name`` in ``suite`` (:data:`METHOD_NOTES`; ``+nets`` variants share their method's)."""
    note = METHOD_NOTES.get(name)
    return note.get(suite) if isinstance(note, dict) else note


def method_names(suite: str) -> list[str]:
    """Every method of a method suite, in table order: alone, then with the nets, then the bound."""
    if suite == "af":
        alone = [BARE_POLICY, "dfd", *AUTOFOCUS_METHODS, "phase_shift_rl", "ten_rl", "dasha_paper"]
        return [*alone, "dasha", "dfd" + NETS, *(m + NETS for m in AUTOFOCUS_METHODS)]
    if suite == "ae":
        return ["dasha", "dasha_paper", *AUTOEXPOSURE_METHODS]
    if suite == "joint":
        return [BARE_POLICY, "dasha_paper", *JOINT_PIPELINES, "dasha", *(p + NETS for p in JOINT_PIPELINES), "oracle"]
    raise SpecError(f"{suite!r} is not a method suite")


def group_of(name: str, suite: str = "af") -> str:
    """``alone``, ``nets`` (the deployed safety nets: ``dasha`` and ``NAME+nets``) or ``bound`` (the oracle); the
    exposure task has no nets, so every ``ae`` method is alone."""
    if name == "oracle":
        return "bound"
    if suite == "ae":
        return "alone"
    return "nets" if name == "dasha" or name.endswith(NETS) else "alone"


def make_player(suite: str, name: str, policies: Path) -> Any | None:
    """The player of method ``name`` in ``suite`` (None when its policy directory is missing)."""
    base, nets = (name[: -len(NETS)], True) if name.endswith(NETS) else (name, name == "dasha")
    if base in RL_METHODS and not name.endswith(NETS):
        sub = POLICY_DIRS.get(suite, {}).get(name)
        if sub is None:
            raise SpecError(f"method {name!r} has no policy in bench {suite}")
        path = policies / sub
        return PolicyPlayer(name, Policy.load(path), nets=nets) if (path / "policy.json").is_file() else None
    if suite == "af" and (base in AUTOFOCUS_METHODS or base == "dfd"):
        return AutofocusPlayer(name, base, nets)
    if suite == "ae" and base in AUTOEXPOSURE_METHODS and not nets:
        return AutoExposurePlayer(name, base)
    if suite == "joint" and base in JOINT_PIPELINES:
        ae, af = JOINT_PIPELINES[base]
        return JointBaselinePlayer(name, ae, af, nets)
    if suite == "joint" and name == "oracle":
        return OraclePlayer()
    raise SpecError(f"unknown method {name!r} for bench {suite} (choose from: {', '.join(method_names(suite))})")


def env_for(player: Any, suite: str, cfg: EnvConfig) -> Any:
    """Env of a player: a policy keeps its own observation/action mode; nets only for players that have them."""
    env_class = None
    if not getattr(player, "nets", False):
        cfg = cfg.replace(lens_fallback_moves=0, bracket_moves=0)
    if isinstance(player, PolicyPlayer):
        cfg = cfg.with_agent_fields(player.policy.env_config())
        env_class = player.policy.meta.get("env_class")
        env = make_env(TASK_OF_SUITE[suite], cfg, env_class)
        player.policy.check_env(env)
        return env
    return make_env(TASK_OF_SUITE[suite], cfg, env_class)
