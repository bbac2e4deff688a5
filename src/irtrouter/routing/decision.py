"""The routing rule (IRT-Router eq. 1-2) and the decision object it produces.

    S(q, M) = alpha * P(q, M) - beta * C(q, M),    M*(q) = argmax_M S(q, M)

``beta`` defaults to ``1 - alpha`` (the paper's alpha + beta = 1). Only the ratio of alpha to
beta matters: they are normalised to sum to 1 before scoring, so scaling both changes nothing.

Ties (scores within 1e-12) are broken deterministically: the cheaper LLM, then the one with the
higher P, then the one listed first. Hence an LLM that another beats or matches on both P and
cost, and strictly on one, is never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from irtrouter.errors import ConfigError, UnknownLLMError

if TYPE_CHECKING:
    from irtrouter.routing.explanation import Explanation

TIE_TOLERANCE = 1e-12


def resolve_weights(alpha: float, beta: float | None = None) -> tuple[float, float]:
    """Validated ``(alpha, beta)`` normalised to sum to 1."""
    if beta is None:
        if not (isinstance(alpha, int | float) and 0 <= alpha <= 1):
            raise ConfigError(f"alpha must be a number in [0, 1] when beta is not given, got {alpha!r}")
        beta = 1.0 - alpha
    for name, value in (("alpha", alpha), ("beta", beta)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    total = float(alpha) + float(beta)
    if total <= 0:
        raise ConfigError("alpha and beta cannot both be 0")
    return float(alpha) / total, float(beta) / total


def allowed_mask(llm_ids: Sequence[str], allowed: Sequence[str] | None) -> np.ndarray:
    """Boolean mask over ``llm_ids`` of the LLMs a call may use (all when ``allowed`` is None)."""
    if allowed is None:
        return np.ones(len(llm_ids), dtype=bool)
    allowed = list(allowed)
    if not allowed:
        raise ConfigError("allowed_llms is empty: at least one LLM must be allowed")
    known = set(llm_ids)
    for m in allowed:
        if m not in known:
            raise UnknownLLMError(m, tuple(llm_ids), "allowed_llms")
    wanted = set(allowed)
    return np.array([m in wanted for m in llm_ids], dtype=bool)


def choose(
    p_hat: np.ndarray,
    cost: np.ndarray,
    alpha: float,
    beta: float | None = None,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Index of the chosen LLM for each query.

    Parameters
    ----------
    p_hat : ndarray (n_queries, n_llms)
    cost : ndarray (n_queries, n_llms) or (n_llms,)
        Normalised cost C.
    alpha, beta : float
        Trade-off weights (``beta`` defaults to ``1 - alpha``).
    allowed : bool ndarray (n_llms,) or (n_queries, n_llms), optional

    Examples
    --------
    >>> choose(np.array([[0.9, 0.8]]), np.array([1.0, 0.1]), alpha=0.5).tolist()
    [1]
    """
    a, b = resolve_weights(alpha, beta)
    p_hat, cost, ok = routing_inputs(p_hat, cost, allowed)
    return best_candidates(a * p_hat - b * cost, p_hat, cost, ok)


def routing_inputs(
    p_hat: np.ndarray, cost: np.ndarray, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_hat`` (n_queries, n_llms), ``cost`` and ``allowed`` broadcast to it, as every routing
    rule takes them; an error when a query has no allowed LLM."""
    p = np.atleast_2d(np.asarray(p_hat, dtype=np.float64))
    c = np.broadcast_to(np.asarray(cost, dtype=np.float64), p.shape)
    ok = np.ones(p.shape, dtype=bool) if allowed is None else np.broadcast_to(allowed, p.shape)
    if not ok.any(axis=1).all():
        raise ConfigError("no LLM is allowed for at least one query")
    return p, c, ok


def best_candidates(score: np.ndarray, p_hat: np.ndarray, cost: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per query, the allowed LLM of highest ``score``; ties (within ``TIE_TOLERANCE``) go to the
    cheapest, then to the highest ``p_hat``, then to the first."""
    score = np.where(ok, score, -np.inf)
    best = score.max(axis=1, keepdims=True)
    tied = ok & (score >= best - TIE_TOLERANCE)
    cheapest = np.where(tied, cost, np.inf).min(axis=1, keepdims=True)
    tied &= cost <= cheapest
    surest = np.where(tied, p_hat, -np.inf).max(axis=1, keepdims=True)
    tied &= p_hat >= surest
    return tied.argmax(axis=1)


@dataclass(frozen=True)
class RoutingDecision:
    """Where one query goes and why.

    Attributes
    ----------
    llm_id : str
        The chosen LLM.
    query : str
    alpha, beta : float
        The normalised weights used.
    llm_ids : tuple of str
        Every LLM the router knows, in order; ``allowed`` says which this call could use.
    p_hat, cost, score : tuple of float
        Per LLM: predicted performance, normalised cost C, and alpha * P - beta * C.
    cost_usd : tuple of float or None
        Per LLM expected USD for this query, when the cost model estimates it.
    difficulty : float
        The query's difficulty under the router (MIRT: b_q; NIRT: relevance-weighted b_q).
    explanation : Explanation or None
        Why: runner-up and margins, difficulty percentile, the ability dimensions that weigh
        most, a one-line reason (:mod:`irtrouter.routing.explanation`). Set by ``IRTRouter.route``.
    """

    llm_id: str
    query: str
    alpha: float
    beta: float
    llm_ids: tuple[str, ...]
    allowed: tuple[bool, ...]
    p_hat: tuple[float, ...]
    cost: tuple[float, ...]
    score: tuple[float, ...]
    difficulty: float
    cost_usd: tuple[float, ...] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None

    @property
    def index(self) -> int:
        return self.llm_ids.index(self.llm_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json`` and the HTTP ``/v1/route`` body)."""
        llms = []
        for j, m in enumerate(self.llm_ids):
            row: dict[str, Any] = {
                "llm_id": m,
                "allowed": self.allowed[j],
                "p_hat": round(self.p_hat[j], 6),
                "cost": round(self.cost[j], 6),
                "score": round(self.score[j], 6),
            }
            if self.cost_usd is not None:
                row["cost_usd"] = self.cost_usd[j]
            llms.append(row)
        return {
            "llm_id": self.llm_id,
            "alpha": round(self.alpha, 6),
            "beta": round(self.beta, 6),
            "difficulty": round(self.difficulty, 6),
            "llms": llms,
            **({"explanation": self.explanation.to_dict()} if self.explanation is not None else {}),
            **self.extras,
        }
