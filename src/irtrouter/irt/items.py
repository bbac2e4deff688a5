"""Items with the query side frozen: their loadings, the prior on an ability, and what answers say.

For the predictors whose logit is linear in the ability (2PL and MIRT), a trained model's query
side makes every query an *item* with a fixed loading vector and intercept,

    logit P(q, LLM) = a_q . theta - d_q          (2PL: a_q = [a], d_q = a b; MIRT: d_q = b_q)

(:class:`ItemBank`), so what is known about one LLM's ability is a Gaussian posterior: a prior
(:class:`AbilityPrior`) times a logistic likelihood per answered item. The adaptive quiz
(:mod:`irtrouter.onboard.quiz`) and learning from feedback (:mod:`irtrouter.online.learn`) estimate
a newcomer's or a changed LLM's ability so; :func:`ability_posterior` gives each *trained* LLM's
posterior precision from its own training answers (the Laplace approximation at the trained
ability), which says how well the answers pin it down (:mod:`irtrouter.explain.abilities`) and,
carried to P (:func:`p_standard_deviation`), how sure a prediction is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irtrouter.errors import ConfigError, DataError, NotFittedError
from irtrouter.irt.base import IRTPredictor
from irtrouter.irt.ops import NUMPY_OPS


@dataclass(frozen=True)
class ItemBank:
    """Frozen query-side parameters: ``logit = A @ theta - d`` for each query of a pool.

    Attributes
    ----------
    A : ndarray (n_items, n_dims)
        Loadings (discrimination vectors).
    d : ndarray (n_items,)
        Intercepts.
    query_ids : tuple of str or None

    Examples
    --------
    >>> bank = ItemBank(np.array([[1.0], [2.0]]), np.array([0.0, 1.0]))
    >>> bank.logits(np.array([0.5])).tolist()
    [0.5, 0.0]
    """

    A: np.ndarray
    d: np.ndarray
    query_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.A.ndim != 2 or self.d.shape != (len(self.A),):
            raise DataError(f"item bank needs A (n, K) and d (n,), got {self.A.shape} and {self.d.shape}")
        if not (np.isfinite(self.A).all() and np.isfinite(self.d).all()):
            raise DataError("item parameters contain NaN or infinity")
        if self.query_ids is not None and len(self.query_ids) != len(self.A):
            raise DataError(f"{len(self.query_ids)} query ids for {len(self.A)} items")

    @property
    def n_items(self) -> int:
        return len(self.A)

    @property
    def n_dims(self) -> int:
        return int(self.A.shape[1])

    def logits(self, theta: np.ndarray) -> np.ndarray:
        return self.A @ np.asarray(theta, dtype=np.float64) - self.d

    def take(self, rows: Sequence[int] | np.ndarray) -> ItemBank:
        idx = np.asarray(rows, dtype=np.int64)
        ids = None if self.query_ids is None else tuple(self.query_ids[i] for i in idx)
        return ItemBank(self.A[idx], self.d[idx], ids)

    @classmethod
    def from_predictor(
        cls, predictor: IRTPredictor, X_queries: np.ndarray, query_ids: Sequence[str] | None = None
    ) -> ItemBank:
        """Read the items off a fitted predictor whose logit is linear in the ability.

        The loadings are the logit's differences along each ability axis, so this works for any
        such predictor without knowing its parameter names; a predictor that is not linear in the
        ability (NIRT) is refused.

        Raises
        ------
        ConfigError
            When the predictor's logit is not of the form ``a . theta - d``.
        """
        if not hasattr(predictor, "params_"):
            raise NotFittedError("the predictor is not fitted")
        X = np.atleast_2d(np.asarray(X_queries, dtype=np.float32))
        k = predictor.abilities_.shape[1]
        probe = np.vstack([np.zeros((1, k)), np.eye(k)]).astype(np.float32)
        rng = np.random.default_rng(0)
        check = rng.normal(0, 1, (2, k)).astype(np.float32)
        context = None
        if predictor.requires_context:
            context = np.zeros((len(X), k), dtype=np.float32)
        logits = np.asarray(
            predictor.logits(NUMPY_OPS, X, np.vstack([probe, check]), predictor.params_, context), np.float64
        )
        d = -logits[:, 0]
        A = logits[:, 1 : k + 1] + d[:, None]
        expected = check.astype(np.float64) @ A.T - d[None, :]
        if not np.allclose(expected.T, logits[:, k + 1 :], rtol=1e-3, atol=1e-3):
            raise ConfigError(
                f"an adaptive quiz needs a predictor whose logit is linear in the ability (2pl, mirt); "
                f"{predictor.kind} is not"
            )
        return cls(A, d, None if query_ids is None else tuple(query_ids))


@dataclass(frozen=True)
class AbilityPrior:
    """Gaussian prior N(mean, covariance) on a new LLM's ability.

    Examples
    --------
    >>> AbilityPrior.standard(2).covariance.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    mean: np.ndarray
    covariance: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.mean)
        if self.covariance.shape != (k, k):
            raise ConfigError(f"prior covariance has shape {self.covariance.shape}, expected {(k, k)}")
        if np.linalg.eigvalsh(self.covariance).min() <= 0:
            raise ConfigError("prior covariance must be positive definite")

    @property
    def precision(self) -> np.ndarray:
        return np.linalg.inv(self.covariance)

    @classmethod
    def standard(cls, n_dims: int) -> AbilityPrior:
        """N(0, I), RADAR's prior. For the 2PL, whose trained abilities are standardised, it is also
        the distribution of the pool."""
        return cls(np.zeros(n_dims), np.eye(n_dims))

    @classmethod
    def from_pool(cls, abilities: np.ndarray, shrinkage: float = 0.1) -> AbilityPrior:
        """N(mean, S + shrinkage * tr(S)/K * I) of the trained LLMs' abilities (S: their covariance).

        An empirical-Bayes alternative for MIRT, whose ability axes have no common scale: a new
        LLM is assumed to resemble the pool. The ridge keeps it proper when the pool has fewer LLMs
        than dimensions.
        """
        theta = np.atleast_2d(np.asarray(abilities, dtype=np.float64))
        k = theta.shape[1]
        if len(theta) < 2:
            return cls(theta.mean(axis=0), np.eye(k))
        cov = np.cov(theta, rowvar=False, bias=True).reshape(k, k)
        ridge = shrinkage * max(float(np.trace(cov)) / k, 1e-6)
        return cls(theta.mean(axis=0), cov + ridge * np.eye(k))


def ability_posterior(
    predictor: IRTPredictor,
    X_queries: np.ndarray,
    scores: np.ndarray,
    prior: AbilityPrior | None = None,
    bank: ItemBank | None = None,
) -> np.ndarray:
    """Each trained LLM's posterior precision (n_llms, K, K) of its ability given its own training
    answers, the query side held at its fit (the Laplace approximation at the trained ability, as
    :func:`map_ability` gives a newcomer's): ``P0 + sum_q p (1 - p) a_q a_q^T`` over the queries the
    LLM answered (``scores`` NaN where it did not), ``P0`` the pool's prior (default
    :meth:`AbilityPrior.from_pool`); ``bank``: the queries' items when the caller has them already.
    For MIRT, whose abilities are a map of the profiles, it is the posterior of an ability freed
    from the map; it says how well the answers pin each LLM down.

    Examples
    --------
    >>> precision = ability_posterior(router.predictor_, X_train, Y_train)  # doctest: +SKIP
    >>> np.sqrt(np.diagonal(np.linalg.inv(precision), axis1=1, axis2=2))  # standard errors  # doctest: +SKIP
    """
    bank = ItemBank.from_predictor(predictor, X_queries) if bank is None else bank
    theta = np.asarray(predictor.abilities_, dtype=np.float64)
    Y = np.asarray(scores, dtype=np.float64)
    if Y.shape != (bank.n_items, len(theta)):
        raise DataError(f"scores have shape {Y.shape}, expected {(bank.n_items, len(theta))}")
    P0 = (prior or AbilityPrior.from_pool(theta)).precision
    p = NUMPY_OPS.sigmoid(bank.A @ theta.T - bank.d[:, None])  # (n_items, n_llms)
    w = np.where(np.isnan(Y), 0.0, p * (1 - p))
    return np.einsum("qj,qk,ql->jkl", w, bank.A, bank.A) + P0[None]


def p_standard_deviation(predictor: IRTPredictor, features: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Per query and LLM, the standard deviation of P that the abilities' posterior
    (:func:`ability_posterior`) implies, by the delta method: ``p (1 - p) sqrt(a_q^T S_j a_q)``
    with ``S_j`` the inverse of LLM ``j``'s precision; ``features``: the queries as the predictor
    reads them (after the warm-up). A spread for the guard (``Guard.apply(sd=)``)."""
    bank = ItemBank.from_predictor(predictor, features)
    theta = np.asarray(predictor.abilities_, dtype=np.float64)
    p = NUMPY_OPS.sigmoid(bank.A @ theta.T - bank.d[:, None])
    covariance = np.linalg.inv(precision)
    variance = np.einsum("qk,jkl,ql->qj", bank.A, covariance, bank.A)
    return p * (1 - p) * np.sqrt(np.maximum(variance, 0.0))
