"""The routing rule (IRT-Router eq. 1-2, RADAR's scalarisations): one trade-off, two rules.

A trade-off says how much predicted performance ``P`` counts against normalised cost ``C``. It is
written three ways, all converted here and nowhere else (:class:`TradeOff`):

* ``alpha`` (and ``beta``, default ``1 - alpha``): the weights of ``alpha * P - beta * C``. Only
  their ratio matters: they are normalised to sum to 1, so scaling both changes nothing;
* ``preference`` w (LLM Bandit): the weight of cost against quality 1, i.e. ``alpha = 1 / (1 + w)``,
  ``beta = w / (1 + w)``;
* RADAR's weight ``w`` in [0, 1]: the normalised ``alpha``.

Given the normalised ``(alpha, beta)``, a *rule* scores each (query, LLM):

``linear`` (IRT-Router, RADAR's linear scalarisation)
    ``S = alpha * P - beta * C``; the chosen LLM is ``argmax S``.
``chebyshev`` (RADAR)
    ``S = -max{alpha * (1 - P), beta * C}``: minus the weighted L-infinity distance to the ideal
    point (P = 1, C = 0). Unlike the linear rule it can pick points on non-convex parts of the
    cost-performance front.

Ties (scores within 1e-12) are broken deterministically, under every rule: the cheaper LLM, then
the one with the higher P, then the one listed first. Hence an LLM that another beats or matches
on both P and cost, and strictly on one, is never chosen (both scores are monotone in P and C).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irtrouter.errors import ConfigError, UnknownLLMError

TIE_TOLERANCE = 1e-12
RULES: tuple[str, ...] = ("linear", "chebyshev")


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


@dataclass(frozen=True)
class TradeOff:
    """A validated trade-off between performance and cost, in every form callers use.

    Attributes
    ----------
    alpha, beta : float
        The weights of ``alpha * P - beta * C``, normalised to sum to 1.
    preference : float or None
        The cost weight w when the trade-off was given as one (kept exactly: ``beta / alpha`` would
        round-trip it only to the last bit); see :attr:`cost_weight`.

    Examples
    --------
    >>> TradeOff.of(alpha=0.8)
    TradeOff(alpha=0.8, beta=0.19999999999999996, preference=None)
    >>> t = TradeOff.of(preference=1.0)
    >>> t.alpha, t.beta, t.cost_weight
    (0.5, 0.5, 1.0)
    >>> TradeOff.of(alpha=2, beta=2).alpha
    0.5
    """

    alpha: float
    beta: float
    preference: float | None = None

    @classmethod
    def of(cls, alpha: float = 0.8, beta: float | None = None, preference: float | None = None) -> TradeOff:
        """The trade-off of ``preference`` when given (``alpha`` and ``beta`` are then ignored),
        else of ``alpha`` and ``beta`` (default ``1 - alpha``)."""
        if preference is not None:
            if not _is_number(preference) or not math.isfinite(preference) or preference < 0:
                raise ConfigError(f"preference must be a finite number >= 0, got {preference!r}")
            w = float(preference)
            return cls(1.0 / (1.0 + w), w / (1.0 + w), w)
        if beta is None:
            if not (_is_number(alpha) and 0 <= alpha <= 1):
                raise ConfigError(f"alpha must be a number in [0, 1] when beta is not given, got {alpha!r}")
            beta = 1.0 - alpha
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        total = float(alpha) + float(beta)
        if total <= 0:
            raise ConfigError("alpha and beta cannot both be 0")
        return cls(float(alpha) / total, float(beta) / total)

    @property
    def cost_weight(self) -> float:
        """The preference w = beta / alpha (the given one, exactly, when there is one; inf at alpha 0)."""
        if self.preference is not None:
            return self.preference
        return math.inf if self.alpha == 0 else self.beta / self.alpha


def resolve_weights(alpha: float, beta: float | None = None) -> tuple[float, float]:
    """Validated ``(alpha, beta)`` normalised to sum to 1 (:meth:`TradeOff.of` without a preference)."""
    t = TradeOff.of(alpha, beta)
    return t.alpha, t.beta


def check_rule(rule: str, allowed: Sequence[str] = RULES) -> str:
    """``rule`` when it is one of ``allowed``, else a :class:`ConfigError` naming them."""
    if rule not in allowed:
        raise ConfigError(f"unknown routing rule {rule!r}; expected one of {', '.join(allowed)}")
    return rule


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


def rule_scores(p_hat: np.ndarray, cost: np.ndarray, trade_off: TradeOff, rule: str = "linear") -> np.ndarray:
    """Per (query, LLM) score of ``rule`` at ``trade_off`` (higher is better); shapes broadcast."""
    a, b = trade_off.alpha, trade_off.beta
    if check_rule(rule) == "chebyshev":
        return -np.maximum(a * (1.0 - p_hat), b * cost)
    return a * p_hat - b * cost


def choose(
    p_hat: np.ndarray,
    cost: np.ndarray,
    alpha: float | TradeOff,
    beta: float | None = None,
    allowed: np.ndarray | None = None,
    rule: str = "linear",
) -> np.ndarray:
    """Index of the chosen LLM for each query.

    Parameters
    ----------
    p_hat : ndarray (n_queries, n_llms)
    cost : ndarray (n_queries, n_llms) or (n_llms,)
        Normalised cost C.
    alpha, beta : float, or a TradeOff as ``alpha``
        Trade-off weights (``beta`` defaults to ``1 - alpha``).
    allowed : bool ndarray (n_llms,) or (n_queries, n_llms), optional
    rule : {"linear", "chebyshev"}

    Examples
    --------
    >>> choose(np.array([[0.9, 0.8]]), np.array([1.0, 0.1]), alpha=0.5).tolist()
    [1]
    >>> p, c = np.array([[0.5, 0.7, 1.0]]), np.array([0.01, 0.5, 1.0])
    >>> int(choose(p, c, 0.6)[0]), int(choose(p, c, 0.6, rule="chebyshev")[0])
    (0, 1)
    """
    t = alpha if isinstance(alpha, TradeOff) else TradeOff.of(alpha, beta)
    p, c, ok = routing_inputs(p_hat, cost, allowed)
    return best_candidates(rule_scores(p, c, t, rule), p, c, ok)


def routing_inputs(
    p_hat: np.ndarray, cost: np.ndarray, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_hat`` (n_queries, n_llms), ``cost`` and ``allowed`` broadcast to it, as every routing
    rule takes them; an error when a query has no allowed LLM."""
    p = np.atleast_2d(np.asarray(p_hat, dtype=np.float64))
    # Broadcast only what needs it: on one query, np.broadcast_to costs more than the rule itself.
    c = np.asarray(cost, dtype=np.float64)
    if c.shape != p.shape:
        c = np.broadcast_to(c, p.shape)
    ok = np.ones(p.shape, dtype=bool) if allowed is None else np.asarray(allowed)
    if ok.shape != p.shape:
        ok = np.broadcast_to(ok, p.shape)
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
