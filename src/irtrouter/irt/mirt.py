"""MIRT-Router's predictor (IRT-Router section 4.2.1, eq. 4-6).

    theta_M = W_theta e_M + c_theta        (ability of LLM M, R^N)
    a_q     = W_a e_q + c_a                (discrimination of query q, R^N)
    b_q     = w_b . e_q + c_b              (difficulty of query q, R)
    P(q, M) = sigmoid(a_q . theta_M - b_q)

The paper's transformation layers have no bias terms; ours do (they cost N + 1 numbers and
absorb the mean of the embeddings). Multidimensional IRT is only identified up to a rotation of
the ability space; after training each dimension is oriented so that its mean discrimination over
the training queries is positive, which makes "higher ability = more likely to answer well" read
true per dimension without changing any prediction.

The intercept b_q is likewise only identified up to ``a_q . t`` for any shift t of all abilities;
after training the abilities are centred on the trained LLMs' mean (t = -mean theta), so b_q reads
as the difficulty of q *for the average LLM of the pool*: P = 0.5 at b_q = 0 for an LLM of mean
ability. This too leaves every prediction unchanged.

Free ability offsets (``offset_prior``, off by default)
    ``theta_M = W_theta e_M + c_theta + u_M`` with a free offset ``u_M`` per trained LLM under a
    Gaussian prior N(0, 1 / offset_prior) (MAP: ``offset_prior / 2 * |u|^2`` per LLM added to the
    summed BCE). The profile map still places a newcomer (:meth:`profile_ability` has no offset:
    cold start is unchanged), while a well-observed LLM gets an ability of its own: two LLMs whose
    profiles read alike (variants of one family, prompt variants of one model) can then differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.irt.base import IRTPredictor, Params
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps


class MIRTPredictor(IRTPredictor):
    """Multidimensional 2-parameter logistic IRT over query and LLM-profile embeddings.

    Examples
    --------
    >>> pred = MIRTPredictor(n_dims=5).fit(Xq, Xm, Y)  # doctest: +SKIP
    >>> pred.predict_proba(Xq[:2]).shape  # doctest: +SKIP
    (2, 9)
    """

    kind = "mirt"
    logit_is_linear = True
    labels_dimensions_by_task = True

    def __init__(
        self,
        n_dims: int = 25,
        offset_prior: float | None = None,
        learning_rate: float = 0.002,
        batch_size: int = 512,
        max_epochs: int = 200,
        patience: int = 10,
        validation_fraction: float = 0.1,
        weight_decay: float = 0.0,
        random_state: int = 0,
    ) -> None:
        super().__init__(
            n_dims=n_dims,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            validation_fraction=validation_fraction,
            weight_decay=weight_decay,
            random_state=random_state,
        )
        self.offset_prior = offset_prior

    def init_params(self, d_query: int, d_llm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = self.n_dims
        scale = n**-0.25  # a . theta starts with unit variance for unit-norm embeddings
        offsets = {} if self.offset_prior is None else {"U": np.zeros((self._n_llms, n), np.float32)}
        return offsets | {
            "W_a": rng.normal(0, scale, (n, d_query)).astype(np.float32),
            "c_a": np.zeros(n, np.float32),
            "w_b": rng.normal(0, 0.1, d_query).astype(np.float32),
            "c_b": np.zeros(1, np.float32),
            "W_theta": rng.normal(0, scale, (n, d_llm)).astype(np.float32),
            "c_theta": np.zeros(n, np.float32),
        }

    def abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        """The trained LLMs' abilities (their profiles' in training order, plus their offsets)."""
        theta = X_llms @ params["W_theta"].T + params["c_theta"]
        return theta + params["U"] if "U" in params else theta

    def penalty(self, ops: ArrayOps, X_queries: Any, X_llms: Any, theta: Any, params: Params, context: Any) -> Any:
        if "U" not in params:
            return 0.0
        # The prior's share of one cell's loss: the batch loss is a mean over observed cells.
        return self.offset_prior * (params["U"] ** 2).sum() / (2.0 * self._n_observed)

    def fit(
        self,
        X_queries: np.ndarray,
        X_llms: np.ndarray,
        Y: np.ndarray,
        *,
        llm_ids: Sequence[str] | None = None,
        context: np.ndarray | None = None,
        groups: Sequence[str] | None = None,
        progress: bool = False,
        weights: np.ndarray | None = None,
    ) -> MIRTPredictor:
        if self.offset_prior is not None and not self.offset_prior > 0:
            raise ConfigError(f"offset_prior must be > 0 (or None: no offsets), got {self.offset_prior!r}")
        Y = np.asarray(Y)
        self._n_llms = Y.shape[1]
        self._n_observed: float = max(int((~np.isnan(Y)).sum()), 1)
        # The prior is per observation: an aggregated cell counts as its weight.
        if weights is not None and np.shape(weights) == Y.shape:
            self._n_observed = max(float(np.asarray(weights)[~np.isnan(Y)].sum()), 1.0)
        super().fit(
            X_queries, X_llms, Y, llm_ids=llm_ids, context=context, groups=groups, progress=progress, weights=weights
        )
        return self

    def profile_ability(self, X_llm: np.ndarray) -> np.ndarray:
        """Ability of an LLM from its profile embedding alone (no offset: IRT-Router section 6.3)."""
        self._check_fitted()
        X = np.atleast_2d(X_llm).astype(np.float32)
        return np.asarray(X @ self.params_["W_theta"].T + self.params_["c_theta"])

    @staticmethod
    def discrimination(ops: ArrayOps, X_queries: Any, params: Params) -> Any:
        return X_queries @ params["W_a"].T + params["c_a"]

    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any = None) -> Any:
        return X_queries @ params["w_b"] + params["c_b"]

    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any = None) -> Any:
        a = self.discrimination(ops, X_queries, params)
        b = self.difficulty(ops, X_queries, params)
        return a @ theta.T - b[:, None]

    def query_discrimination(self, X_queries: np.ndarray) -> np.ndarray:
        """Discrimination vectors a_q (n_queries, n_dims)."""
        self._check_fitted()
        return np.asarray(self.discrimination(NUMPY_OPS, np.atleast_2d(X_queries).astype(np.float32), self.params_))

    def dimension_weights(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """The discrimination vectors a_q."""
        return self.query_discrimination(X_queries).astype(np.float64)

    def discrimination_magnitude(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """``|a_q|``."""
        return np.linalg.norm(self.query_discrimination(X_queries), axis=1).astype(np.float64)

    def _after_fit(self, X_queries: np.ndarray, context: np.ndarray | None) -> None:
        a = self.discrimination(NUMPY_OPS, X_queries, self.params_)
        sign = np.where(a.mean(axis=0) < 0, -1.0, 1.0).astype(np.float32)
        for name in ("W_a", "W_theta"):
            self.params_[name] = self.params_[name] * sign[:, None]
        for name in ("c_a", "c_theta", "U"):
            if name in self.params_:
                self.params_[name] = self.params_[name] * sign
        self.abilities_ = self.abilities_ * sign
        # Centre abilities; b absorbs the shift: a.(theta - m) - (b - a.m) == a.theta - b.
        centre = self.abilities_.mean(axis=0)
        self.params_["c_theta"] = self.params_["c_theta"] - centre
        self.params_["w_b"] = self.params_["w_b"] - self.params_["W_a"].T @ centre
        self.params_["c_b"] = self.params_["c_b"] - self.params_["c_a"] @ centre
        self.abilities_ = self.abilities_ - centre
