"""PPO learner whose advantages honour per-module γ / λ (the paper's γ_H = 0.99, γ_L = 0).

RLlib 2.60's ``PPOLearner.build()`` installs one ``GeneralAdvantageEstimation`` learner connector built from the
*global* ``config.gamma``; per-module overrides reach the loss but not the value targets (RLlib 2.60's PPO learner).
:class:`PerModuleGAE` runs the stock GAE once per module with that module's own γ and λ, and
:class:`HierPPOTorchLearner` swaps it in.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.learner.general_advantage_estimation import GeneralAdvantageEstimation


class PerModuleGAE(GeneralAdvantageEstimation):
    """GAE with γ and λ looked up per module id (``config.get_config_for_module``)."""

    def __init__(self, *args: Any, config: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, gamma=config.gamma, lambda_=config.lambda_, **kwargs)
        self._algo_config = config

    def __call__(self, *, rl_module: Any, episodes: Any, batch: dict[str, Any], **kwargs: Any) -> Any:
        for module_id in list(batch.keys()):
            module_config = self._algo_config.get_config_for_module(module_id)
            self.gamma, self.lambda_ = module_config.gamma, module_config.lambda_
            # One module's view of the batch; the inner dicts are shared, so results land in ``batch``.
            super().__call__(rl_module=rl_module, episodes=episodes, batch={module_id: batch[module_id]}, **kwargs)
        return batch


class HierPPOTorchLearner(PPOTorchLearner):
    """``PPOTorchLearner`` with :class:`PerModuleGAE` instead of the global-γ GAE connector."""

    def build(self) -> None:
        super().build()
        if self._learner_connector is not None:
            self._learner_connector.remove("GeneralAdvantageEstimation")
            self._learner_connector.append(PerModuleGAE(config=self.config))
