"""RADAR's hard budget mode over the routing rules of :mod:`irtrouter.routing.rule`.

RADAR scalarises (predicted performance p, normalised cost c) with a weight ``w`` in [0, 1]: the
``linear`` rule ``argmax w p - (1 - w) c`` (IRT-Router's with ``alpha = w``) or the ``chebyshev``
rule ``argmin max{w (1 - p), (1 - w) c}``; both are :func:`irtrouter.routing.rule.choose` with
``alpha = w`` and ``rule=``, so the tie-breaks are shared.

Hard budget mode
    Maximise expected performance subject to a mean cost per query of at most ``cap``:
    :func:`calibrate_budget` finds, by bisection on reference queries, the largest weight whose
    routing spends at most ``cap`` per query on them. A larger weight buys performance with cost
    (exactly so for the linear form with per-candidate costs; the bisection assumes it), and the
    bisection only ever returns a weight it evaluated and found within the cap, so the cap holds on
    the calibration queries whatever the shape of the curve. On new queries it holds in
    expectation only. A router keeps its reference queries (:class:`BudgetReference`: up to
    2,000 training queries, priced by its cost model) so that ``route(..., budget=)`` needs nothing
    else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.routing.cost import CostModel
from irtrouter.routing.rule import choose, routing_inputs

#: Most training queries a router keeps to calibrate its budget mode on (a seeded sample).
BUDGET_REFERENCE_QUERIES = 2000


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
        return choose(p_hat, cost, self.weight, None, allowed, self.scalarisation)


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
        chosen = choose(p, c, w, None, ok, scalarisation)
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


@dataclass(frozen=True)
class BudgetReference:
    """The queries a router calibrates its budget mode on, priced per LLM.

    Attributes
    ----------
    cost, spend : ndarray (n_queries, n_llms)
        Normalised cost C, and what routing there spends in the budget's unit: expected USD when
        the cost model estimates it, else C itself.
    unit : str
        ``"usd"`` or ``"normalised cost"``.
    rows : ndarray of int, optional
        The queries as rows of the router's training embeddings (the default reference) ...
    X : ndarray (n_queries, dim), optional
        ... or their embeddings (a reference of other queries, :meth:`IRTRouter.set_budget_reference`).
    """

    cost: np.ndarray
    spend: np.ndarray
    unit: str
    rows: np.ndarray | None = None
    X: np.ndarray | None = None

    @classmethod
    def of_queries(
        cls, cost_model: CostModel, queries: Sequence[str], rows: np.ndarray | None = None, X: np.ndarray | None = None
    ) -> BudgetReference:
        cost = cost_model.normalised(list(queries))
        usd = cost_model.expected_usd(list(queries))
        return cls(cost, cost if usd is None else usd, "normalised cost" if usd is None else "usd", rows, X)

    @classmethod
    def of_training(cls, cost_model: CostModel, queries: Sequence[str], seed: int) -> BudgetReference:
        """At most :data:`BUDGET_REFERENCE_QUERIES` of the training ``queries`` (seeded sample)."""
        n = len(queries)
        rows = np.arange(n)
        if n > BUDGET_REFERENCE_QUERIES:
            rows = np.sort(np.random.default_rng(seed).choice(n, BUDGET_REFERENCE_QUERIES, replace=False))
        return cls.of_queries(cost_model, [queries[int(i)] for i in rows], rows=rows)

    def embeddings(self, train_embeddings: np.ndarray) -> np.ndarray:
        """The reference queries' embeddings."""
        if self.X is not None:
            return self.X
        assert self.rows is not None  # one of the two is always set
        return train_embeddings[self.rows]

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"cost": self.cost, "spend": self.spend}
        if self.rows is not None:
            arrays["rows"] = self.rows
        if self.X is not None:
            arrays["X"] = self.X
        return {"unit": self.unit, "n_queries": len(self.cost)}, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> BudgetReference:
        return cls(arrays["cost"], arrays["spend"], str(config["unit"]), arrays.get("rows"), arrays.get("X"))
