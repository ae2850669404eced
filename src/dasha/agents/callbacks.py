"""RLlib callbacks: log each episode's task outcome (``success``, ``moves``) from the env's final info."""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback


def _final_info(episode: Any) -> dict[str, Any]:
    """The last info dict that carries ``success`` (single- or multi-agent episodes)."""
    infos = episode.get_infos(-1)
    if isinstance(infos, dict) and "success" in infos:
        return infos
    if isinstance(infos, dict):
        for value in infos.values():
            if isinstance(value, dict) and "success" in value:
                return value
    return {}


def _env_outcome(env: Any, env_index: int | None) -> dict[str, Any]:
    """``last_outcome`` of the (possibly wrapped or vectorised) environment that just finished an episode."""
    target = getattr(env, "unwrapped", env)
    if hasattr(target, "envs") and env_index is not None:
        target = getattr(target.envs[env_index], "unwrapped", target.envs[env_index])
    outcome = getattr(target, "last_outcome", None)
    return outcome if isinstance(outcome, dict) else {}


class OutcomeCallbacks(RLlibCallback):
    """Adds ``dasha/success_rate`` and ``dasha/moves_mean`` (window = RLlib's smoothing window)."""

    def on_episode_end(
        self, *, episode: Any, metrics_logger: Any = None, env: Any = None, env_index: int | None = None, **kwargs: Any
    ) -> None:
        info = _final_info(episode) or _env_outcome(env, env_index)
        if metrics_logger is None or "success" not in info:
            return
        metrics_logger.log_value("dasha/success_rate", float(bool(info["success"])), window=200)
        metrics_logger.log_value("dasha/moves_mean", float(info.get("moves", 0)), window=200)
