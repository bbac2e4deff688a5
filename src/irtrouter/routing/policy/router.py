"""LLM Bandit (Li, 2025): one preference-conditioned routing policy over any set of candidate LLMs.

:class:`PolicyRouter` wraps the policy network (:mod:`irtrouter.routing.policy.network`) with what
routing needs: an :class:`~irtrouter.routing.router.IRTRouter` over the identity predictor
(embedder, p-hat, cost model, catalog) and the saved-router format (``config.json`` records
``"router_kind": "policy"``; :func:`irtrouter.routing.saved.load_router` reads it back with numpy
alone). Training (torch) is :mod:`irtrouter.routing.policy.training`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from irtrouter._params import check_is_fitted
from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError, RouterFormatError
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.relevance import AbilityLabeller
from irtrouter.routing.decision import Prediction, RoutingDecision
from irtrouter.routing.persistence import prefixed
from irtrouter.routing.policy.network import policy_logits, set_costs
from irtrouter.routing.policy.settings import PolicySettings
from irtrouter.routing.router import IRTRouter
from irtrouter.routing.rule import RULES, TradeOff, allowed_mask

log = logging.getLogger(__name__)

POLICY_RULE = "policy"


class PolicyRouter(IRTRouter):
    """Route each query with the LLM Bandit policy, for any preference w and any candidate subset.

    An :class:`IRTRouter` over the identity predictor (no warm-up) whose decision rule is the
    learned policy (``rule="policy"``, the default) instead of ``alpha * P - beta * C``: everything
    else (embedding, p-hat, cost model, catalog, adding LLMs, the saved format) is inherited, and
    ``rule="linear"`` / ``"chebyshev"`` route by those rules over the identity model's p-hat, so a
    PolicyRouter stands in wherever an IRTRouter is expected.

    Parameters
    ----------
    embedder : str
        Embedder spec (:func:`irtrouter.embed.make_embedder`): ``use`` (default), ``hashing``...
    n_dims : int
        Identity-vector dimension d (:class:`~irtrouter.irt.identity.IdentityIRTPredictor`).
    identity_params : dict, optional
        Extra arguments of the identity predictor (``hidden_units``, ``max_epochs``, ``kl_weight``...).
    policy_params : dict, optional
        Overrides of :class:`~irtrouter.routing.policy.settings.PolicySettings` (``ppo_steps``,
        ``hidden_units``...). The learned weights are ``policy_weights_``.
    cost_model : {"auto", "price", "tokens", "observed", ...}
        Cost model of :mod:`irtrouter.routing.cost`; its per-query cost, divided by the largest in
        the candidate set, is both the policy's cost input and the cost half of the PPO reward.
    rule : {"policy", "linear", "chebyshev"}
        The rule when a call names none.
    random_state : int
        Seeds stage 1, pre-training and PPO.

    Notes
    -----
    The trade-off is a preference ``w`` (cost weight; quality weight 1). Calls written for
    :class:`IRTRouter` pass ``alpha`` / ``beta`` instead, read as ``w = beta / alpha``; beyond the
    trained range ``[0, max_preference]`` that w is clipped to ``max_preference`` (the policy's most
    cost-averse setting) and the decision says so, whereas an explicit ``preference`` out of range
    is an error. The budget mode (``budget=``) calibrates the linear or Chebyshev rule, not the policy.

    Examples
    --------
    >>> router = PolicyRouter(embedder="hashing").fit(results, catalog)  # doctest: +SKIP
    >>> router.route("Prove that sqrt(2) is irrational", preference=0.2).llm_id  # doctest: +SKIP
    >>> router.route("What is 2 + 2?", preference=1.5, allowed_llms=["small", "medium"])  # doctest: +SKIP
    """

    router_kind: ClassVar[str] = "policy"
    rules: ClassVar[tuple[str, ...]] = (POLICY_RULE, *RULES)

    def __init__(
        self,
        embedder: str = "use",
        n_dims: int = 16,
        identity_params: dict[str, Any] | None = None,
        policy_params: dict[str, Any] | None = None,
        cost_model: str = "auto",
        rule: str = POLICY_RULE,
        random_state: int = 0,
    ) -> None:
        super().__init__(
            predictor="identity",
            n_dims=n_dims,
            embedder=embedder,
            warmup_lambda=0.0,  # the policy sees p-hat of the query itself, in training as at routing
            cost_model=cost_model,
            rule=rule,
            predictor_params=identity_params,
            random_state=random_state,
        )
        self.identity_params = identity_params
        self.policy_params = policy_params

    # -- training --------------------------------------------------------------------------------
    def fit(
        self,
        results: ResultsMatrix,
        catalog: LLMCatalog,
        *,
        embedder: Embedder | None = None,
        labeller: AbilityLabeller | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        progress: bool = False,
        candidate_sets: Sequence[Sequence[str]] | None = None,
        query_embeddings: np.ndarray | None = None,
    ) -> PolicyRouter:
        """Stage 1 (identity vectors), then supervised pre-training and PPO of the policy.

        Parameters
        ----------
        results, catalog :
            Training results (unobserved cells allowed: stage 1 masks them; the policy stages use
            the queries observed for every LLM) and the LLMs' prices and profiles.
        candidate_sets : list of lists of LLM ids, optional
            Restrict the candidate sets PPO draws to these (default: random subsets of every size
            from ``min_candidates`` up). Used to test generalisation to sets never trained on.
        embedder, labeller, cache_dir, use_cache, progress, query_embeddings :
            As in :meth:`IRTRouter.fit` (``labeller`` is unused: identities have no named abilities).
        """
        settings = PolicySettings.from_params(self.policy_params)
        started = time.perf_counter()
        super().fit(
            results,
            catalog,
            embedder=embedder,
            cache_dir=cache_dir,
            use_cache=use_cache,
            progress=progress,
            query_embeddings=query_embeddings,
        )
        from irtrouter.routing.policy.training import out_of_fold_p_hat, train_policy  # torch: only to train

        identity_seconds = time.perf_counter() - started
        p_hat = None
        if settings.crossfit_folds >= 2:
            p_hat = out_of_fold_p_hat(self, results, settings.crossfit_folds, self.random_state, progress)
        crossfit_seconds = time.perf_counter() - started - identity_seconds
        trained = train_policy(
            self,
            results,
            settings,
            candidate_sets=candidate_sets,
            p_hat=p_hat,
            random_state=self.random_state,
            progress=progress,
        )
        self.settings_ = settings
        self.policy_weights_ = trained.params
        self.training_ = {
            **self.training_,
            "policy": trained.summary,
            "total_seconds": round(time.perf_counter() - started, 3),
            "stage_seconds": {
                "identity_model": round(identity_seconds, 3),
                "crossfit": round(crossfit_seconds, 3),
                "policy_pretraining": trained.summary["pretrain_seconds"],
                "policy_ppo": round(trained.summary["seconds"] - trained.summary["pretrain_seconds"], 3),
            },
        }
        return self

    # -- routing ---------------------------------------------------------------------------------
    def _check_policy(self) -> None:
        check_is_fitted(self, "policy_weights_", "call fit() or load_router()")

    def resolve_preference(self, trade_off: TradeOff) -> tuple[float, dict[str, Any]]:
        """The cost weight w the policy is given for ``trade_off``, and what to record about it
        (class Notes): a given preference must lie in ``[0, max_preference]``; otherwise
        ``beta / alpha`` is clipped to that range."""
        self._check_policy()
        top = self.settings_.max_preference
        if trade_off.preference is not None:
            w = trade_off.preference
            if not 0 <= w <= top:
                raise ConfigError(
                    f"preference w must lie in [0, {top:g}], the range the policy was trained on; got {w:g}"
                )
            return w, {"preference": w}
        w = trade_off.cost_weight
        if w <= top * (1 + 1e-9):  # tolerance: alpha = 1 / (1 + w) does not round-trip exactly
            return min(w, top), {"preference": round(min(w, top), 6)}
        return top, {"preference": top, "preference_clipped_from": "inf" if math.isinf(w) else round(w, 6)}

    def probabilities(
        self,
        prediction: Prediction,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
    ) -> np.ndarray:
        """pi(k | x, K, w) (n_queries, n_llms) for a :class:`Prediction` of :meth:`predict`;
        0 outside the candidate set K (``allowed_llms``, default every LLM)."""
        w, _ = self.resolve_preference(TradeOff.of(alpha, beta, preference))
        return self._probabilities(prediction, w, allowed_mask(self.llm_ids, allowed_llms))

    def _probabilities(self, prediction: Prediction, w: float, mask: np.ndarray) -> np.ndarray:
        if prediction.features is None:
            raise ConfigError("the prediction carries no query embeddings: make it with this router's predict()")
        cand = np.flatnonzero(mask)
        n = len(prediction.features)
        logits = policy_logits(
            NUMPY_OPS,
            self.policy_weights_,
            np.asarray(prediction.features, dtype=np.float32),
            np.asarray(self.predictor_.abilities_[cand], dtype=np.float32),
            set_costs(prediction.cost[:, cand]).astype(np.float32),
            prediction.p_hat[:, cand].astype(np.float32),
            np.full(n, w, dtype=np.float32),
            self.settings_.n_heads,
        )
        probs = np.zeros((n, len(mask)), dtype=np.float64)
        probs[:, cand] = NUMPY_OPS.softmax(np.asarray(logits, dtype=np.float64))
        return probs

    def _policy_call(
        self, rule: str | None, budget: float | None, alpha: float, beta: float | None, preference: float | None
    ) -> tuple[float, dict[str, Any]] | None:
        """``(w, notes)`` when this call is routed by the policy, None when by a rule of IRTRouter."""
        if self.resolve_rule(rule) != POLICY_RULE:
            return None
        if budget is not None:
            raise ConfigError(
                "the budget mode calibrates the linear or Chebyshev rule, not the policy: "
                "pass rule='linear' or 'chebyshev'"
            )
        return self.resolve_preference(TradeOff.of(alpha, beta, preference))

    def choose(
        self,
        prediction: Prediction,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
        rule: str | None = None,
        budget: float | None = None,
    ) -> np.ndarray:
        """Index of the policy's most probable candidate for each query (greedy routing); with
        ``rule="linear"`` / ``"chebyshev"``, that rule's choice over the identity p-hat."""
        policy = self._policy_call(rule, budget, alpha, beta, preference)
        if policy is None:
            return super().choose(
                prediction, alpha, beta, allowed_llms, preference=preference, rule=rule, budget=budget
            )
        return self._probabilities(prediction, policy[0], allowed_mask(self.llm_ids, allowed_llms)).argmax(axis=1)

    def route_many_embedded(
        self,
        X: np.ndarray,
        queries: Sequence[str],
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
        rule: str | None = None,
        budget: float | None = None,
        explain: bool = True,
    ) -> list[RoutingDecision]:
        """Route a batch of embedded queries (``route_many`` embeds, then calls this).

        Under the policy, a decision's ``score`` holds the policy's probabilities (0 outside the
        candidate set) and ``alpha`` and ``beta`` are reported as ``1 / (1 + w)`` and ``w / (1 + w)``;
        its decisions carry no explanation.
        """
        policy = self._policy_call(rule, budget, alpha, beta, preference)
        if policy is None:
            return super().route_many_embedded(
                X, queries, alpha, beta, allowed_llms, preference=preference, rule=rule, budget=budget, explain=explain
            )
        w, note = policy
        mask = allowed_mask(self.llm_ids, allowed_llms)
        pred = self.predict_embedded(X, queries)
        probs = self._probabilities(pred, w, mask)
        extras = {"router": "llm-bandit", "score": "policy probability", **note}
        trade_off = TradeOff.of(preference=w)
        return self._decisions(queries, pred, probs.argmax(axis=1), trade_off, POLICY_RULE, mask, probs, extras=extras)

    # -- persistence -----------------------------------------------------------------------------
    def _saved_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._check_policy()
        config, arrays = super()._saved_state()
        config["policy"] = asdict(self.settings_)
        arrays |= {f"policy.{k}": np.asarray(v) for k, v in self.policy_weights_.items()}
        return config, arrays

    def _restore(self, config: dict[str, Any], arrays: dict[str, np.ndarray], embedder: Embedder, source: Any) -> None:
        super()._restore(config, arrays, embedder, source)
        try:
            self.settings_ = PolicySettings.from_params(config["policy"])
        except ConfigError as exc:
            raise RouterFormatError(f"the saved policy settings are not valid here: {exc}") from None
        self.policy_weights_ = prefixed(arrays, "policy.")
        if "W_h2" not in self.policy_weights_:
            raise KeyError("policy.W_h2")
