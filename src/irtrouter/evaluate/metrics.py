"""Routing metrics of the IRT-Router paper (section 5.4): Performance, Total Cost, Reward.

Performance
    Mean realised score of the chosen LLM over the test queries.
Total Cost
    Sum of the chosen LLMs' USD costs (eq. 11). Real per-query costs where the data has them,
    else tokens x prices where it has tokens, else *modelled*: estimated input tokens x input
    price + output tokens x output price, the output tokens each answer's own where the data has
    them (zeroeval: answer lengths) and ``assumed_output_tokens`` where it has none;
    :func:`realised_costs` says which.
Reward (eq. 12, reported x 100)
    ``alpha * Performance - beta * Total Cost / cost_scale``, where ``cost_scale`` is the largest
    Total Cost of any single-LLM router on the same queries.

A router may be stochastic: :func:`outcome` takes a routing distribution (n_queries, n_llms)
whose rows sum to 1, so the Random router's *expected* figures are exact rather than one draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.data.tokens import estimate_tokens
from irtrouter.errors import DataError
from irtrouter.routing.rule import choose

CostKind = Literal["real", "tokens", "modelled"]
ASSUMED_OUTPUT_TOKENS = 256


@dataclass(frozen=True)
class Outcome:
    """What a routing policy achieved on a set of queries."""

    performance: float
    total_cost: float

    def reward(self, alpha: float, beta: float, cost_scale: float) -> float:
        """Eq. 12 x 100."""
        return 100.0 * (alpha * self.performance - beta * self.total_cost / cost_scale)


def realised_costs(
    results: ResultsMatrix, catalog: LLMCatalog, assumed_output_tokens: int = ASSUMED_OUTPUT_TOKENS
) -> tuple[np.ndarray, CostKind]:
    """USD cost of every (query, LLM) cell of ``results`` and how it was obtained."""
    in_price = np.array([catalog[m].input_price for m in results.llm_ids]) / 1e6
    out_price = np.array([catalog[m].output_price for m in results.llm_ids]) / 1e6
    real = _filled(results, results.cost_usd)
    if real is not None:
        return real, "real"
    if results.input_tokens is not None and results.output_tokens is not None:
        cells = _filled(results, results.input_tokens * in_price + results.output_tokens * out_price)
        if cells is not None:
            return cells, "tokens"
    tokens_in = np.array([estimate_tokens(q) for q in results.queries], dtype=np.float64)[:, None]
    answers = _filled(results, results.output_tokens)  # each answer's own length (zeroeval)
    tokens_out = assumed_output_tokens if answers is None else answers
    return tokens_in * in_price + tokens_out * out_price, "modelled"


def _filled(results: ResultsMatrix, cells: np.ndarray | None) -> np.ndarray | None:
    """``cells`` with unobserved ones as 0 when they have a value in every observed (query, LLM)
    cell of ``results``; else None."""
    if cells is None or np.isnan(cells[results.observed]).any():
        return None
    return np.nan_to_num(cells, nan=0.0)


def outcome(scores: np.ndarray, costs: np.ndarray, routing: np.ndarray) -> Outcome:
    """Performance and Total Cost of a routing policy.

    Parameters
    ----------
    scores, costs : ndarray (n_queries, n_llms)
        Realised scores (no NaN: evaluate on :meth:`ResultsMatrix.complete`) and USD costs.
    routing : ndarray
        Either chosen indices (n_queries,) or a distribution (n_queries, n_llms).
    """
    if np.isnan(scores).any():
        raise DataError("scores contain unobserved cells: evaluate on results.complete()")
    routing = np.asarray(routing)
    if routing.ndim == 1:
        probs = np.zeros_like(scores, dtype=np.float64)
        probs[np.arange(len(routing)), routing.astype(np.int64)] = 1.0
    else:
        probs = routing.astype(np.float64)
    return Outcome(
        performance=float((probs * scores).sum(axis=1).mean()),
        total_cost=float((probs * costs).sum()),
    )


def single_llm_cost_scale(costs: np.ndarray) -> float:
    """The Reward's cost scale: the largest Total Cost of routing everything to one LLM."""
    scale = float(costs.sum(axis=0).max())
    return scale if scale > 0 else 1.0


def reward_contributions(
    scores: np.ndarray, costs: np.ndarray, alpha: float, beta: float, cost_scale: float
) -> np.ndarray:
    """Each (query, LLM) cell's share of the Reward: routing query q to LLM m adds cell (q, m).

    ``100 * (alpha * score / n_queries - beta * cost / cost_scale)``, so the Reward of a routing is
    the sum of the chosen cells (exactly :meth:`Outcome.reward`). It ranks the LLMs per query for
    the reward-optimal oracle and top-k routing accuracy.

    Examples
    --------
    >>> reward_contributions(np.array([[1.0, 0.0]]), np.array([[2.0, 1.0]]), 0.8, 0.2, 4.0).round(2).tolist()
    [[70.0, -5.0]]
    """
    n = max(len(scores), 1)
    return 100.0 * (
        alpha * np.asarray(scores, dtype=np.float64) / n - beta * np.asarray(costs, dtype=np.float64) / cost_scale
    )


def reward_oracle(scores: np.ndarray, costs: np.ndarray, alpha: float, beta: float, cost_scale: float) -> np.ndarray:
    """Each query to the LLM adding most to the Reward (cheapest among ties): the Reward's upper limit.

    The Reward is a sum over queries (:func:`reward_contributions`), so choosing the best cell of
    each row maximises it exactly.

    Examples
    --------
    >>> reward_oracle(np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[2.0, 1.0], [1.0, 1.5]]), 0.8, 0.2, 3.0).tolist()
    [1, 1]
    """
    return choose(reward_contributions(scores, costs, alpha, beta, cost_scale), costs, alpha=1.0)


def top_k_accuracy(routing: np.ndarray, utility: np.ndarray, k: int) -> float:
    """Share of queries routed to one of their ``k`` best LLMs by ``utility`` (IRT-Router Table 3).

    LLMs tied with the k-th best count as top-k. ``routing`` is chosen indices or a distribution.

    Examples
    --------
    >>> u = np.array([[3.0, 2.0, 1.0], [1.0, 1.0, 5.0]])
    >>> top_k_accuracy(np.array([1, 0]), u, k=1), top_k_accuracy(np.array([1, 0]), u, k=2)
    (0.0, 1.0)
    """
    if k < 1:
        raise DataError(f"k must be >= 1, got {k}")
    u = np.asarray(utility, dtype=np.float64)
    kth = -np.sort(-u, axis=1)[:, min(k, u.shape[1]) - 1 : min(k, u.shape[1])]
    hit = u >= kth - 1e-12
    routing = np.asarray(routing)
    if routing.ndim == 1:
        return float(hit[np.arange(len(u)), routing.astype(np.int64)].mean())
    return float((routing * hit).sum(axis=1).mean())


def gap_closed(value: float, best_single: float, oracle: float, min_gap: float = 1e-12) -> float:
    """Share of the gap from the best single LLM to the oracle that ``value`` closes.

    Negative when the router does worse than the best single LLM; NaN when the gap is below
    ``min_gap`` (a share of almost nothing says nothing).

    Examples
    --------
    >>> gap_closed(45.0, best_single=40.0, oracle=60.0)
    0.25
    """
    gap = oracle - best_single
    return float((value - best_single) / gap) if gap > max(min_gap, 1e-12) else float("nan")


def query_rewards(contributions: np.ndarray, routing: np.ndarray) -> np.ndarray:
    """Each query's share of a routing's Reward (n_queries,): the chosen cell of
    :func:`reward_contributions`, or its expectation under a routing distribution. They sum to the Reward."""
    routing = np.asarray(routing)
    if routing.ndim == 1:
        return contributions[np.arange(len(contributions)), routing.astype(np.int64)]
    return (routing.astype(np.float64) * contributions).sum(axis=1)


def paired_bootstrap(
    differences: np.ndarray, n_boot: int = 2000, confidence: float = 0.95, random_state: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``differences.sum()`` over queries resampled with replacement.

    ``differences`` holds, per test query, one routing's share of the Reward minus another's
    (:func:`query_rewards`) on the *same* queries, so the interval is paired: the queries' own
    difficulty cancels. The cost scale of the Reward is held fixed. Seeded: the same inputs give
    the same interval.

    Examples
    --------
    >>> low, high = paired_bootstrap(np.full(50, 0.1))
    >>> round(low, 6), round(high, 6)
    (5.0, 5.0)
    """
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise DataError(f"n_boot must be >= 1, got {n_boot}")
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or len(d) == 0:
        raise DataError(f"expected one difference per query, got shape {d.shape}")
    rng = np.random.default_rng(random_state)
    totals = np.empty(n_boot)
    chunk = max(1, 2_000_000 // len(d))  # bounds the index matrix's memory on large test sets
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        totals[start:stop] = d[rng.integers(0, len(d), size=(stop - start, len(d)))].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(totals, [tail, 1 - tail])
    return float(low), float(high)
