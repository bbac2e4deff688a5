"""RADAR's scalarisations of (predicted performance, cost) and its hard budget mode.

For a query q, each candidate g (an LLM or a configuration) has a predicted performance
``p = P(q, g)`` and a normalised cost ``c`` (the router's cost model; ``configuration`` is RADAR's
price x mean output tokens, in [0, 1]). A weight ``w`` in [0, 1] says how much performance counts:

``linear``
    ``argmax_g  w * p - (1 - w) * c``: IRT-Router's rule with ``alpha = w`` (the same function,
    :func:`irtrouter.routing.decision.choose`, so the tie-breaks are shared).
``chebyshev``
    ``argmin_g  max{w * (1 - p), (1 - w) * c}``: the weighted L-infinity distance to the ideal
    point (p = 1, c = 0). Unlike the linear form it can pick points on non-convex parts of the
    cost-performance front. Ties (within 1e-12) go to the cheaper candidate, then the surer one,
    then the one listed first.

Hard budget mode
    Maximise expected performance subject to a mean cost per query of at most ``cap``:
    :func:`calibrate_budget` finds, by bisection on validation queries, the largest weight whose
    routing spends at most ``cap`` per query on them. A larger weight buys performance with cost
    (exactly so for the linear form with per-candidate costs; the bisection assumes it), and the
    bisection only ever returns a weight it evaluated and found within the cap, so the cap holds on
    the calibration queries whatever the shape of the curve. On new queries it holds in
    expectation only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.routing.decision import allowed_mask, best_candidates, choose, routing_inputs

if TYPE_CHECKING:
    from irtrouter.routing.router import Prediction

Scalarisation = Literal["linear", "chebyshev"]
SCALARISATIONS: tuple[str, ...] = ("linear", "chebyshev")


def _check_weight(weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise ConfigError(f"the scalarisation weight must be a number in [0, 1], got {weight!r}")
    return float(weight)


def chebyshev_choice(
    p_hat: np.ndarray, cost: np.ndarray, weight: float, allowed: np.ndarray | None = None
) -> np.ndarray:
    """Index per query of ``argmin max{w (1 - p), (1 - w) c}``.

    Examples
    --------
    >>> p, c = np.array([[0.5, 0.8, 0.95]]), np.array([0.05, 0.4, 1.0])
    >>> [int(chebyshev_choice(p, c, w)[0]) for w in (0.2, 0.6, 0.95)]
    [0, 1, 2]
    """
    w = _check_weight(weight)
    p, c, ok = routing_inputs(p_hat, cost, allowed)
    return best_candidates(-np.maximum(w * (1.0 - p), (1.0 - w) * c), p, c, ok)


def scalarised_choice(
    p_hat: np.ndarray,
    cost: np.ndarray,
    weight: float,
    scalarisation: str = "linear",
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Index per query of the candidate chosen by ``scalarisation`` at ``weight``.

    Parameters
    ----------
    p_hat : ndarray (n_queries, n_llms)
        Predicted performance.
    cost : ndarray (n_queries, n_llms) or (n_llms,)
        Normalised cost.
    weight : float in [0, 1]
        Weight of performance (0: cheapest, 1: best predicted).
    scalarisation : {"linear", "chebyshev"}
    allowed : bool ndarray (n_llms,) or (n_queries, n_llms), optional

    Examples
    --------
    The middle candidate lies below the line joining the other two (a non-convex part of the
    front): no linear weight picks it, Chebyshev does.

    >>> p, c = np.array([[0.5, 0.7, 1.0]]), np.array([0.01, 0.5, 1.0])
    >>> int(scalarised_choice(p, c, 0.6, "linear")[0]), int(scalarised_choice(p, c, 0.6, "chebyshev")[0])
    (0, 1)
    """
    if scalarisation == "linear":
        return choose(p_hat, cost, _check_weight(weight), None, allowed)
    if scalarisation == "chebyshev":
        return chebyshev_choice(p_hat, cost, weight, allowed)
    raise ConfigError(f"unknown scalarisation {scalarisation!r}; expected one of {', '.join(SCALARISATIONS)}")


def choose_scalarised(
    prediction: Prediction,
    weight: float,
    scalarisation: str = "linear",
    allowed_llms: Sequence[str] | None = None,
) -> np.ndarray:
    """:func:`scalarised_choice` over a router's :class:`~irtrouter.routing.router.Prediction`."""
    mask = allowed_mask(prediction.llm_ids, allowed_llms)
    return scalarised_choice(prediction.p_hat, prediction.cost, weight, scalarisation, mask)


@dataclass(frozen=True)
class BudgetCalibration:
    """A scalarisation weight chosen to respect a mean cost per query.

    Attributes
    ----------
    scalarisation : str
    cap : float
        Most mean cost per query allowed (in the unit of the ``spend`` it was calibrated with).
    weight : float
        The largest weight found whose routing stays within ``cap`` on the calibration queries.
    mean_cost : float
        Mean spend per query at ``weight`` on the calibration queries (<= ``cap``).
    expected_performance : float
        Mean predicted performance of the chosen candidates there.
    n_queries, evaluations : int
        Calibration queries, and weights tried.
    """

    scalarisation: str
    cap: float
    weight: float
    mean_cost: float
    expected_performance: float
    n_queries: int
    evaluations: int

    def choose(self, p_hat: np.ndarray, cost: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """Route new queries at the calibrated weight."""
        return scalarised_choice(p_hat, cost, self.weight, self.scalarisation, allowed)


def calibrate_budget(
    p_hat: np.ndarray,
    cost: np.ndarray,
    cap: float,
    scalarisation: str = "linear",
    spend: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    tolerance: float = 1e-4,
) -> BudgetCalibration:
    """Largest weight whose routing of these (validation) queries costs at most ``cap`` per query.

    Parameters
    ----------
    p_hat, cost : ndarray (n_queries, n_llms)
        The router's predictions for the calibration queries (never the test queries).
    cap : float
        Most mean spend per query.
    scalarisation : {"linear", "chebyshev"}
    spend : ndarray (n_queries, n_llms), optional
        What routing query i to candidate j costs in the cap's unit: realised USD on validation
        data, or the router's expected USD (``Prediction.cost_usd``). Default: ``cost`` itself.
    allowed : bool ndarray, optional
    tolerance : float
        Bisection stops when the feasible and infeasible weights are this close.

    Raises
    ------
    ConfigError
        When even the cheapest routing (weight 0) spends more than ``cap``.

    Examples
    --------
    >>> p = np.array([[0.3, 0.9], [0.6, 0.7]])
    >>> cal = calibrate_budget(p, np.array([0.1, 1.0]), cap=0.55)
    >>> cal.mean_cost <= 0.55, cal.choose(p, np.array([0.1, 1.0])).tolist()
    (True, [1, 0])
    """
    if isinstance(cap, bool) or not isinstance(cap, int | float) or not np.isfinite(cap) or cap < 0:
        raise ConfigError(f"the budget cap must be a finite number >= 0, got {cap!r}")
    if not 0 < tolerance < 1:
        raise ConfigError(f"tolerance must be in (0, 1), got {tolerance}")
    p, c, ok = routing_inputs(p_hat, cost, allowed)
    s = c if spend is None else np.asarray(spend, dtype=np.float64)
    if s.shape != p.shape:
        raise ConfigError(f"spend has shape {s.shape}, expected {p.shape}")
    rows = np.arange(len(p))
    evaluations = 0

    def evaluate(w: float) -> tuple[float, float]:
        nonlocal evaluations
        evaluations += 1
        chosen = scalarised_choice(p, c, w, scalarisation, ok)
        return float(s[rows, chosen].mean()), float(p[rows, chosen].mean())

    def result(w: float, spent: float, perf: float) -> BudgetCalibration:
        return BudgetCalibration(scalarisation, float(cap), w, spent, perf, len(p), evaluations)

    top = evaluate(1.0)
    if top[0] <= cap:
        return result(1.0, *top)
    low = evaluate(0.0)
    if low[0] > cap:
        raise ConfigError(
            f"budget cap {cap:g} per query is below what the cheapest routing spends on the calibration "
            f"queries ({low[0]:g} per query)"
        )
    lo, hi, best = 0.0, 1.0, low
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        spent, perf = evaluate(mid)
        if spent <= cap:
            lo, best = mid, (spent, perf)
        else:
            hi = mid
    return result(lo, *best)
