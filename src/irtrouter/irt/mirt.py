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

Free ability offsets (``offset_prior``, off by default; :mod:`irtrouter.irt.offsets`)
    ``theta_M = W_theta e_M + c_theta + u_M``: two LLMs whose profiles read alike can differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from irtrouter.irt.base import Params
from irtrouter.irt.offsets import ProfileAbilityPredictor
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps


class MIRTPredictor(ProfileAbilityPredictor):
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
        return self.offset_params(n) | {
            "W_a": rng.normal(0, scale, (n, d_query)).astype(np.float32),
            "c_a": np.zeros(n, np.float32),
            "w_b": rng.normal(0, 0.1, d_query).astype(np.float32),
            "c_b": np.zeros(1, np.float32),
            "W_theta": rng.normal(0, scale, (n, d_llm)).astype(np.float32),
            "c_theta": np.zeros(n, np.float32),
        }

    def ability_logits(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        return X_llms @ params["W_theta"].T + params["c_theta"]

    @staticmethod
    def discrimination(ops: ArrayOps, X_queries: Any, params: Params) -> Any:
        return X_queries @ params["W_a"].T + params["c_a"]

    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any = None) -> Any:
        return X_queries @ params["w_b"] + params["c_b"]

    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any = None) -> Any:
        a = self.discrimination(ops, X_queries, params)
        b = self.difficulty(ops, X_queries, params)
        return a @ theta.T - b[:, None]

    def logits_vjp(
        self, X_queries: np.ndarray, X_llms: np.ndarray, params: Params, context: np.ndarray | None = None
    ) -> tuple[np.ndarray, Callable[[np.ndarray], dict[str, np.ndarray]]]:
        a = self.discrimination(NUMPY_OPS, X_queries, params)
        b = self.difficulty(NUMPY_OPS, X_queries, params)
        theta = self.abilities(NUMPY_OPS, X_llms, params)  # the profile map plus any offsets U

        def backward(g: np.ndarray) -> dict[str, np.ndarray]:
            g_a, g_theta, g_b = g @ theta, g.T @ a, -g.sum(axis=1)  # z = a . theta - b
            grads = {
                "W_a": g_a.T @ X_queries,
                "c_a": g_a.sum(axis=0),
                "w_b": g_b @ X_queries,
                "c_b": g_b.sum(keepdims=True),
                "W_theta": g_theta.T @ X_llms,
                "c_theta": g_theta.sum(axis=0),
            }
            if "U" in params:
                grads["U"] = g_theta
            return grads

        return a @ theta.T - b[:, None], backward

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
