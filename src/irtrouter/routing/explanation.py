"""Why a query went where it went: the explanation every :class:`RoutingDecision` carries.

For each routed query it states

* the chosen LLM and the **runner-up** (the best other allowed LLM under the same rule and
  tie-breaks), with the P-hat, cost and score margins between them;
* the query's **difficulty percentile** among the training queries (the router keeps their sorted
  difficulties) and its band (easy / medium / hard, terciles of the training queries);
* the **ability dimensions that weigh most** for the query, with both LLMs' abilities on them.
  MIRT: the largest ``|a_qk|`` of the discrimination vector, and each dimension's share
  ``a_qk (theta_chosen,k - theta_runner-up,k)`` of the logit gap (these shares sum exactly to
  ``logit(P_chosen) - logit(P_runner-up)``, since ``b_q`` cancels). 2PL: its one ability, with the
  scalar a_q, the same way. NIRT: the largest weights ``softmax(r_q / tau)`` of the query's
  relevance vector over the 25 named abilities. Other predictors (identity vectors) list none;
* the training **task most common among the query's nearest training queries**, when the
  training data named tasks;
* a one-line ``reason``, e.g. ``hard (92nd pct) gsm8k-like query: deepseek-chat P=0.81 vs
  qwen-7b 0.46 at 1.4x cost``.

Each predictor describes its own dimensions (``dimension_names``, ``dimension_weights``,
``logit_is_linear``, ``has_named_abilities`` of :class:`~irtrouter.irt.base.IRTPredictor`), so
nothing here knows a predictor class. This runs in the routing hot path: numpy only, vectorised
over the batch. (It lives in ``routing/`` rather than ``explain/`` because routing must not import
the packages to its right; :mod:`irtrouter.explain` re-exports it.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Protocol

import numpy as np

from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor
from irtrouter.routing.decision import DimensionWeight, Explanation, Prediction
from irtrouter.routing.neighbours import NeighbourIndex
from irtrouter.routing.rule import TradeOff, choose, rule_scores


class ExplainedRouter(Protocol):
    """What an explanation reads of a fitted router (an :class:`~irtrouter.routing.router.IRTRouter`)."""

    predictor_: IRTPredictor
    train_difficulty_sorted_: np.ndarray
    train_tasks_: tuple[str, ...] | None
    neighbours_: NeighbourIndex
    warmup_k: int


#: Bands of difficulty percentile among training queries: terciles.
DIFFICULTY_BANDS: tuple[tuple[str, float], ...] = (("easy", 100 / 3), ("medium", 200 / 3), ("hard", np.inf))
TOP_DIMENSIONS = 3


def difficulty_band(percentile: float) -> str:
    """``easy`` / ``medium`` / ``hard``: the tercile of a difficulty percentile (0-100).

    Examples
    --------
    >>> difficulty_band(10.0), difficulty_band(50.0), difficulty_band(92.0)
    ('easy', 'medium', 'hard')
    """
    for name, upper in DIFFICULTY_BANDS:
        if percentile < upper:
            return name
    return DIFFICULTY_BANDS[-1][0]


def difficulty_percentile(difficulty: np.ndarray, sorted_reference: np.ndarray) -> np.ndarray:
    """Percentile rank (0-100) of each difficulty among ``sorted_reference`` (ties count half).

    Examples
    --------
    >>> difficulty_percentile(np.array([0.0, 2.5, 9.0]), np.array([1.0, 2.0, 3.0, 4.0])).tolist()
    [0.0, 50.0, 100.0]
    """
    below = np.searchsorted(sorted_reference, difficulty, side="left")
    at_or_below = np.searchsorted(sorted_reference, difficulty, side="right")
    return 100.0 * (below + at_or_below) / (2.0 * len(sorted_reference))


def explain_decisions(
    router: ExplainedRouter,
    prediction: Prediction,
    chosen: np.ndarray,
    trade_off: TradeOff,
    allowed: np.ndarray,
    rule: str = "linear",
) -> list[Explanation]:
    """One :class:`Explanation` per query of ``prediction``.

    Parameters
    ----------
    router : IRTRouter
        The fitted router that made ``prediction`` (:class:`ExplainedRouter`).
    prediction : Prediction
        Must carry ``features`` (what the predictor saw) to name the weighing dimensions.
    chosen : ndarray of int (n_queries,)
        The chosen LLM of each query (from :func:`~irtrouter.routing.rule.choose`).
    trade_off : TradeOff
        The trade-off that chose them.
    allowed : bool ndarray (n_llms,)
    rule : {"linear", "chebyshev"}
        The rule that chose them; the runner-up and the score margin follow it.
    """
    llm_ids = prediction.llm_ids
    n = len(chosen)
    rows = np.arange(n)
    p, c = prediction.p_hat, prediction.cost
    score = rule_scores(p, c, trade_off, rule)
    # Runner-up: the same rule and tie-breaks over the allowed LLMs minus the chosen one.
    others = np.broadcast_to(allowed, p.shape).copy()
    others[rows, chosen] = False
    has_runner_up = bool(others.any(axis=1).all())
    runner = choose(p, c, trade_off, None, others, rule) if has_runner_up else None

    predictor = router.predictor_
    percentile = difficulty_percentile(prediction.difficulty, router.train_difficulty_sorted_)
    theta = predictor.abilities_.astype(np.float64)
    names = predictor.dimension_names(theta.shape[1])
    features = prediction.features
    weights = None if features is None else predictor.dimension_weights(features, prediction.context)
    # Logit gaps decompose per dimension when the logit is a_q . theta - (terms without theta).
    linear = predictor.logit_is_linear
    tasks = _similar_tasks(router, prediction)

    out = []
    for i in range(n):
        j = int(chosen[i])
        r = None if runner is None else int(runner[i])
        top: tuple[DimensionWeight, ...] = ()
        if weights is not None:
            w = weights[i]
            # Heaviest first; MIRT discriminations can be negative, so rank by magnitude.
            order = np.argsort(-np.abs(w), kind="stable")[:TOP_DIMENSIONS]
            top = tuple(
                DimensionWeight(
                    dimension=names[k],
                    weight=float(w[k]),
                    ability_chosen=float(theta[j, k]),
                    ability_runner_up=None if r is None else float(theta[r, k]),
                    logit_contribution=float(w[k] * (theta[j, k] - theta[r, k])) if linear and r is not None else None,
                )
                for k in order
            )
        task, share = tasks[i]
        pct = float(percentile[i])
        band = difficulty_band(pct)
        ratio = None if r is None or c[i, r] <= 0 else float(c[i, j] / c[i, r])
        expl = Explanation(
            llm_id=llm_ids[j],
            runner_up=None if r is None else llm_ids[r],
            p_hat=float(p[i, j]),
            runner_up_p_hat=None if r is None else float(p[i, r]),
            p_margin=None if r is None else float(p[i, j] - p[i, r]),
            cost=float(c[i, j]),
            runner_up_cost=None if r is None else float(c[i, r]),
            cost_ratio=ratio,
            score_margin=None if r is None else float(score[i, j] - score[i, r]),
            difficulty=float(prediction.difficulty[i]),
            difficulty_percentile=pct,
            difficulty_band=band,
            top_dimensions=top,
            similar_task=task,
            similar_task_share=share,
            reason="",
        )
        out.append(_with_reason(expl, named=predictor.has_named_abilities))
    return out


def _similar_tasks(router: ExplainedRouter, prediction: Prediction) -> list[tuple[str | None, float | None]]:
    """Most common named training task among each query's nearest training queries."""
    tasks = router.train_tasks_
    n = len(prediction.difficulty)
    if tasks is None or not any(tasks):
        return [(None, None)] * n
    near = prediction.neighbours
    if near is None:
        if prediction.features is None:
            return [(None, None)] * n
        # Warm-up off: the features are the raw embeddings, so search them directly.
        near = router.neighbours_.search(prediction.features, min(router.warmup_k, len(tasks)))
    out: list[tuple[str | None, float | None]] = []
    for row in near:
        named = [tasks[int(q)] for q in row if tasks[int(q)]]
        if not named:
            out.append((None, None))
            continue
        task, count = Counter(named).most_common(1)[0]
        out.append((task, count / len(row)))
    return out


def _with_reason(expl: Explanation, named: bool) -> Explanation:
    """``expl`` with its one-line reason; ``named``: its top dimensions are named abilities."""
    pct = min(int(expl.difficulty_percentile), 99)
    if named and expl.top_dimensions:
        # NIRT: the named abilities that stand above a uniform weighting (at most two).
        uniform = 1.0 / len(ABILITY_NAMES)
        topic = "/".join(d.dimension for d in expl.top_dimensions[:2] if d.weight > uniform)
    else:
        topic = ""
    if not topic and expl.similar_task:
        topic = f"{expl.similar_task}-like"
    head = f"{expl.difficulty_band} ({_ordinal(pct)} pct) {topic + ' ' if topic else ''}query"
    if expl.runner_up is None:
        return replace(expl, reason=f"{head}: {expl.llm_id} P={expl.p_hat:.2f}, the only allowed LLM")
    if expl.cost_ratio is not None:
        cost = "at the same cost" if abs(expl.cost_ratio - 1) < 1e-9 else f"at {_ratio(expl.cost_ratio)} cost"
    elif expl.cost > 0:
        cost = "where the runner-up costs nothing"
    else:
        cost = "both at no cost"
    return replace(
        expl,
        reason=f"{head}: {expl.llm_id} P={expl.p_hat:.2f} vs {expl.runner_up} {expl.runner_up_p_hat:.2f} {cost}",
    )


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _ratio(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.2g}x"
