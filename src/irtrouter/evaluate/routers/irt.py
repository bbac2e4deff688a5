"""irtrouter's own routers as the harness sees them: adapters of the servable routers.

``mirt`` / ``nirt`` (IRT-Router), ``2pl`` (RADAR), ``*-chebyshev`` (RADAR's Chebyshev rule) and
their ``-nowarmup`` variants are :class:`IRTAdapter` over :class:`~irtrouter.routing.router.IRTRouter`;
``llm-bandit`` is :class:`BanditRouter` over :class:`~irtrouter.routing.policy.router.PolicyRouter`.
The routing rule and the warm-up weight are applied at decision time, so variants that differ only
in them share one fit (:meth:`~irtrouter.evaluate.routers.contract.Router.share_fit`).

Examples
--------
>>> from irtrouter.evaluate.routers.registry import make_router
>>> make_router("2pl-chebyshev").get_params()["rule"]
'chebyshev'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.evaluate.routers.contract import (
    Decisions,
    QueryBatch,
    Router,
    ScoredDecisions,
    TrainingData,
    WeightedDecisions,
)
from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.registry import predictor_class
from irtrouter.routing.decision import Prediction
from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.routing.router import DEFAULT_CANDIDATES, IRTRouter
from irtrouter.routing.rule import RULES, check_rule
from irtrouter.routing.tuning import CONFIDENCE, SIMPLER_WITHIN


class _EveryAbilityLabeller:
    """Names every ability for every cluster: all-ones relevance, i.e. NIRT without relevance vectors."""

    name = "uniform: every ability relevant (ablation)"

    def label(self, queries: Sequence[str]) -> set[int]:
        return set(range(len(ABILITY_NAMES)))


class IRTAdapter(Router):
    """An :class:`~irtrouter.routing.router.IRTRouter` (MIRT, NIRT or RADAR's 2PL) in the registry.

    Parameters mirror :class:`IRTRouter`; ``warmup_lambda`` and ``rule`` are applied at decision
    time (``predict_embedded(..., warmup_lambda=)``), so variants that differ only in them share one
    fit. ``relevance="uniform"`` gives NIRT an all-ones relevance vector for every query (the
    ablation "without relevance vectors"). The embedder is the one that made the training embeddings.
    """

    inference_params: ClassVar[frozenset[str]] = frozenset({"warmup_lambda", "rule"})

    def __init__(
        self,
        predictor: str = "mirt",
        n_dims: int | None = None,
        warmup_lambda: float = 0.3,
        warmup_k: int = 5,
        relevance_k: int = 5,
        relevance: Literal["labelled", "uniform"] = "labelled",
        rule: str = "linear",
        calibration: str | None = None,
        guard: bool | None = None,
        guard_confidence: float = CONFIDENCE,
        knn_blend: bool | None = None,
        stacking: bool | None = None,
        simpler_within: float = SIMPLER_WITHIN,
        novelty_gate: bool | None = None,
        refit: bool | None = None,
        candidates: Sequence[str] = DEFAULT_CANDIDATES,
        time_budget: float | None = None,
        validation_fraction: float = 0.2,
        validation_folds: int = 1,
        tune_warmup: bool = False,
        task_folds: bool = False,
        task_routing: bool = False,
        predictor_params: dict[str, Any] | None = None,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        self.calibration = calibration
        self.guard = guard
        self.guard_confidence = guard_confidence
        self.knn_blend = knn_blend
        self.stacking = stacking
        self.simpler_within = simpler_within
        self.novelty_gate = novelty_gate
        self.refit = refit
        self.candidates = candidates
        self.time_budget = time_budget
        self.validation_fraction = validation_fraction
        self.validation_folds = validation_folds
        self.tune_warmup = tune_warmup
        self.task_folds = task_folds
        self.task_routing = task_routing
        self.predictor = predictor
        self.n_dims = n_dims
        self.warmup_lambda = warmup_lambda
        self.warmup_k = warmup_k
        self.relevance_k = relevance_k
        self.relevance = relevance
        self.rule = rule
        self.predictor_params = predictor_params
        self.random_state = random_state
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        if data.embedder is None:
            raise ConfigError("IRT routers embed the LLM profiles: TrainingData needs the embedder that made X")
        if self.relevance not in ("labelled", "uniform"):
            raise ConfigError(f"relevance must be 'labelled' or 'uniform', got {self.relevance!r}")
        self.router_ = IRTRouter(
            predictor=self.predictor,
            n_dims=self.n_dims,
            embedder=data.embedder.name,
            warmup_lambda=self.warmup_lambda,
            warmup_k=self.warmup_k,
            relevance_k=self.relevance_k,
            cost_model=self.cost_model,
            calibration=self.calibration,
            guard=self.guard,
            guard_confidence=self.guard_confidence,
            knn_blend=self.knn_blend,
            stacking=self.stacking,
            simpler_within=self.simpler_within,
            novelty_gate=self.novelty_gate,
            refit=self.refit,
            candidates=tuple(self.candidates),
            time_budget=self.time_budget,
            validation_fraction=self.validation_fraction,
            validation_folds=self.validation_folds,
            tune_warmup=self.tune_warmup,
            task_folds=self.task_folds,
            task_routing=self.task_routing,
            predictor_params=self.predictor_params,
            random_state=self.random_state,
        )
        uniform = self.relevance == "uniform" and any(
            predictor_class(n).requires_context for n in self.router_._candidates()
        )
        self.router_.fit(
            data.results,
            data.catalog,
            embedder=data.embedder,
            labeller=_EveryAbilityLabeller() if uniform else None,
            use_cache=False,
            query_embeddings=data.X,
            progress=data.progress,
        )

    def _decide(self, batch: QueryBatch) -> Decisions:
        rule = check_rule(self.rule, RULES)
        # The warm-up is applied here (variants of it share one fit), unless the fit chose it.
        lam = None if self.tune_warmup else self.warmup_lambda
        pred = self.router_.predict_embedded(batch.X, batch.queries, warmup_lambda=lam)
        if self.router_.guard_ is None:
            return ScoredDecisions(pred.llm_ids, pred.p_hat, pred.cost, rule)
        return RouterDecisions(self.router_, pred, rule)


class RouterDecisions(WeightedDecisions):
    """The servable router's own choice per weight (its guard included), with its p-hat."""

    def __init__(self, router: IRTRouter, prediction: Prediction, rule: str) -> None:
        self._prediction = prediction
        super().__init__(router.llm_ids, lambda alpha: router.choose(prediction, alpha=alpha, rule=rule))

    @property
    def p_hat(self) -> np.ndarray:
        return self._prediction.p_hat


class PolicyDecisions(WeightedDecisions):
    """The policy's greedy choice per weight, with the identity model's p-hat for predictor metrics."""

    def __init__(self, router: PolicyRouter, batch: QueryBatch) -> None:
        self._prediction = router.predict_embedded(batch.X, batch.queries)
        super().__init__(router.llm_ids, lambda alpha: router.choose(self._prediction, alpha=alpha))
        self.resolve_preference = router.resolve_preference  # the harness reports a clipped w as n/a

    @property
    def p_hat(self) -> np.ndarray:
        return self._prediction.p_hat


class BanditRouter(Router):
    """:class:`~irtrouter.routing.policy.router.PolicyRouter` with the registry's interface.

    The harness reads every router at trade-off weights ``alpha``; the policy takes a preference w,
    the weight of cost against quality 1, so ``alpha`` is read as ``w = (1 - alpha) / alpha`` (the
    same trade-off; :class:`~irtrouter.routing.rule.TradeOff`), clipped to the trained range as in
    :meth:`~irtrouter.routing.policy.router.PolicyRouter.resolve_preference`.

    Parameters mirror :class:`PolicyRouter`; the embedder is the one that made the training
    embeddings. ``max_epochs`` (stage-1 epochs) and ``max_iter`` (pre-training and PPO steps each),
    when given, shorten training: the harness's quick mode sets them.
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
        self.router_.fit(
            data.results,
            data.catalog,
            embedder=data.embedder,
            use_cache=False,
            query_embeddings=data.X,
            progress=data.progress,
        )

    def _decide(self, batch: QueryBatch) -> PolicyDecisions:
        return PolicyDecisions(self.router_, batch)
