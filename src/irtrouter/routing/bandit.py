"""The LLM Bandit policy in the router registry (:mod:`irtrouter.routing.registry`) as ``llm-bandit``.

The harness reads every router at trade-off weights ``alpha``; the policy takes a preference w,
the weight of cost against quality 1, so ``alpha`` is read as ``w = (1 - alpha) / alpha`` (the same
trade-off as ``alpha * P - (1 - alpha) * C``), clipped to the trained range as in
:meth:`~irtrouter.routing.policy.PolicyRouter.route`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.routing.policy import PolicyRouter
from irtrouter.routing.registry import QueryBatch, Router, TrainingData, WeightedDecisions, register_router


class PolicyDecisions(WeightedDecisions):
    """The policy's greedy choice per weight, with the identity model's p-hat for predictor metrics."""

    def __init__(self, router: PolicyRouter, batch: QueryBatch) -> None:
        self._prediction = router.predict_embedded(batch.X, batch.queries)
        super().__init__(router.llm_ids, lambda alpha: router.choose(self._prediction, alpha=alpha))

    @property
    def p_hat(self) -> np.ndarray:
        return self._prediction.p_hat


class BanditRouter(Router):
    """:class:`~irtrouter.routing.policy.PolicyRouter` with the registry's interface.

    Parameters mirror :class:`~irtrouter.routing.policy.PolicyRouter`; the embedder is the one
    that made the training embeddings. ``max_epochs`` (stage-1 epochs) and ``max_iter`` (pre-training
    and PPO steps each), when given, shorten training: the harness's quick mode sets them.
    """

    def __init__(
        self,
        n_dims: int = 16,
        identity_params: dict[str, Any] | None = None,
        policy_params: dict[str, Any] | None = None,
        max_epochs: int | None = None,
        max_iter: int | None = None,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        self.n_dims = n_dims
        self.identity_params = identity_params
        self.policy_params = policy_params
        self.max_epochs = max_epochs
        self.max_iter = max_iter
        self.random_state = random_state
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        if data.embedder is None:
            raise ConfigError("the policy router embeds queries: TrainingData needs the embedder that made X")
        identity = dict(self.identity_params or {})
        policy = dict(self.policy_params or {})
        if self.max_epochs is not None:
            identity["max_epochs"] = self.max_epochs
        if self.max_iter is not None:
            policy |= {"pretrain_steps": self.max_iter, "ppo_steps": self.max_iter}
        self.router_ = PolicyRouter(
            embedder=data.embedder.name,
            n_dims=self.n_dims,
            identity_params=identity,
            policy_params=policy,
            cost_model=self.cost_model,
            random_state=self.random_state,
        )
        self.router_.fit(data.results, data.catalog, embedder=data.embedder, use_cache=False, query_embeddings=data.X)

    def _decide(self, batch: QueryBatch) -> PolicyDecisions:
        return PolicyDecisions(self.router_, batch)


register_router("llm-bandit", BanditRouter, "LLM Bandit: preference-conditioned policy (SetTransformer + PPO)")
