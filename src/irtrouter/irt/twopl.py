"""RADAR's predictor: 2-parameter logistic IRT over configurations (Fernandez et al., 2025, sec. 3).

    theta_g = free scalar per configuration g          (ability)
    a_q     = w_a . e_q + c_a                           (discrimination, scalar)
    b_q     = w_b . e_q + c_b                           (difficulty, scalar)
    P(q, g) = sigmoid(a_q * (theta_g - b_q))

Trained with the shared loop of :mod:`irtrouter.irt.training` (BCE on the observed cells; in
numpy, with the gradients of :meth:`TwoPLPredictor.logits_vjp`). The
ability is a free parameter, as in RADAR, not a function of the profile: :meth:`fit` feeds the
training loop one-hot identities in place of profile embeddings, so ``theta = onehot @ w_theta +
c_theta`` is one free number per configuration. Free abilities start at 0 (with ``init="data"``:
at their own configuration's mean score), so relabelling the configurations relabels the result.

Choices beyond the paper's text:

* bias terms ``c_a`` and ``c_b`` (the digest calls them harmless); ``a_q`` is plain linear, no
  positivity constraint, as in the paper;
* optionally (``init="data"``) training starts near a fitted model rather than at random: each
  configuration's ability at the logit of its mean score, and the difficulty head at a ridge
  regression of each query's difficulty implied by its mean score (with ``a = 1``) on its
  embedding. On nine benchmark settings the validation BCE was lower in seven and early stopping
  came sooner in six (80 epochs to 47 on RouteLLM OOD), but ``default``'s Reward fell on zeroeval
  OOD (docs/BENCHMARKS.md), so the random start stays the default;
* after training the scale is fixed so the trained abilities have mean 0 and standard deviation 1
  across configurations, and the sign so the mean discrimination over the training queries is
  positive. The pool of configurations then *is* distributed as the N(0, 1) prior that adaptive
  onboarding (:mod:`irtrouter.onboard`) puts on a new configuration's ability;
* for onboarding from a profile alone (IRT-Router 6.3), a ridge regression from profile embeddings
  to the trained abilities is fitted after training (ridge strength chosen by leave-one-out
  error); :meth:`profile_ability` applies it. With a handful of configurations it can do little
  more than place a new LLM near those with similar profiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.irt.base import IRTPredictor, Params
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps

RIDGE_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
INITS = ("random", "data")
#: Ridge strength (per training query) of ``init="data"``'s difficulty head, chosen by the BCE on
#: the router's validation carves of nine benchmark settings (``benchmarks/twopl_init.py``).
INIT_RIDGE = 0.01


class TwoPLPredictor(IRTPredictor):
    """Scalar 2PL IRT: one free ability per configuration, linear item heads on the query embedding.

    Parameters
    ----------
    n_dims : int
        Must be 1 (one scalar ability); accepted so routers pass it uniformly.
    init : {"random", "data"}
        Where training starts: small random item heads and abilities 0, or ``"data"``: near a
        fitted model (module docstring; measured and not the default, docs/BENCHMARKS.md).
    **kwargs
        Training settings, see :class:`~irtrouter.irt.base.IRTPredictor`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Xq = rng.normal(size=(200, 8)).astype(np.float32)
    >>> Y = (rng.random((200, 3)) < [0.2, 0.5, 0.8]).astype(np.float32)
    >>> pred = TwoPLPredictor(max_epochs=30, learning_rate=0.05).fit(Xq, np.eye(3), Y)
    >>> bool(pred.abilities_[0, 0] < pred.abilities_[1, 0] < pred.abilities_[2, 0])
    True
    """

    kind = "2pl"
    fixed_n_dims = (1, "2PL has one scalar ability")
    logit_is_linear = True

    def __init__(
        self,
        n_dims: int = 1,
        learning_rate: float = 0.002,
        batch_size: int = 512,
        max_epochs: int = 200,
        patience: int = 10,
        validation_fraction: float = 0.1,
        weight_decay: float = 0.0,
        random_state: int = 0,
        init: str = "random",
    ) -> None:
        self.init = init
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

    # -- the maths -------------------------------------------------------------------------------
    def init_params(self, d_query: int, d_llm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        # d_llm is the number of configurations (one-hot identities, see fit).
        return {
            "w_a": rng.normal(0, 0.1, d_query).astype(np.float32),
            "c_a": np.ones(1, np.float32),
            "w_b": rng.normal(0, 0.1, d_query).astype(np.float32),
            "c_b": np.zeros(1, np.float32),
            "w_theta": np.zeros((d_llm, 1), np.float32),
            "c_theta": np.zeros(1, np.float32),
        }

    def init_from_data(
        self, params: dict[str, np.ndarray], X_queries: np.ndarray, Y: np.ndarray, weights: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """``init="data"``: theta_g = logit of g's mean score; b = ridge fit of theta-bar_q - logit(q's
        mean score) on the embedding."""
        if self.init != "data":
            return params
        observed = ~np.isnan(Y)
        w = np.where(observed, 1.0 if weights is None else weights, 0.0).astype(np.float64)
        y = np.where(observed, Y, 0.0).astype(np.float64)
        # Smoothed means (a pseudo-count each way), so an all-0 or all-1 column or query stays finite.
        theta = _logit(((w * y).sum(axis=0) + 1.0) / (w.sum(axis=0) + 2.0))
        per_query = w.sum(axis=1)
        answered = per_query > 0
        if answered.sum() < 2:
            return params
        w, y, per_query = w[answered], y[answered], per_query[answered]
        # With a = 1, logit P(q, g) = theta_g - b_q: averaged over q's configurations,
        # b_q = mean theta - logit(mean score).
        target = (w @ theta) / per_query - _logit(((w * y).sum(axis=1) + 1.0) / (per_query + 2.0))
        X = np.asarray(X_queries, dtype=np.float64)[answered]
        mean_x, mean_t = X.mean(axis=0), float(target.mean())
        Xc = X - mean_x
        gram = Xc.T @ Xc + INIT_RIDGE * len(X) * np.eye(X.shape[1])
        w_b = np.linalg.solve(gram, Xc.T @ (target - mean_t))
        return {
            **params,
            "w_theta": theta.reshape(-1, 1).astype(np.float32),
            "w_b": w_b.astype(np.float32),
            "c_b": np.array([mean_t - mean_x @ w_b], dtype=np.float32),
        }

    def abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        return X_llms @ params["w_theta"] + params["c_theta"]

    @staticmethod
    def discrimination(ops: ArrayOps, X_queries: Any, params: Params) -> Any:
        return X_queries @ params["w_a"] + params["c_a"]

    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any = None) -> Any:
        return X_queries @ params["w_b"] + params["c_b"]

    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any = None) -> Any:
        a = self.discrimination(ops, X_queries, params)
        b = self.difficulty(ops, X_queries, params)
        return a[:, None] * (theta[:, 0][None, :] - b[:, None])

    def logits_vjp(
        self, X_queries: np.ndarray, X_llms: np.ndarray, params: Params, context: np.ndarray | None = None
    ) -> tuple[np.ndarray, Callable[[np.ndarray], dict[str, np.ndarray]]]:
        a = self.discrimination(NUMPY_OPS, X_queries, params)
        b = self.difficulty(NUMPY_OPS, X_queries, params)
        theta = self.abilities(NUMPY_OPS, X_llms, params)[:, 0]
        gap = theta[None, :] - b[:, None]  # z = a (theta - b)

        def backward(g: np.ndarray) -> dict[str, np.ndarray]:
            g_a = (g * gap).sum(axis=1)
            g_ga = g * a[:, None]  # dz/dtheta = a, dz/db = -a
            g_b, g_theta = -g_ga.sum(axis=1), g_ga.sum(axis=0)
            heads = np.stack([g_a, g_b]) @ X_queries  # both item heads in one product
            return {
                "w_a": heads[0],
                "c_a": g_a.sum(keepdims=True),
                "w_b": heads[1],
                "c_b": g_b.sum(keepdims=True),
                "w_theta": X_llms.T @ g_theta[:, None],
                "c_theta": g_theta.sum(keepdims=True),
            }

        return a[:, None] * gap, backward

    # -- estimator -------------------------------------------------------------------------------
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
    ) -> TwoPLPredictor:
        """Learn item heads and one free ability per column of ``Y``.

        ``X_llms`` (profile embeddings, one row per column of ``Y``) does not enter the abilities;
        it trains the profile map used by :meth:`profile_ability`.
        """
        if self.n_dims != 1:
            raise ConfigError(f"2PL has one scalar ability per configuration: n_dims must be 1, got {self.n_dims}")
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        profiles = np.asarray(X_llms, dtype=np.float32)
        Y = np.asarray(Y, dtype=np.float32)
        if profiles.ndim != 2 or Y.ndim != 2 or len(profiles) != Y.shape[1]:
            # Let the base class word the error on the real inputs.
            self._check_fit_inputs(np.asarray(X_queries, dtype=np.float32), profiles, Y, context)
        identities = np.eye(Y.shape[1], dtype=np.float32)
        super().fit(
            X_queries, identities, Y, llm_ids=llm_ids, context=context, groups=groups, progress=progress,
            weights=weights,
        )  # fmt: skip
        self._fit_profile_map(profiles, self.abilities_[:, 0])
        return self

    def _after_fit(self, X_queries: np.ndarray, context: np.ndarray | None) -> None:
        p = self.params_
        if float(np.mean(self.discrimination(NUMPY_OPS, X_queries, p))) < 0:
            # a (theta - b) == (-a) (-theta - (-b))
            for name in ("w_a", "c_a", "w_b", "c_b", "w_theta", "c_theta"):
                p[name] = -p[name]
        theta = self.abilities(NUMPY_OPS, np.eye(len(p["w_theta"]), dtype=np.float32), p)[:, 0]
        mean = float(theta.mean())
        scale = float(theta.std()) if len(theta) > 1 and theta.std() > 1e-6 else 1.0
        # theta' = (theta - m) / s, b' = (b - m) / s, a' = a s leaves a (theta - b) unchanged.
        p["w_theta"] = p["w_theta"] / scale
        p["c_theta"] = (p["c_theta"] - mean) / scale
        p["w_b"] = p["w_b"] / scale
        p["c_b"] = (p["c_b"] - mean) / scale
        p["w_a"] = p["w_a"] * scale
        p["c_a"] = p["c_a"] * scale
        self.abilities_ = np.asarray(self.abilities(NUMPY_OPS, np.eye(len(theta), dtype=np.float32), p), np.float32)

    def _fit_profile_map(self, X: np.ndarray, theta: np.ndarray) -> None:
        """Ridge regression theta ~ X (intercept unpenalised), strength by leave-one-out error."""
        mean_x, mean_t = X.mean(axis=0), float(theta.mean())
        Xc, tc = (X - mean_x).astype(np.float64), (theta - mean_t).astype(np.float64)
        weights = np.zeros(X.shape[1])
        if len(theta) > 2:
            K = Xc @ Xc.T
            best = (np.inf, np.zeros(len(theta)))
            for lam in RIDGE_GRID:
                inv = np.linalg.inv(K + lam * np.eye(len(K)))
                dual = inv @ tc
                # Closed-form LOO residual of (kernel) ridge: dual_i / inv_ii.
                loo = float(np.mean((dual / np.diag(inv)) ** 2))
                if loo < best[0]:
                    best = (loo, dual)
            weights = Xc.T @ best[1]
        self.params_["profile_w"] = weights.astype(np.float32)
        self.params_["profile_c"] = np.array([mean_t - mean_x @ weights], dtype=np.float32)

    def profile_ability(self, X_llm: np.ndarray) -> np.ndarray:
        """Ability (n, 1) of LLMs from their profile embeddings alone (the ridge map of the module
        docstring)."""
        self._check_fitted()
        X = np.atleast_2d(np.asarray(X_llm, dtype=np.float32))
        return (X @ self.params_["profile_w"] + self.params_["profile_c"])[:, None].astype(np.float32)

    def dimension_names(self, n_dims: int) -> tuple[str, ...]:
        return ("ability",)

    def dimension_weights(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """The scalar a_q, as one column."""
        return self.query_discrimination(X_queries).astype(np.float64).reshape(-1, 1)

    def discrimination_magnitude(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        return self.query_discrimination(X_queries).astype(np.float64)

    def query_discrimination(self, X_queries: np.ndarray) -> np.ndarray:
        """Discrimination a_q (n_queries,)."""
        self._check_fitted()
        Xq = np.atleast_2d(np.asarray(X_queries, dtype=np.float32))
        return np.asarray(self.discrimination(NUMPY_OPS, Xq, self.params_))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))
