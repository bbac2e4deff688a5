"""Cold-start identities for LLM Bandit: an identity posterior from a few answers (torch).

:func:`fit_identity` is the quiz's ELBO fit (everything but the new identity frozen), used by
:func:`irtrouter.onboard.identity_quiz.identity_from_answers` at onboarding and by the policy's
training (:mod:`irtrouter.routing.policy.training`) to show the policy what a quizzed identity
looks like (:func:`quizzed_identities`, setting ``cold_start_rate``).

Why the policy needs to see them (issue 12, item 7): an identity fitted from 20-50 answers is
shrunk towards the prior mean, far more than one fitted from every training answer (zeroeval,
seed 0: norms 1.3-2.3 against 2.5-5.7), and the policy's logit ``I_k . h`` is then small for the
newcomer, whatever its predicted success and cost: trained only on well-observed identities, the
policy sent 0-1.4% of the queries to a cheap quizzed newcomer (docs/BENCHMARKS.md). Measured there:
these samples alone make it worse; with the own-score head (``own_score``) they help at alpha 0.5
and not at 0.8, so both are off by default. :func:`quizzed_identities` re-fits each *trained*
LLM's identity from a quiz of its own recorded answers, the way a newcomer's is fitted, so PPO can
learn to read such identities with the rewards of the LLM they stand for.
"""

from __future__ import annotations

import numpy as np
import torch

from irtrouter.irt.identity import IdentityIRTPredictor
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.torch_ops import TORCH_OPS, single_thread


def fit_identity(
    predictor: IdentityIRTPredictor,
    X: np.ndarray,
    labels: np.ndarray,
    prior_mean: np.ndarray,
    prior_precision: np.ndarray,
    n_samples: int = 16,
    steps: int = 300,
    learning_rate: float = 0.05,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(mean, std, elbo)`` of ``q(I) = N(mean, diag std^2)`` maximising the ELBO of 0/1 ``labels``
    on embedded queries ``X`` under the prior with that mean and precision (inverse covariance), ``f``
    frozen.

    Examples
    --------
    >>> mean, std, elbo = fit_identity(predictor, X_quiz, y_quiz, np.zeros(16), np.eye(16))  # doctest: +SKIP
    """
    with single_thread():
        torch.manual_seed(random_state)
        params = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in predictor.params_.items()}
        X_t = torch.from_numpy(np.asarray(X, dtype=np.float32))
        y = torch.from_numpy(np.asarray(labels, dtype=np.float32).reshape(-1))[:, None]
        m0 = torch.from_numpy(np.asarray(prior_mean, dtype=np.float32))
        P0 = torch.from_numpy(np.asarray(prior_precision, dtype=np.float32))
        logdet0 = -float(np.linalg.slogdet(np.asarray(prior_precision, dtype=np.float64))[1])
        mu = torch.nn.Parameter(m0.clone())
        rho = torch.nn.Parameter(torch.full_like(m0, -2.0))  # sigma = softplus(-2) = 0.13 to start
        optimiser = torch.optim.Adam([mu, rho], lr=learning_rate)

        def negative_elbo() -> torch.Tensor:
            sigma = torch.nn.functional.softplus(rho)
            sample = mu + sigma * torch.randn(n_samples, len(mu))
            logits = predictor.logits(TORCH_OPS, X_t, sample, params)  # (n_answers, n_samples)
            nll = (
                torch.nn.functional.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="sum")
                / n_samples
            )
            diff = mu - m0
            kl = 0.5 * (
                (torch.diagonal(P0) * sigma**2).sum()
                + diff @ P0 @ diff
                - len(mu)
                + logdet0
                - 2 * torch.log(sigma).sum()
            )
            return nll + kl

        for _ in range(steps):
            optimiser.zero_grad()
            loss = negative_elbo()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            final = float(np.mean([float(negative_elbo()) for _ in range(8)]))
    mean = mu.detach().numpy().astype(np.float32)
    std = torch.nn.functional.softplus(rho).detach().numpy().astype(np.float32)
    return mean, std, -final


def quizzed_identities(
    predictor: IdentityIRTPredictor,
    X: np.ndarray,
    scores: np.ndarray,
    n_prompts: int,
    random_state: int = 0,
) -> np.ndarray:
    """Each trained LLM's identity (n_llms, d) re-fitted from ``n_prompts`` of its own answers.

    The prompts are the onboarding quiz's default (:func:`~irtrouter.onboard.identity_quiz.
    select_quiz`, ``variance``): the queries of ``X`` (embedded training queries) whose predicted
    success varies most across the trained LLMs, among those the LLM has a score for; the prior is
    the identity model's N(0, I), the quiz's default too. ``scores`` (n_queries, n_llms) may hold NaN.
    """
    X = np.asarray(X, dtype=np.float32)
    spread = predictor.predict_proba(X).var(axis=1)
    order = np.argsort(-spread, kind="stable")
    d = predictor.abilities_.shape[1]
    out = np.zeros((scores.shape[1], d), dtype=np.float32)
    for k in range(scores.shape[1]):
        asked = order[~np.isnan(scores[order, k])][:n_prompts]
        labels = (scores[asked, k] > predictor.threshold_).astype(np.float32)
        out[k] = fit_identity(predictor, X[asked], labels, np.zeros(d), np.eye(d), random_state=random_state + k)[0]
    return out


def identity_p_hat(predictor: IdentityIRTPredictor, X: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """Predicted success (n_queries, n_identities) of identities that are not the predictor's own."""
    logits = predictor.logits(NUMPY_OPS, np.asarray(X, dtype=np.float32), identities, predictor.params_)
    return np.asarray(NUMPY_OPS.sigmoid(np.asarray(logits, dtype=np.float64)), dtype=np.float32)
