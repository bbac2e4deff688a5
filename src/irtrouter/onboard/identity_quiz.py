"""Cold start for LLM Bandit: a new LLM's identity vector from 20-50 quiz prompts (Li, 2025, sec. 2.6).

The identity model (:mod:`irtrouter.irt.identity`) and the policy stay frozen. The new LLM answers
a few prompts chosen from a pool (normally the training queries), its answers are binarised with
the model's threshold eta*, and its identity posterior ``q(I) = N(mu, diag sigma^2)`` is fitted by
maximising the ELBO of those answers, ``E_q[log p(y | f(e_x, I))] - KL(q || prior)``, with f frozen
[INF: the digest's reading of the paper]. Adding ``mu`` to the router (:func:`irtrouter.onboard.
newllm.onboard_llm`) is all it takes: the policy scores the newcomer through its identity.

Which prompts ("discriminative" in the paper; the criterion is [UNVERIFIED]):

``variance`` (default)
    The prompts whose predicted success varies most across the LLMs already in the router.
``fisher``
    Greedy D-optimal design at the prior mean: each pick maximises the gain in the determinant of
    the posterior precision, ``p (1 - p) g^T M^-1 g`` with ``g = df/dI`` (f linearised at the prior
    mean, which needs no answer), then ``M += p (1 - p) g g^T``. The selection rule is the one
    :mod:`irtrouter.onboard.quiz` applies to linear IRT items.

Prior: ``standard`` is N(0, I), the identity model's prior; ``pool`` is the trained identities'
mean and covariance (:meth:`~irtrouter.irt.items.AbilityPrior.from_pool`).

Examples
--------
>>> X_pool = router.embed(pool_queries)  # doctest: +SKIP
>>> asked = select_quiz(router, X_pool, n_prompts=30)  # doctest: +SKIP
>>> answers = [score(new_llm(pool_queries[i])) for i in asked]  # doctest: +SKIP
>>> estimate = identity_from_answers(router, X_pool[asked], answers)  # doctest: +SKIP
>>> onboard_llm(router, LLMSpec("new-llm", 0.5, 1.5), ability=estimate.mean)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.identity import IdentityIRTPredictor
from irtrouter.irt.items import AbilityPrior, ItemBank
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.onboard.newllm import ability_prior
from irtrouter.onboard.quiz import item_scores
from irtrouter.routing.router import IRTRouter

QUIZ_METHODS = ("variance", "fisher")


def _identity_predictor(router: IRTRouter) -> IdentityIRTPredictor:
    router._check_fitted()
    if router.predictor_.kind != IdentityIRTPredictor.kind:
        raise ConfigError(
            f"the identity quiz needs a router over identity vectors (PolicyRouter or predictor='identity'), "
            f"not {router.predictor_.kind}"
        )
    return cast(IdentityIRTPredictor, router.predictor_)


def _prior(router: IRTRouter, prior: str | AbilityPrior) -> AbilityPrior:
    return prior if isinstance(prior, AbilityPrior) else ability_prior(router, prior)


def select_quiz(
    router: IRTRouter,
    X_pool: np.ndarray,
    n_prompts: int = 30,
    method: str = "variance",
    prior: str | AbilityPrior = "standard",
) -> np.ndarray:
    """Indices of the ``n_prompts`` pool queries to ask a new LLM, most informative first.

    Parameters
    ----------
    router : IRTRouter
        A fitted router over identity vectors (:class:`~irtrouter.routing.policy.PolicyRouter`).
    X_pool : ndarray (n_pool, d_query)
        Embeddings of the candidate prompts (``router.embed(texts)``).
    n_prompts : int
        How many to ask (the paper: 20 to 50).
    method : {"variance", "fisher"}
        See the module docstring.
    prior : {"standard", "pool"} or AbilityPrior
        ``fisher``: where f is linearised (the prior mean) and the initial precision.
    """
    predictor = _identity_predictor(router)
    X = np.atleast_2d(np.asarray(X_pool, dtype=np.float32))
    if method not in QUIZ_METHODS:
        raise ConfigError(f"unknown quiz method {method!r}; expected one of {', '.join(QUIZ_METHODS)}")
    if isinstance(n_prompts, bool) or not isinstance(n_prompts, int) or not 1 <= n_prompts <= len(X):
        raise ConfigError(f"n_prompts must be an integer in [1, {len(X)}] (the pool size), got {n_prompts!r}")
    trained = len(predictor.params_["pool_mu"])
    if method == "variance":
        spread = predictor.predict_proba(X)[:, :trained].var(axis=1)
        return np.argsort(-spread, kind="stable")[:n_prompts]
    p = _prior(router, prior)
    start = p.mean.astype(np.float32)
    gradient = predictor.identity_gradient(X, start)
    f0 = np.asarray(predictor.logits(NUMPY_OPS, X, start[None], predictor.params_), dtype=np.float64)[:, 0]
    # f linearised at the prior mean: f ~ g . I - (g . I0 - f0), an item of a linear IRT bank.
    bank = ItemBank(gradient, gradient @ start.astype(np.float64) - f0)
    precision = p.precision.copy()
    chosen: list[int] = []
    available = np.ones(len(X), dtype=bool)
    for _ in range(n_prompts):
        gain = np.where(available, item_scores(bank, start, precision, "d-optimal"), -np.inf)
        j = int(np.argmax(gain))
        chosen.append(j)
        available[j] = False
        q = 1.0 / (1.0 + np.exp(-f0[j]))
        precision += q * (1 - q) * np.outer(gradient[j], gradient[j])
    return np.asarray(chosen, dtype=np.int64)


@dataclass(frozen=True)
class IdentityEstimate:
    """The fitted posterior N(mean, diag std^2) of a new LLM's identity.

    Attributes
    ----------
    mean, std : ndarray (d,)
    elbo : float
        The final evidence lower bound (log-likelihood of the answers minus the KL), in nats.
    n_answers : int
    """

    mean: np.ndarray
    std: np.ndarray
    elbo: float
    n_answers: int


def identity_from_answers(
    router: IRTRouter,
    X_quiz: np.ndarray,
    scores: Sequence[float] | np.ndarray,
    prior: str | AbilityPrior = "standard",
    n_samples: int = 16,
    steps: int = 300,
    learning_rate: float = 0.05,
    random_state: int = 0,
) -> IdentityEstimate:
    """Fit a new LLM's identity posterior to its quiz answers, everything else frozen (torch).

    Parameters
    ----------
    router : IRTRouter
        A fitted router over identity vectors.
    X_quiz : ndarray (n, d_query)
        Embeddings of the prompts the new LLM answered.
    scores : sequence of float in [0, 1]
        Its scores, binarised with the model's threshold eta* (as in training).
    prior : {"standard", "pool"} or AbilityPrior
        The KL's prior (module docstring).
    n_samples, steps, learning_rate, random_state :
        Monte Carlo samples of I per step, Adam steps and learning rate, seed [UNVERIFIED].
    """
    predictor = _identity_predictor(router)
    X = np.atleast_2d(np.asarray(X_quiz, dtype=np.float32))
    y = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(y) != len(X):
        raise DataError(f"{len(y)} scores for {len(X)} quiz prompts")
    if len(y) == 0 or not np.isfinite(y).all() or ((y < 0) | (y > 1)).any():
        raise DataError("quiz scores must be a non-empty list of numbers in [0, 1]")
    p = _prior(router, prior)
    from irtrouter.routing.policy.coldstart import fit_identity  # torch: only to fit

    mean, std, elbo = fit_identity(
        predictor,
        X,
        (y > predictor.threshold_).astype(np.float32),
        p.mean,
        p.precision,
        n_samples=n_samples,
        steps=steps,
        learning_rate=learning_rate,
        random_state=random_state,
    )
    return IdentityEstimate(mean=mean, std=std, elbo=elbo, n_answers=len(y))
