"""The routers irtrouter is compared against, and IRT-Router itself, behind one interface.

==================  ==============================================================================
name                router
==================  ==============================================================================
``small-llm``       Always the cheapest LLM (IRT-Router's "Small LLM").
``large-llm``       Always the most expensive LLM ("Large LLM").
``random``          Uniformly at random; scored as the exact expectation (a routing distribution).
``oracle``          The best realised score, the cheapest LLM among ties: the upper limit. Reads
                    the outcomes of the test queries, so it is a reference, not a router.
``hybrid-llm``      HybridLLM (Ding et al., 2024): a binary classifier on the query embedding that
                    predicts whether the small LLM is good enough (``s_small >= s_large - t``).
``routellm-mf``     RouteLLM's matrix factorisation (Ong et al., 2024): ``w . (v_M * W e_q)``;
                    strong win rate ``sigmoid(s_large - s_small)``.
``routerbench-knn`` RouterBench's predictive router (Hu et al., 2024): per-LLM score = mean score
                    of the k nearest training queries (cosine), then the alpha rule.
``routerbench-mlp`` RouterBench's predictive router with an MLP score predictor.
``knn-tuned``       The kNN predictive router with k chosen on validation queries carved from the
                    training data (never the test set).
``mirt``            MIRT-Router (:class:`irtrouter.routing.router.IRTRouter`), warm-up lambda 0.3.
``mirt-nowarmup``   The same, warm-up off (lambda 0; shares the fit with ``mirt``).
``nirt``            NIRT-Router, warm-up lambda 0.3.
``nirt-nowarmup``   The same, warm-up off.
==================  ==============================================================================

Small and large LLM
    By default the cheapest and the most expensive LLM by the router's cost model averaged over
    the training queries (real mean USD where the data has it, else prices). Where several LLMs
    cost the same (RouterDC's pool is priced alike), the small one is the weakest of them on the
    training data and the large one the strongest, so the two differ. Pass ``llm_id`` (or
    ``small`` / ``large`` for the binary routers) to pick others.

Binary routers and the trade-off weight
    HybridLLM and RouteLLM-MF output a per-query win rate of the large LLM, and route to it above
    a threshold. For each weight ``alpha`` the threshold is the one that maximises the realised
    ``alpha * score - (1 - alpha) * C`` on validation queries carved from the training data (the
    classifier is trained on the rest). RouteLLM's own protocol sweeps the threshold instead; that
    curve is :meth:`~irtrouter.routing.registry.BinaryDecisions.at_share` (APGR).

Choices beyond the original methods are documented on each class.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from irtrouter.data.results import ResultsMatrix
from irtrouter.data.splits import validation_split
from irtrouter.errors import ConfigError, DataError, UnknownLLMError
from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor, Params
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps
from irtrouter.routing.decision import choose, resolve_weights
from irtrouter.routing.neighbours import NeighbourIndex
from irtrouter.routing.registry import (
    BinaryDecisions,
    Decisions,
    FixedDecisions,
    QueryBatch,
    Router,
    ScoredDecisions,
    TrainingData,
    register_router,
)
from irtrouter.routing.router import IRTRouter

# -- helpers ---------------------------------------------------------------------------------------


def realised_utility(Y: np.ndarray, C: np.ndarray, alpha: float) -> np.ndarray:
    """Per (query, LLM) value of the routing objective with realised scores: ``alpha * Y - beta * C``."""
    a, b = resolve_weights(alpha)
    return a * Y - b * C


def small_and_large(results: ResultsMatrix, mean_cost: np.ndarray) -> tuple[int, int]:
    """Default (small, large) column indices: cheapest and dearest, ties broken by training score.

    Examples
    --------
    >>> scores = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    >>> results = ResultsMatrix(("q1", "q2"), ("a", "b"), ("x", "y", "z"), scores, ("", ""))
    >>> small_and_large(results, np.array([0.1, 0.1, 5.0]))  # x and y tie on cost: y is weaker
    (1, 2)
    """
    with np.errstate(invalid="ignore"):
        mean_score = np.nan_to_num(np.nanmean(results.scores, axis=0), nan=0.0)
    tol = 1e-9 * max(float(np.abs(mean_cost).max()), 1e-12)
    cheapest = np.flatnonzero(mean_cost <= mean_cost.min() + tol)
    dearest = np.flatnonzero(mean_cost >= mean_cost.max() - tol)
    small = int(cheapest[np.argmin(mean_score[cheapest])])
    large = int(dearest[np.argmax(mean_score[dearest])])
    return small, large


def carve_validation(data: TrainingData, fraction: float, seed: int) -> tuple[TrainingData, TrainingData]:
    """Split training data per task into (fit part, validation part); the test set is never touched."""
    fit_part, val_part = validation_split(data.results, fraction=fraction, seed=seed)
    pos = {q: i for i, q in enumerate(data.results.query_ids)}
    fit_rows = np.array([pos[q] for q in fit_part.query_ids], dtype=np.int64)
    val_rows = np.array([pos[q] for q in val_part.query_ids], dtype=np.int64)
    return data.take(fit_rows), data.take(val_rows)


def _llm_index(results: ResultsMatrix, llm_id: str) -> int:
    try:
        return results.llm_ids.index(llm_id)
    except ValueError:
        raise UnknownLLMError(llm_id, results.llm_ids, results.source) from None


# -- fixed routers -----------------------------------------------------------------------------------


class SingleLLMRouter(Router):
    """Send every query to one LLM: ``llm_id``, else the default small or large LLM.

    Examples
    --------
    >>> router = SingleLLMRouter(default="large").fit(train)  # doctest: +SKIP
    >>> router.chosen_llm_  # doctest: +SKIP
    'big'
    """

    def __init__(
        self, llm_id: str | None = None, default: Literal["small", "large"] = "small", cost_model: str = "auto"
    ) -> None:
        self.llm_id = llm_id
        self.default = default
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        if self.default not in ("small", "large"):
            raise ConfigError(f"default must be 'small' or 'large', got {self.default!r}")
        if self.llm_id is not None:
            self.index_ = _llm_index(data.results, self.llm_id)
        else:
            small, large = small_and_large(data.results, self.normalised_cost(data.results.queries).mean(axis=0))
            self.index_ = small if self.default == "small" else large
        self.chosen_llm_ = self.llm_ids_[self.index_]

    def _decide(self, batch: QueryBatch) -> Decisions:
        return FixedDecisions(self.llm_ids_, np.full(len(batch), self.index_, dtype=np.int64))


class RandomRouter(Router):
    """Each LLM with probability 1/n: the decisions are the distribution, so scores are exact expectations."""

    def _decide(self, batch: QueryBatch) -> Decisions:
        n = len(self.llm_ids_)
        return FixedDecisions(self.llm_ids_, np.full((len(batch), n), 1.0 / n))


class OracleRouter(Router):
    """The best realised score for each query, the cheapest LLM among ties (an upper limit)."""

    uses_outcomes: ClassVar[bool] = True

    def _decide(self, batch: QueryBatch) -> Decisions:
        assert batch.scores is not None and batch.costs is not None  # checked by decide()
        # alpha = 1: the rule compares scores only and breaks ties by the lower cost.
        return FixedDecisions(self.llm_ids_, choose(batch.scores, batch.costs, alpha=1.0))


# -- predictive routers: P-hat per LLM, then the alpha rule --------------------------------------


class ScoreRouter(Router):
    """A router that predicts each LLM's score and routes by ``alpha * P - beta * C``."""

    def _decide(self, batch: QueryBatch) -> Decisions:
        return ScoredDecisions(self.llm_ids_, self.predict_scores(batch), self.normalised_cost(batch.queries))

    @abstractmethod
    def predict_scores(self, batch: QueryBatch) -> np.ndarray:
        """Predicted score (n_queries, n_llms) of each LLM on each query."""


class KNNRouter(ScoreRouter):
    """RouterBench's kNN predictive router: mean score of the ``k`` most similar training queries.

    Unobserved training cells are skipped; an LLM with no observed score among the neighbours
    gets its training mean.
    """

    def __init__(self, k: int = 10, cost_model: str = "auto") -> None:
        self.k = k
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        self._store(data)
        self.k_ = self._check_k(self.k)

    @staticmethod
    def _check_k(k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        return k

    def _store(self, data: TrainingData) -> None:
        self.index_ = NeighbourIndex(data.X)
        self.scores_ = data.results.scores
        with np.errstate(invalid="ignore"):
            self.prior_ = np.nan_to_num(np.nanmean(self.scores_, axis=0), nan=0.0)

    def _mean_of(self, near: np.ndarray, k: int) -> np.ndarray:
        cells = self.scores_[near[:, :k]]  # (n, k, n_llms)
        seen = ~np.isnan(cells)
        total = np.where(seen, cells, 0.0).sum(axis=1)
        count = seen.sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), self.prior_)

    def predict_scores(self, batch: QueryBatch) -> np.ndarray:
        return self._mean_of(self.index_.search(batch.X, self.k_), self.k_)


class TunedKNNRouter(KNNRouter):
    """kNN with ``k`` chosen on validation queries carved from the training data (per task).

    Each k of ``k_grid`` predicts the validation queries from the other training queries; the k
    with the highest realised ``alpha * score - beta * C`` averaged over ``tune_alphas`` wins (ties:
    the smaller k). The router then uses every training query as neighbours.
    """

    def __init__(
        self,
        k_grid: Sequence[int] = (5, 10, 20, 50, 100, 200),
        tune_alphas: Sequence[float] = (0.2, 0.5, 0.8),
        validation_fraction: float = 0.1,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        self.k_grid = k_grid
        self.tune_alphas = tune_alphas
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        grid = sorted({self._check_k(k) for k in self.k_grid})
        if not grid:
            raise ConfigError("k_grid is empty")
        fit_part, val_part = carve_validation(data, self.validation_fraction, self.random_state)
        complete = np.asarray(val_part.results.observed.all(axis=1))
        if not complete.any():
            raise DataError("no validation query is observed for every LLM", source=data.results.source)
        val_part = val_part.take(complete)
        self._store(fit_part)
        near = self.index_.search(val_part.X, max(grid))
        Y, C = val_part.results.scores, self.normalised_cost(val_part.results.queries)
        rows = np.arange(len(Y))
        self.validation_utility_: dict[int, float] = {}
        for k in grid:
            p_hat = self._mean_of(near, k)
            self.validation_utility_[k] = float(
                np.mean([realised_utility(Y, C, a)[rows, choose(p_hat, C, a)].mean() for a in self.tune_alphas])
            )
        self.k_ = max(grid, key=lambda k: (self.validation_utility_[k], -k))
        self._store(data)


class MLPRouter(ScoreRouter):
    """RouterBench's MLP predictive router: one multi-output MLP regressor from the query embedding.

    Unobserved training cells take the LLM's training mean as target (they are few); predictions
    are clipped to [0, 1]. scikit-learn's ``MLPRegressor`` with early stopping on 10% of train.
    """

    def __init__(
        self, hidden_units: int = 100, max_iter: int = 200, random_state: int = 0, cost_model: str = "auto"
    ) -> None:
        self.hidden_units = hidden_units
        self.max_iter = max_iter
        self.random_state = random_state
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        Y = data.results.scores
        with np.errstate(invalid="ignore"):
            prior = np.nan_to_num(np.nanmean(Y, axis=0), nan=0.0)
        targets = np.where(np.isnan(Y), prior, Y)
        self.model_ = MLPRegressor(
            hidden_layer_sizes=(self.hidden_units,),
            early_stopping=len(Y) >= 20,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the budget, by design
            self.model_.fit(data.X, targets)

    def predict_scores(self, batch: QueryBatch) -> np.ndarray:
        out = np.asarray(self.model_.predict(batch.X), dtype=np.float64).reshape(len(batch), -1)
        return np.clip(out, 0.0, 1.0)


# -- binary routers -------------------------------------------------------------------------------------


class BinaryRouter(Router):
    """Small-or-large routing from a win rate, with a threshold per weight tuned on validation data."""

    def __init__(
        self,
        small: str | None = None,
        large: str | None = None,
        validation_fraction: float = 0.1,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        self.small = small
        self.large = large
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        small, large = small_and_large(data.results, self.normalised_cost(data.results.queries).mean(axis=0))
        self.small_ = _llm_index(data.results, self.small) if self.small else small
        self.large_ = _llm_index(data.results, self.large) if self.large else large
        if self.small_ == self.large_:
            raise ConfigError(f"the small and the large LLM are the same ({self.llm_ids_[self.small_]})")
        fit_part, val_part = carve_validation(data, self.validation_fraction, self.random_state)
        pair = [self.small_, self.large_]
        val_part = val_part.take(np.asarray(val_part.results.observed[:, pair].all(axis=1)))
        if len(val_part.X) == 0:
            raise DataError("no validation query has scores for both LLMs", source=data.results.source)
        self._fit_classifier(fit_part)
        self.val_win_rate_ = self.win_rate(val_part.X)
        self.val_scores_ = val_part.results.scores[:, pair]
        self.val_cost_ = self.normalised_cost(val_part.results.queries)[:, pair]
        self.thresholds_: dict[float, float] = {}

    @abstractmethod
    def _fit_classifier(self, data: TrainingData) -> None:
        """Learn the win-rate model from the fit part of the training data."""

    @abstractmethod
    def win_rate(self, X: np.ndarray) -> np.ndarray:
        """Per query, how much the large LLM is needed (higher = route to large)."""

    def threshold(self, alpha: float) -> float:
        """The win-rate threshold that maximises the realised objective at ``alpha`` on validation queries."""
        key = round(float(alpha), 9)
        if key not in self.thresholds_:
            u = realised_utility(self.val_scores_, self.val_cost_, alpha)  # columns: small, large
            order = np.argsort(-self.val_win_rate_, kind="stable")
            w = self.val_win_rate_[order]
            # Value of sending the j highest win rates to the large LLM, j = 0..n (ties: fewer calls).
            gain = np.concatenate([[0.0], np.cumsum(u[order, 1] - u[order, 0])])
            j = int(np.argmax(gain > gain.max() - 1e-12))
            if j == 0:
                t = np.inf
            elif j == len(w):
                t = -np.inf
            else:
                t = float((w[j - 1] + w[j]) / 2)
            self.thresholds_[key] = t
        return self.thresholds_[key]

    def _decide(self, batch: QueryBatch) -> Decisions:
        return BinaryDecisions(self.llm_ids_, self.small_, self.large_, self.win_rate(batch.X), self.threshold)


class HybridLLMRouter(BinaryRouter):
    """HybridLLM: logistic regression on the query embedding, label ``s_small >= s_large - relaxation``.

    Ding et al. train a DeBERTa classifier on the query text; here the classifier is a logistic
    regression over the shared query embedding (so every router sees the same features).
    ``relaxation`` is their ``t`` (0 = the deterministic label).
    """

    def __init__(
        self,
        small: str | None = None,
        large: str | None = None,
        relaxation: float = 0.0,
        regularisation: float = 1.0,
        validation_fraction: float = 0.1,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        super().__init__(small, large, validation_fraction, random_state, cost_model)
        self.relaxation = relaxation
        self.regularisation = regularisation

    def _fit_classifier(self, data: TrainingData) -> None:
        from sklearn.linear_model import LogisticRegression

        S = data.results.scores
        both = ~np.isnan(S[:, self.small_]) & ~np.isnan(S[:, self.large_])
        good_enough = S[both, self.small_] >= S[both, self.large_] - self.relaxation
        self.constant_: float | None = None
        if good_enough.all() or not good_enough.any():
            self.constant_ = float(good_enough.mean()) if both.any() else 0.5
            return
        self.classifier_ = LogisticRegression(C=self.regularisation, max_iter=1000, random_state=self.random_state)
        self.classifier_.fit(data.X[both], good_enough.astype(np.int64))

    def win_rate(self, X: np.ndarray) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(len(X), 1.0 - self.constant_)
        return 1.0 - self.classifier_.predict_proba(X)[:, 1]


class MFPredictor(IRTPredictor):
    """RouteLLM's matrix factorisation as a cell predictor: ``logit(q, M) = w . (v_M/|v_M| * W e_q)``.

    ``v_M`` is a free embedding per LLM (the training loop is fed one-hot identities in place of
    profiles, so ``v_M = W_P onehot_M``). RouteLLM trains it on pairwise preferences; the data here
    are absolute scores, so it is trained with the shared loop on the observed cells (BCE), and the
    strong win rate is ``sigmoid(logit_large - logit_small)`` as in RouteLLM. No item difficulty:
    :meth:`difficulty` is 0.
    """

    kind = "mf"

    def init_params(self, d_query: int, d_llm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = self.n_dims
        return {
            "W_P": rng.normal(0, 1, (n, d_llm)).astype(np.float32),
            "W_q": rng.uniform(-(d_query**-0.5), d_query**-0.5, (n, d_query)).astype(np.float32),
            "w_c": rng.uniform(-(n**-0.5), n**-0.5, n).astype(np.float32),
        }

    def abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        v = X_llms @ params["W_P"].T
        return v / ((v * v).sum(-1)[:, None] ** 0.5 + 1e-12)

    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any = None) -> Any:
        return ((X_queries @ params["W_q"].T) * params["w_c"]) @ theta.T

    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any = None) -> Any:
        return (X_queries @ params["W_q"].T)[:, 0] * 0.0


class MFRouter(BinaryRouter):
    """RouteLLM-style matrix factorisation router (binary: small vs large), see :class:`MFPredictor`."""

    def __init__(
        self,
        small: str | None = None,
        large: str | None = None,
        dim: int = 128,
        learning_rate: float = 0.002,
        max_epochs: int = 100,
        validation_fraction: float = 0.1,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        super().__init__(small, large, validation_fraction, random_state, cost_model)
        self.dim = dim
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs

    def _fit_classifier(self, data: TrainingData) -> None:
        self.predictor_ = MFPredictor(
            n_dims=self.dim,
            learning_rate=self.learning_rate,
            max_epochs=self.max_epochs,
            random_state=self.random_state,
        )
        self._identity = np.eye(len(self.llm_ids_), dtype=np.float32)
        self.predictor_.fit(
            data.X, self._identity, data.results.scores, llm_ids=self.llm_ids_, groups=data.results.tasks
        )

    def _logits(self, X: np.ndarray) -> np.ndarray:
        p = self.predictor_
        return np.asarray(p.logits(NUMPY_OPS, np.asarray(X, np.float32), p.abilities_, p.params_), dtype=np.float64)

    def win_rate(self, X: np.ndarray) -> np.ndarray:
        z = self._logits(X)
        return NUMPY_OPS.sigmoid(z[:, self.large_] - z[:, self.small_])

    def _decide(self, batch: QueryBatch) -> Decisions:
        z = self._logits(batch.X)
        win = NUMPY_OPS.sigmoid(z[:, self.large_] - z[:, self.small_])
        return BinaryDecisions(self.llm_ids_, self.small_, self.large_, win, self.threshold, p_hat=NUMPY_OPS.sigmoid(z))


# -- IRT-Router ---------------------------------------------------------------------------------------


class _EveryAbilityLabeller:
    """Names every ability for every cluster: all-ones relevance, i.e. NIRT without relevance vectors."""

    name = "uniform: every ability relevant (ablation)"

    def label(self, queries: Sequence[str]) -> set[int]:
        return set(range(len(ABILITY_NAMES)))


class IRTPolicyRouter(Router):
    """MIRT-Router or NIRT-Router (:class:`~irtrouter.routing.router.IRTRouter`) in the registry.

    Parameters mirror :class:`IRTRouter`; ``warmup_lambda`` is applied at decision time
    (``predict_embedded(..., warmup_lambda=)``), so variants that differ only in it share one fit.
    ``relevance="uniform"`` gives NIRT an all-ones relevance vector for every query (the ablation
    "without relevance vectors"). The embedder is the one that made the training embeddings.
    """

    inference_params: ClassVar[frozenset[str]] = frozenset({"warmup_lambda"})

    def __init__(
        self,
        predictor: str = "mirt",
        n_dims: int = 25,
        warmup_lambda: float = 0.3,
        warmup_k: int = 5,
        relevance_k: int = 5,
        relevance: Literal["labelled", "uniform"] = "labelled",
        predictor_params: dict[str, Any] | None = None,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        self.predictor = predictor
        self.n_dims = n_dims
        self.warmup_lambda = warmup_lambda
        self.warmup_k = warmup_k
        self.relevance_k = relevance_k
        self.relevance = relevance
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
            predictor_params=self.predictor_params,
            random_state=self.random_state,
        )
        labeller = _EveryAbilityLabeller() if self.relevance == "uniform" and self.predictor == "nirt" else None
        self.router_.fit(
            data.results,
            data.catalog,
            embedder=data.embedder,
            labeller=labeller,
            use_cache=False,
            query_embeddings=data.X,
        )

    def _decide(self, batch: QueryBatch) -> Decisions:
        pred = self.router_.predict_embedded(batch.X, batch.queries, warmup_lambda=self.warmup_lambda)
        return ScoredDecisions(pred.llm_ids, pred.p_hat, pred.cost)


# -- registration -------------------------------------------------------------------------------------

register_router("small-llm", SingleLLMRouter, "always the cheapest LLM", default="small")
register_router("large-llm", SingleLLMRouter, "always the most expensive LLM", default="large")
register_router("random", RandomRouter, "uniformly at random (exact expectation)")
register_router("oracle", OracleRouter, "best realised score, cheapest on ties (upper limit)")
register_router("hybrid-llm", HybridLLMRouter, "HybridLLM: is the small LLM good enough? (binary)")
register_router("routellm-mf", MFRouter, "RouteLLM matrix factorisation (binary)")
register_router("routerbench-knn", KNNRouter, "RouterBench predictive router, kNN (k=10)", k=10)
register_router("routerbench-mlp", MLPRouter, "RouterBench predictive router, MLP")
register_router("knn-tuned", TunedKNNRouter, "kNN predictive router, k tuned on validation")
register_router("mirt", IRTPolicyRouter, "MIRT-Router, warm-up 0.3", predictor="mirt")
register_router("mirt-nowarmup", IRTPolicyRouter, "MIRT-Router, no warm-up", predictor="mirt", warmup_lambda=0.0)
register_router("nirt", IRTPolicyRouter, "NIRT-Router, warm-up 0.3", predictor="nirt")
register_router("nirt-nowarmup", IRTPolicyRouter, "NIRT-Router, no warm-up", predictor="nirt", warmup_lambda=0.0)
