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


class OutcomeCallbacks(RLlibCallback):
    """Adds ``dasha/success_rate`` and ``dasha/moves_mean`` (window = RLlib's smoothing window)."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        info = _final_info(episode)
        if metrics_logger is None or "success" not in info:
            return
        metrics_logger.log_value("dasha/success_rate", float(bool(info["success"])), window=200)
        metrics_logger.log_value("dasha/moves_mean", float(info.get("moves", 0)), window=200)
