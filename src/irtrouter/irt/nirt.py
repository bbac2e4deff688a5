"""NIRT-Router's predictor (IRT-Router section 4.2.2, eq. 7-9), after NCDM (Wang et al., 2020).

    theta_M = sigmoid(W_theta e_M + c_theta [+ u_M])  ability per named dimension, (0, 1)^N
    b_q     = sigmoid(W_b e_q + c_b)                  difficulty per dimension, (0, 1)^N
    a_q     = softplus(w_a . e_q + c_a)               discrimination, > 0
    x       = N softmax(r_q / tau) * (theta_M - b_q) * a_q    r_q: the query's 0/1 relevance vector
    P(q, M) = sigmoid(w_2 . sigmoid(W_1 x + b_1) + b_2),  W_1 >= 0, w_2 >= 0

Each of the N = 25 dimensions is a named ability (:mod:`irtrouter.irt.abilities`) and r_q says
which abilities the query needs (:mod:`irtrouter.irt.relevance`).

Three choices go beyond the paper's text. Two come from NCDM and serve the monotonicity the paper
relies on (more ability never lowers P): the interaction network's weights are kept non-negative
(clipped after every optimiser step), and the discrimination goes through a softplus so it is
positive (the paper writes a plain linear map, which could flip the sign of every dimension).
The third is scale: the softmax weights are multiplied by N so they average 1 rather than 1/N
(W_1 could learn that factor, but at the paper's learning rate it takes hundreds of epochs), and
the softmax has a temperature tau. The paper's tau = 1 gives a relevant dimension only 2.7 times
the weight of an irrelevant one, so with 25 dimensions the 22 irrelevant ones dominate x and the
relevance vector barely matters; ``relevance_temperature`` sets tau (see its default below).

Free ability offsets ``u_M`` (``offset_prior``, off by default) are added inside the sigmoid, as
in MIRT (:mod:`irtrouter.irt.offsets`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.base import Params
from irtrouter.irt.offsets import ProfileAbilityPredictor
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps


class NIRTPredictor(ProfileAbilityPredictor):
    """Neural IRT with relevance vectors over named abilities.

    Parameters
    ----------
    hidden_units : int
        Width of the non-negative interaction layer (the paper's W_1).
    relevance_temperature : float
        tau of ``softmax(r / tau)``; 1 is the paper's form, smaller values let the relevant
        abilities dominate.
    offset_prior : float, optional
        Free per-LLM ability offsets under N(0, 1 / offset_prior) (None: none, the paper's).
    **kwargs
        See :class:`~irtrouter.irt.base.IRTPredictor`.
    """

    kind = "nirt"
    requires_context = True
    fixed_n_dims = (len(ABILITY_NAMES), f"NIRT's dimensions are the {len(ABILITY_NAMES)} named abilities")
    has_named_abilities = True

    def __init__(
        self,
        n_dims: int = 25,
        hidden_units: int = 64,
        relevance_temperature: float = 0.25,
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
        self.hidden_units = hidden_units
        self.relevance_temperature = relevance_temperature
        self.offset_prior = offset_prior

    def init_params(self, d_query: int, d_llm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n, h = self.n_dims, self.hidden_units
        return self.offset_params(n) | {
            "W_theta": rng.normal(0, 1.0, (n, d_llm)).astype(np.float32),
            "c_theta": np.zeros(n, np.float32),
            "w_a": rng.normal(0, 0.1, d_query).astype(np.float32),
            "c_a": np.full(1, 2.0, np.float32),
            "W_b": rng.normal(0, 1.0, (n, d_query)).astype(np.float32),
            "c_b": np.zeros(n, np.float32),
            "W_1": rng.uniform(0, 2.0 / np.sqrt(n), (h, n)).astype(np.float32),
            "b_1": np.zeros(h, np.float32),
            "w_2": rng.uniform(0, 2.0 / np.sqrt(h), h).astype(np.float32),
            "b_2": np.zeros(1, np.float32),
        }

    def ability_logits(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        return X_llms @ params["W_theta"].T + params["c_theta"]

    def ability_link(self, ops: ArrayOps, pre: Any) -> Any:
        return ops.sigmoid(pre)

    @staticmethod
    def dimension_difficulty(ops: ArrayOps, X_queries: Any, params: Params) -> Any:
        return ops.sigmoid(X_queries @ params["W_b"].T + params["c_b"])

    @staticmethod
    def discrimination(ops: ArrayOps, X_queries: Any, params: Params) -> Any:
        return ops.softplus(X_queries @ params["w_a"] + params["c_a"])

    def relevance_weights(self, ops: ArrayOps, context: Any) -> Any:
        """N * softmax(r / tau): per-dimension weights averaging 1."""
        return ops.softmax(context / self.relevance_temperature) * context.shape[-1]

    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any) -> Any:
        weights = self.relevance_weights(ops, context) / context.shape[-1]
        return (weights * self.dimension_difficulty(ops, X_queries, params)).sum(-1)

    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any) -> Any:
        a = self.discrimination(ops, X_queries, params)
        b = self.dimension_difficulty(ops, X_queries, params)
        r = self.relevance_weights(ops, context)
        x = r[:, None, :] * (theta[None, :, :] - b[:, None, :]) * a[:, None, None]
        hidden = ops.sigmoid(x @ params["W_1"].T + params["b_1"])
        return hidden @ params["w_2"] + params["b_2"]

    def dimension_names(self, n_dims: int) -> tuple[str, ...]:
        return ABILITY_NAMES[:n_dims]

    def dimension_weights(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray | None:
        """The relevance weights softmax(r_q / tau), which sum to 1 (the scalar discrimination
        scales every dimension alike); None without relevance vectors."""
        if context is None:
            return None
        rel = np.asarray(context, dtype=np.float64)
        return np.asarray(self.relevance_weights(NUMPY_OPS, rel)) / rel.shape[-1]

    def discrimination_magnitude(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """The scalar a_q."""
        self._check_fitted()
        X = np.atleast_2d(X_queries).astype(np.float32)
        return np.asarray(self.discrimination(NUMPY_OPS, X, self.params_), dtype=np.float64)

    def constrain(self, params: Params) -> None:
        params["W_1"].data.clamp_(min=0)
        params["w_2"].data.clamp_(min=0)
