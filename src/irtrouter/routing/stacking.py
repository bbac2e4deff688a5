"""Stacking: the IRT model's P and the kNN means of several k, combined per LLM on validation queries.

The kNN blend (:mod:`irtrouter.routing.selection`) mixes P with one kNN mean at one weight for
every LLM. The stacked ensemble learns, per LLM ``j``, a logistic regression on the logits of
both, fitted on validation queries the model was not fitted on:

    logit P'(q, j) = b_j + w_j0 * logit P_irt(q, j) + sum_k w_jk * logit P_knn,k(q, j)

with ``k`` over ``STACK_KS`` (those the training set has). It is at once a calibration (the
intercept and the IRT weight are Platt scaling) and a blend whose weights differ per LLM and per
neighbourhood size. Two levels of shrinkage keep it honest on few validation queries: a pooled fit
shared by all LLMs is pulled towards the IRT model alone (``w0 = 1``, the rest 0), and each LLM's
fit is pulled towards the pooled one by a ridge of ``STRENGTH`` pseudo-queries, so an LLM seen on
few validation queries keeps the pooled weights and a well-observed one gets its own. Scores in
[0, 1] count as soft labels. Numpy only at route time: a few logits and a product per query.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> truth = rng.uniform(0.05, 0.95, (600, 2))
>>> y = (rng.random((600, 2)) < truth).astype(float)
>>> p_irt = np.clip(truth + rng.normal(0, 0.25, truth.shape), 0.01, 0.99)   # a noisy model
>>> means = {10: np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)}    # a better kNN
>>> st = fit_stacker(p_irt, means, y)
>>> bool(log_loss(st.predict(p_irt, means), y) < log_loss(p_irt, y))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from irtrouter.irt.calibration import log_loss  # noqa: F401  (the doctest's)

__all__ = ["STACK_KS", "Stacker", "fit_stacker"]

#: Neighbourhood sizes whose kNN means the stack reads (those the training set has).
STACK_KS: tuple[int, ...] = (10, 50, 200)

#: Ridge of each LLM's fit towards the pooled one, and of the pooled fit towards the IRT model
#: alone, in pseudo-queries.
STRENGTH = 20.0

_EPS = 1e-3  # stacked P stays in [_EPS, 1 - _EPS]
_NEWTON_STEPS = 30


def _logit(p: np.ndarray, eps: float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class Stacker:
    """A fitted stack (module docstring): ``coef[j]`` = ``(b_j, w_j0, w_jk...)`` over ``ks``."""

    ks: tuple[int, ...]
    coef: np.ndarray  # (n_llms, 2 + len(ks))

    @property
    def max_k(self) -> int:
        return max(self.ks, default=0)

    def predict(self, p_irt: np.ndarray, means: dict[int, np.ndarray]) -> np.ndarray:
        """Stacked P (n_queries, n_llms) from the model's P and the kNN means of ``ks``."""
        F = _features(p_irt, means, self.ks)  # (n, n_llms, d)
        z = self.coef[None, :, 0] + np.einsum("qjd,jd->qj", F, self.coef[:, 1:])
        return np.clip(_sigmoid(z), _EPS, 1.0 - _EPS)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"ks": list(self.ks), "strength": STRENGTH}, {"coef": self.coef}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Stacker:
        return cls(tuple(int(k) for k in config["ks"]), np.asarray(arrays["coef"], dtype=np.float64))

    def report(self, llm_ids: tuple[str, ...]) -> dict[str, Any]:
        """Per LLM, the intercept and weights (what the training summary prints)."""
        names = ["intercept", "irt", *(f"knn{k}" for k in self.ks)]
        rows = zip(llm_ids, self.coef, strict=True)
        return {m: dict(zip(names, np.round(row, 4).tolist(), strict=True)) for m, row in rows}


def _features(p_irt: np.ndarray, means: dict[int, np.ndarray], ks: tuple[int, ...]) -> np.ndarray:
    """Logits of P_irt and of each kNN mean, shape (n, n_llms, 1 + len(ks)); a kNN mean of k
    neighbours is kept 1/(2k) from 0 and 1 (k observations cannot say "never")."""
    cols = [_logit(p_irt, 1e-3)] + [_logit(means[k], 0.5 / k) for k in ks]
    return np.stack(cols, axis=-1)


def _newton(F: np.ndarray, y: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """argmin of sum BCE(sigmoid(F1 @ c), y) + strength / 2 * |c - prior|^2, F1 = [1, F]."""
    X = np.column_stack([np.ones(len(F)), F])
    c = prior.copy()
    eye = strength * np.eye(X.shape[1])

    def loss(c: np.ndarray) -> float:
        z = X @ c
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * strength * np.sum((c - prior) ** 2))

    current = loss(c)
    for _ in range(_NEWTON_STEPS):
        p = _sigmoid(X @ c)
        grad = X.T @ (p - y) + strength * (c - prior)
        hess = (X * (p * (1.0 - p))[:, None]).T @ X + eye
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-4:  # backtracking: the objective is convex, a full step can still overshoot
            trial = c - t * step
            new = loss(trial)
            if new <= current:
                break
            t *= 0.5
        else:
            break
        c, previous, current = trial, current, new
        if previous - current < 1e-9 * max(1.0, abs(current)):
            break
    return c


def fit_stacker(
    p_irt: np.ndarray, means: dict[int, np.ndarray], Y: np.ndarray, ks: tuple[int, ...] = STACK_KS
) -> Stacker:
    """Fit the stack on validation predictions ``p_irt``, kNN ``means`` (k -> (n, n_llms)) and
    realised scores ``Y`` (NaN = unobserved); ``ks`` not in ``means`` are left out."""
    used = tuple(k for k in ks if k in means)
    F = _features(p_irt, means, used)
    Y = np.asarray(Y, dtype=np.float64)
    seen = ~np.isnan(Y)
    identity = np.zeros(2 + len(used))
    identity[1] = 1.0  # b = 0, w_irt = 1: the IRT model alone
    pooled = _newton(F[seen], Y[seen], identity, STRENGTH) if seen.any() else identity
    coef = np.empty((Y.shape[1], len(identity)))
    for j in range(Y.shape[1]):
        rows = seen[:, j]
        coef[j] = _newton(F[rows, j], Y[rows, j], pooled, STRENGTH) if rows.any() else pooled
    return Stacker(used, coef)
