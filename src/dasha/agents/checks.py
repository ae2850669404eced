"""Type and range checks of the training settings a TOML file, ``run.json`` or the command line gives.

Every ``[ppo]`` key is checked against :class:`dasha.agents.rllib.PPOSettings`' type and its range, every ``[env]``
key against :class:`dasha.envs.config.EnvConfig`'s type (its ranges are EnvConfig's own checks); a wrong value is a
:class:`~dasha.camera.errors.ConfigError` (exit 2) naming the key, never a ``TypeError`` deep inside training.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from dasha.camera.errors import ConfigError

#: Seeds are passed to NumPy, torch and RLlib: 0 … 2³² − 1.
MAX_SEED = 2**32 - 1

#: Range of every numeric ``[ppo]`` key: (low, high, low inclusive, high inclusive).
PPO_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, 1.0, False, False),
    "entropy_coeff": (0.0, 1.0, True, True),
    "entropy_coeff_low": (0.0, 1.0, True, True),
    "train_batch_size": (16, 10_000_000, True, True),
    "minibatch_size": (1, 10_000_000, True, True),
    "num_epochs": (1, 1000, True, True),
    "gamma_high": (0.0, 1.0, True, True),
    "gamma_low": (0.0, 1.0, True, True),
    "lambda_": (0.0, 1.0, True, True),
    "clip_param": (0.0, 10.0, False, True),
    "vf_clip_param": (0.0, 1e9, False, True),
    "anneal_steps": (0, 10**12, True, True),
}
MAX_WIDTH, MAX_LAYERS = 4096, 8


def matches(value: Any, hint: Any) -> bool:
    """Whether a TOML / JSON ``value`` fits the type ``hint`` (``bool`` is not an ``int``; an int is a ``float``;
    a list stands for a tuple; NaN is never a float)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    if hint is str:
        return isinstance(value, str)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            return False
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            return all(matches(v, args[0]) for v in value) if args else True
        return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))
    return isinstance(value, hint) if isinstance(hint, type) else True


def describe(hint: Any) -> str:
    """A short human name of a type hint (``a number``, ``a list of integers``, ``'paper' or 'ours'``)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args if a is not type(None))
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if origin in (tuple, list):
        if (len(args) == 2 and args[1] is Ellipsis) or origin is list:
            return f"a list of {describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
        return f"a list of {len(args)} ({', '.join(describe(a) for a in args)})"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def check_table(table: Any, cls: type, section: str, scalar_ok: bool = False) -> dict[str, Any]:
    """The keys of ``table`` (a dict) checked against the dataclass ``cls``'s field types: unknown keys and wrong
    types are ConfigErrors naming ``[section] key``. ``scalar_ok``: a tuple-typed key may give one element (what
    :meth:`dasha.envs.config.EnvConfig.from_dict` repeats)."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table of settings, not {type(table).__name__}")
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(hints))
    if unknown:
        raise ConfigError(f"unknown [{section}] key(s) {unknown} (known: {sorted(hints)})")
    for key, value in table.items():
        hint = hints[key]
        ok = matches(value, hint)
        if not ok and scalar_ok and get_origin(hint) is tuple and get_args(hint):
            ok = matches(value, get_args(hint)[0])
        if not ok:
            raise ConfigError(f"[{section}] {key} must be {describe(hint)}, not {_shown(value)}")
    return dict(table)


def check_ppo_values(p: Any) -> None:
    """Ranges of :class:`~dasha.agents.rllib.PPOSettings` (after its types were checked)."""
    from dasha.agents.nets import ACTIVATIONS

    for key, (lo, hi, lo_in, hi_in) in PPO_RANGES.items():
        value = getattr(p, key)
        if value is None:
            continue
        if not math.isfinite(value) or value < lo or value > hi or (value == lo and not lo_in) or (
                value == hi and not hi_in):  # fmt: skip
            left, right = "[" if lo_in else "(", "]" if hi_in else ")"
            raise ConfigError(f"[ppo] {key} must be in {left}{lo:g}, {hi:g}{right}, got {value!r}")
    if p.minibatch_size > p.train_batch_size:
        raise ConfigError(f"[ppo] minibatch_size ({p.minibatch_size}) must be ≤ train_batch_size "
                          f"({p.train_batch_size})")  # fmt: skip
    if not p.hiddens or len(p.hiddens) > MAX_LAYERS or any(not 1 <= h <= MAX_WIDTH for h in p.hiddens):
        raise ConfigError(f"[ppo] hiddens must be 1–{MAX_LAYERS} layer widths of 1–{MAX_WIDTH}, got {list(p.hiddens)}")
    if p.activation not in ACTIVATIONS:
        raise ConfigError(f"[ppo] activation must be one of {sorted(ACTIVATIONS)}, got {p.activation!r}")


def check_counts(seed: Any, num_env_runners: Any) -> None:
    """The seed (:func:`check_seed`) and the number of remote env runners (0–256)."""
    check_seed(seed)
    n = num_env_runners
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 256:
        raise ConfigError(f"--num-env-runners must be 0–256, got {n!r}")


def check_seed(seed: Any, what: str = "--seed") -> int:
    """A seed 0 … 2³² − 1; ConfigError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be an integer in 0…{MAX_SEED}, got {seed!r}")
    return seed


def _shown(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
