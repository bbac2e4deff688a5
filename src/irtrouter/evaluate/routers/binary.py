"""Binary routers: small or large LLM per query, from a "strong win rate".

``hybrid-llm``
    HybridLLM (Ding et al., 2024): a binary classifier on the query embedding that predicts
    whether the small LLM is good enough (``s_small >= s_large - t``).
``routellm-mf``
    RouteLLM's matrix factorisation (Ong et al., 2024; :mod:`irtrouter.irt.mf`):
    ``w . (v_M * W e_q)``; strong win rate ``sigmoid(s_large - s_small)``.

The trade-off weight
    Both output a per-query win rate of the large LLM, and route to it above a threshold. For each
    weight ``alpha`` the threshold is the one that maximises the realised ``alpha * score -
    (1 - alpha) * C`` on validation queries carved from the training data (the classifier is
    trained on the rest). RouteLLM's own protocol sweeps the threshold instead; that curve is
    :meth:`~irtrouter.evaluate.routers.contract.BinaryDecisions.at_share` (APGR). By default the
    small and the large LLM are those of :mod:`~irtrouter.evaluate.routers.reference`; pass
    ``small`` / ``large`` to pick others.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from irtrouter.errors import ConfigError, DataError
from irtrouter.evaluate.routers.contract import (
    BinaryDecisions,
    Decisions,
    QueryBatch,
    Router,
    TrainingData,
    carve_validation,
    llm_index,
    realised_utility,
    small_and_large,
)
from irtrouter.irt.mf import MFPredictor
from irtrouter.irt.ops import NUMPY_OPS


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
        self.small_ = llm_index(data.results, self.small) if self.small else small
        self.large_ = llm_index(data.results, self.large) if self.large else large
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
