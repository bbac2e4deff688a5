"""IRTRouter: embeddings + an IRT predictor + warm-up + a cost model + the routing rule.

Training (``fit``) imports torch; predicting and routing are numpy only, so a loaded router
(:func:`irtrouter.routing.persistence.load_router`) serves queries without torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.base import Embedder
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import ConfigError, DataError, NotFittedError, UnknownLLMError
from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor
from irtrouter.irt.identity import IdentityIRTPredictor
from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor
from irtrouter.irt.relevance import AbilityLabeller, make_labeller, relevance_vectors
from irtrouter.irt.twopl import TwoPLPredictor
from irtrouter.routing.cost import CostModel, make_cost_model
from irtrouter.routing.decision import RoutingDecision, allowed_mask, choose, resolve_weights
from irtrouter.routing.explanation import Explanation, explain_decisions
from irtrouter.routing.neighbours import NeighbourIndex, warm_up

log = logging.getLogger(__name__)

PREDICTORS: dict[str, type[IRTPredictor]] = {
    "mirt": MIRTPredictor,
    "nirt": NIRTPredictor,
    "2pl": TwoPLPredictor,
    "identity": IdentityIRTPredictor,
}


@dataclass(frozen=True)
class Prediction:
    """Everything the routing rule needs for a batch of queries, computed once.

    ``p_hat``, ``cost`` and ``cost_usd`` are (n_queries, n_llms); ``difficulty`` is (n_queries,).
    Sweeping alpha over a Prediction with :meth:`IRTRouter.choose` costs no re-embedding.
    ``features`` (the query embeddings after warm-up, as the predictor saw them), ``context``
    (NIRT's relevance vectors) and ``neighbours`` (indices of the nearest training queries) feed
    the per-decision explanation (:mod:`irtrouter.routing.explanation`).
    """

    llm_ids: tuple[str, ...]
    p_hat: np.ndarray
    cost: np.ndarray
    difficulty: np.ndarray
    cost_usd: np.ndarray | None = None
    features: np.ndarray | None = None
    context: np.ndarray | None = None
    neighbours: np.ndarray | None = None


class IRTRouter:
    """Route each query to the LLM with the best ``alpha * P - beta * C``.

    Parameters
    ----------
    predictor : {"mirt", "nirt", "2pl", "identity"}
        MIRT-Router (latent abilities), NIRT-Router (25 named abilities, relevance vectors),
        RADAR's 2PL (one free scalar ability per LLM or configuration) or LLM Bandit's variational
        identity vectors (:mod:`irtrouter.irt.identity`; the policy router builds on it).
    n_dims : int
        Ability dimensions N (NIRT: must be 25, one per named ability; 2PL: must be 1).
    embedder : str
        Embedder spec (:func:`irtrouter.embed.make_embedder`): ``use`` (default), ``e5``, ``hashing``...
    warmup_lambda, warmup_k : float, int
        Query warm-up (eq. 10): weight of the mean of the ``warmup_k`` nearest training queries.
        0 disables it.
    relevance_k : int
        NIRT: unseen queries take the mean relevance of this many nearest training queries.
    cost_model : {"auto", "price", "tokens", "observed"}
        See :mod:`irtrouter.routing.cost`.
    predictor_params : dict, optional
        Extra arguments of the predictor (``max_epochs``, ``learning_rate``, ``hidden_units``...).
    random_state : int
        Seeds every random step (clustering, initialisation, batches).

    Examples
    --------
    >>> router = IRTRouter(predictor="mirt", embedder="hashing").fit(results, catalog)  # doctest: +SKIP
    >>> decision = router.route("Prove that sqrt(2) is irrational", alpha=0.8)  # doctest: +SKIP
    >>> decision.llm_id, decision.p_hat  # doctest: +SKIP
    """

    def __init__(
        self,
        predictor: str = "mirt",
        n_dims: int = 25,
        embedder: str = "use",
        warmup_lambda: float = 0.3,
        warmup_k: int = 5,
        relevance_k: int = 5,
        cost_model: str = "auto",
        predictor_params: dict[str, Any] | None = None,
        random_state: int = 0,
    ) -> None:
        self.predictor = predictor
        self.n_dims = n_dims
        self.embedder = embedder
        self.warmup_lambda = warmup_lambda
        self.warmup_k = warmup_k
        self.relevance_k = relevance_k
        self.cost_model = cost_model
        self.predictor_params = predictor_params
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "predictor": self.predictor,
            "n_dims": self.n_dims,
            "embedder": self.embedder,
            "warmup_lambda": self.warmup_lambda,
            "warmup_k": self.warmup_k,
            "relevance_k": self.relevance_k,
            "cost_model": self.cost_model,
            "predictor_params": dict(self.predictor_params or {}),
            "random_state": self.random_state,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"IRTRouter({args})"

    # -- training --------------------------------------------------------------------------------
    def _validate_params(self) -> None:
        if self.predictor not in PREDICTORS:
            raise ConfigError(f"unknown predictor {self.predictor!r}; expected one of {', '.join(PREDICTORS)}")
        if self.predictor == "nirt" and self.n_dims != len(ABILITY_NAMES):
            raise ConfigError(
                f"NIRT's dimensions are the {len(ABILITY_NAMES)} named abilities: n_dims must be "
                f"{len(ABILITY_NAMES)}, got {self.n_dims}"
            )
        if self.predictor == "2pl" and self.n_dims != 1:
            raise ConfigError(f"2PL has one scalar ability: n_dims must be 1, got {self.n_dims}")
        if not isinstance(self.n_dims, int) or self.n_dims < 1:
            raise ConfigError(f"n_dims must be a positive integer, got {self.n_dims!r}")
        if not 0 <= self.warmup_lambda <= 1:
            raise ConfigError(f"warmup_lambda must be in [0, 1], got {self.warmup_lambda}")
        for name in ("warmup_k", "relevance_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

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
        query_embeddings: np.ndarray | None = None,
    ) -> IRTRouter:
        """Learn the router from training results.

        Parameters
        ----------
        results : ResultsMatrix
            Training queries x LLMs (unobserved cells allowed).
        catalog : LLMCatalog
            Prices and profiles; must list every LLM of ``results``.
        embedder : Embedder, optional
            Use this instance instead of building ``self.embedder`` (then pass it to
            ``load_router`` too).
        labeller : AbilityLabeller, optional
            NIRT: who names each cluster's abilities (default: an OpenAI-compatible endpoint when
            ``$IRTROUTER_LABELLER_BASE_URL`` is set, else the offline labeller).
        cache_dir, use_cache :
            The on-disk embedding cache (default ``$IRTROUTER_CACHE_DIR`` or ``~/.cache/irtrouter``).
        progress : bool
            Progress bars for embedding, labelling and training.
        query_embeddings : ndarray (n_queries, dim), optional
            ``results.queries`` already embedded by this embedder (e.g. shared by every router of
            an evaluation); they are then not embedded again.
        """
        self._validate_params()
        started = time.perf_counter()
        for m in results.llm_ids:
            if m not in catalog:
                raise UnknownLLMError(m, catalog.ids, f"{results.source} vs catalog {catalog.source}")
        if results.n_queries < 2:
            raise DataError("need at least 2 training queries", source=results.source)
        self.catalog_ = catalog.subset(results.llm_ids)
        base = embedder if embedder is not None else make_embedder(self.embedder)
        self.embedder_spec_ = self.embedder if embedder is None else None
        self.embedder_ = base
        encoder: Any = CachedEmbedder(base, cache_dir) if use_cache else base

        def embed(texts: Sequence[str], desc: str) -> np.ndarray:
            return encode_texts(encoder, texts, progress, desc)

        if query_embeddings is None:
            X_queries = embed(results.queries, "embedding queries")
        else:
            X_queries = np.asarray(query_embeddings, dtype=np.float32)
            if X_queries.shape != (results.n_queries, base.dim):
                raise ConfigError(
                    f"query_embeddings has shape {X_queries.shape}, expected ({results.n_queries}, {base.dim})"
                )
        X_llms = embed([self.catalog_[m].profile_text for m in results.llm_ids], "embedding LLM profiles")
        embed_seconds = time.perf_counter() - started

        context = None
        self.relevance_info_: dict[str, Any] | None = None
        self.train_relevance_: np.ndarray | None = None
        if self.predictor == "nirt":
            chosen = labeller or make_labeller(encoder)
            rel = relevance_vectors(
                results.queries, X_queries, chosen, random_state=self.random_state, progress=progress
            )
            context = self.train_relevance_ = rel.vectors
            self.relevance_info_ = {
                "labeller": rel.labeller,
                "abilities": list(ABILITY_NAMES),
                "n_clusters": len(rel.cluster_abilities),
                "cluster_abilities": [[ABILITY_NAMES[i] for i in c] for c in rel.cluster_abilities],
            }

        params = {"n_dims": self.n_dims, "random_state": self.random_state, **(self.predictor_params or {})}
        try:
            self.predictor_ = PREDICTORS[self.predictor](**params)
        except TypeError as exc:
            raise ConfigError(f"bad predictor_params for {self.predictor}: {exc}") from None
        self.predictor_.fit(
            X_queries,
            X_llms,
            results.scores,
            llm_ids=results.llm_ids,
            context=context,
            groups=results.tasks,
            progress=progress,
        )
        self.cost_model_: CostModel = make_cost_model(self.cost_model, results).fit(results, self.catalog_)
        self.neighbours_ = NeighbourIndex(X_queries)
        # For explanations: difficulty percentiles and the task of the nearest training queries.
        self.train_difficulty_sorted_ = self._training_difficulty_sorted()
        self.train_tasks_: tuple[str, ...] | None = tuple(results.tasks)
        self.training_ = {
            "source": results.source,
            "n_queries": results.n_queries,
            "n_llms": results.n_llms,
            "n_observed": results.n_observed,
            "tasks": results.task_names(),
            "embed_seconds": round(embed_seconds, 3),
            "train_seconds": round(self.predictor_.train_seconds_, 3),
            "epochs": len(self.predictor_.history_),
            "best_epoch": self.predictor_.best_epoch_,
            "best_val_bce": min(h["val_bce"] for h in self.predictor_.history_),
        }
        log.info(
            "trained %s on %d queries x %d LLMs in %.1fs",
            self.predictor,
            results.n_queries,
            results.n_llms,
            time.perf_counter() - started,
        )
        return self

    # -- prediction ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "predictor_"):
            raise NotFittedError("this IRTRouter is not fitted: call fit() or load_router()")

    def _training_difficulty_sorted(self) -> np.ndarray:
        """Sorted difficulties of the training queries (from their stored embeddings)."""
        X, rel = self.neighbours_.embeddings, self.train_relevance_
        return np.sort(self.predictor_.query_difficulty(X, rel).astype(np.float64))

    @property
    def llm_ids(self) -> tuple[str, ...]:
        self._check_fitted()
        return self.predictor_.llm_ids_

    def embed(self, queries: Sequence[str], use_cache: bool = False, cache_dir: str | Path | None = None) -> np.ndarray:
        """Embed queries with the router's embedder (validating the texts); ``use_cache`` reads and
        fills the on-disk cache in ``cache_dir`` (default ``$IRTROUTER_CACHE_DIR``), for texts that
        come back (quiz pools, evaluation sets) rather than live queries."""
        self._check_fitted()
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise DataError("empty query", row=i, field="query")
        encoder = CachedEmbedder(self.embedder_, cache_dir) if use_cache else self.embedder_
        return encode_texts(encoder, queries)

    def predict_embedded(self, X: np.ndarray, queries: Sequence[str], warmup_lambda: float | None = None) -> Prediction:
        """:class:`Prediction` for queries already embedded (``X``); ``queries`` price them."""
        self._check_fitted()
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        if X.shape[1] != self.neighbours_.embeddings.shape[1]:
            raise DataError(
                f"embeddings have {X.shape[1]} dimensions, the router expects {self.neighbours_.embeddings.shape[1]}"
            )
        lam = self.warmup_lambda if warmup_lambda is None else warmup_lambda
        k = max(self.warmup_k if lam > 0 else 0, self.relevance_k if self.train_relevance_ is not None else 0)
        near = self.neighbours_.search(X, k) if k else None
        context = None
        if self.train_relevance_ is not None and near is not None:
            context = self.train_relevance_[near[:, : self.relevance_k]].mean(axis=1)
        if lam > 0 and near is not None:
            X = warm_up(X, self.neighbours_.embeddings[near[:, : self.warmup_k]], lam)
        p_hat = self.predictor_.predict_proba(X, context)
        return Prediction(
            llm_ids=self.llm_ids,
            p_hat=p_hat.astype(np.float64),
            cost=self.cost_model_.normalised(queries),
            difficulty=self.predictor_.query_difficulty(X, context).astype(np.float64),
            cost_usd=self.cost_model_.expected_usd(queries),
            features=X,
            context=context,
            neighbours=near,
        )

    def predict(self, queries: Sequence[str], warmup_lambda: float | None = None) -> Prediction:
        """P-hat, cost and difficulty of every LLM for each query."""
        queries = list(queries)
        return self.predict_embedded(self.embed(queries), queries, warmup_lambda)

    def choose(
        self,
        prediction: Prediction,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Indices of the chosen LLMs for a :class:`Prediction` (fast alpha sweeps)."""
        mask = allowed_mask(prediction.llm_ids, allowed_llms)
        return choose(prediction.p_hat, prediction.cost, alpha, beta, mask)

    def route(
        self,
        query: str,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
    ) -> RoutingDecision:
        """Route one query. See :mod:`irtrouter.routing.decision` for the rule and tie-breaks."""
        return self.route_many([query], alpha, beta, allowed_llms)[0]

    def route_many(
        self,
        queries: Sequence[str],
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
    ) -> list[RoutingDecision]:
        """Route a batch of queries with one embedding call; each decision carries its explanation."""
        a, b = resolve_weights(alpha, beta)
        mask = allowed_mask(self.llm_ids, allowed_llms)
        pred = self.predict(queries)
        chosen = choose(pred.p_hat, pred.cost, a, b, mask)
        explanations = explain_decisions(self, pred, chosen, a, b, mask)
        return self._decisions(
            queries, pred, chosen, a, b, mask, a * pred.p_hat - b * pred.cost, explanations=explanations
        )

    def _decisions(
        self,
        queries: Sequence[str],
        pred: Prediction,
        chosen: np.ndarray,
        alpha: float,
        beta: float,
        mask: np.ndarray,
        scores: np.ndarray,
        explanations: Sequence[Explanation | None] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> list[RoutingDecision]:
        """One :class:`RoutingDecision` per query from a batch's prediction, choices and per-LLM scores."""
        allowed = tuple(bool(x) for x in mask)
        return [
            RoutingDecision(
                llm_id=self.llm_ids[int(chosen[i])],
                query=q,
                alpha=alpha,
                beta=beta,
                llm_ids=self.llm_ids,
                allowed=allowed,
                p_hat=tuple(pred.p_hat[i].tolist()),
                cost=tuple(pred.cost[i].tolist()),
                score=tuple(scores[i].tolist()),
                difficulty=float(pred.difficulty[i]),
                cost_usd=None if pred.cost_usd is None else tuple(pred.cost_usd[i].tolist()),
                extras=dict(extras or {}),
                explanation=None if explanations is None else explanations[i],
            )
            for i, q in enumerate(queries)
        ]

    # -- growing the pool ------------------------------------------------------------------------
    def add_llm(self, spec: LLMSpec, ability: np.ndarray | None = None, **cost_estimates: float) -> None:
        """Add an LLM without retraining: its ability from ``ability`` or from its profile alone.

        ``cost_estimates`` feed the cost model (``expected_output_tokens`` for ``tokens``,
        ``mean_cost_usd`` for ``observed``).
        """
        self._check_fitted()
        if spec.llm_id in self.llm_ids:
            raise ConfigError(f"LLM {spec.llm_id!r} is already in the router")
        if ability is None:
            ability = self.predictor_.profile_ability(self.embedder_.encode([spec.profile_text]))[0]
        self.cost_model_.add_llm(spec, **cost_estimates)
        self.predictor_.add_llm(spec.llm_id, ability)
        self.catalog_ = LLMCatalog([*self.catalog_.values(), spec], source=self.catalog_.source)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the router to directory ``path`` (config.json + weights.npz)."""
        from irtrouter.routing.persistence import save_router

        return save_router(self, path)
