"""Predictive routers: a score per (query, LLM) from the query embedding, then the alpha rule.

``routerbench-knn``
    RouterBench's predictive router (Hu et al., 2024): per-LLM score = mean score of the k nearest
    training queries (cosine), then ``argmax alpha * P - beta * C``.
``routerbench-mlp``
    RouterBench's predictive router with an MLP score predictor.
``knn-tuned``
    The kNN predictive router with k chosen on validation queries carved from the training data
    (never the test set), on the routing objective itself.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError, DataError
from irtrouter.evaluate.routers.contract import (
    Decisions,
    QueryBatch,
    Router,
    ScoredDecisions,
    TrainingData,
    carve_validation,
    realised_utility,
)
from irtrouter.routing.index import build_index
from irtrouter.routing.neighbours import neighbour_mean
from irtrouter.routing.rule import choose


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
        self.index_ = build_index(data.X)  # exact below EXACT_BELOW training queries, HNSW above
        self.scores_ = data.results.scores
        with np.errstate(invalid="ignore"):
            self.prior_ = np.nan_to_num(np.nanmean(self.scores_, axis=0), nan=0.0)

    def _mean_of(self, near: np.ndarray, k: int) -> np.ndarray:
        return neighbour_mean(self.scores_, near, k, self.prior_)

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
        if complete.any():
            val_part = val_part.take(complete)
        elif not val_part.results.observed.any():
            raise DataError("no validation query has an observed score", source=data.results.source)
        # else (pools with holes, no complete query): each routing is judged on the queries where
        # the LLM it chose was observed (the nanmean below).
        self._store(fit_part)
        near = self.index_.search(val_part.X, max(grid))
        Y, C = val_part.results.scores, self.normalised_cost(val_part.results.queries)
        rows = np.arange(len(Y))
        self.validation_utility_: dict[int, float] = {}
        for k in grid:
            p_hat = self._mean_of(near, k)
            self.validation_utility_[k] = float(
                np.mean([np.nanmean(realised_utility(Y, C, a)[rows, choose(p_hat, C, a)]) for a in self.tune_alphas])
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
