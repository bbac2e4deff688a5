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
from typing import Protocol

import numpy as np

from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor
from irtrouter.routing.decision import DimensionWeight, Explanation, Prediction, frozen_record
from irtrouter.routing.neighbours import NeighbourIndex
from irtrouter.routing.rule import TradeOff, best_candidates, routing_inputs, rule_scores


class ExplainedRouter(Protocol):
    """What an explanation reads of a fitted router (an :class:`~irtrouter.routing.router.IRTRouter`)."""

    predictor_: IRTPredictor
    train_difficulty_sorted_: np.ndarray
    train_tasks_: tuple[str, ...] | None
    neighbours_: NeighbourIndex
    warmup_k_: int


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
    score: np.ndarray | None = None,
) -> list[Explanation]:
    """One :class:`Explanation` per query of ``prediction``.

    Every number is computed for the whole batch in a few numpy passes and turned into Python
    floats once (``tolist``); only the objects and the reason text are built per query.

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
    score : ndarray (n_queries, n_llms), optional
        ``rule_scores(prediction.p_hat, prediction.cost, trade_off, rule)`` when the caller has it
        (the router does), so it is not computed twice.
    """
    llm_ids = prediction.llm_ids
    chosen = np.asarray(chosen, dtype=np.int64)
    rows = np.arange(len(chosen))
    p, c = prediction.p_hat, prediction.cost
    if score is None:
        score = rule_scores(p, c, trade_off, rule)
    # Runner-up: the same rule and tie-breaks over the allowed LLMs minus the chosen one (what
    # ``choose`` does, on the float64 inputs it would make, reusing the scores when they are those).
    others = np.broadcast_to(allowed, p.shape).copy()
    others[rows, chosen] = False
    runner = None
    if others.any(axis=1).all():
        p64, c64, ok = routing_inputs(p, c, others)
        same = np.asarray(p).dtype == np.float64 and np.asarray(c).dtype == np.float64
        runner = best_candidates(score if same else rule_scores(p64, c64, trade_off, rule), p64, c64, ok)

    predictor = router.predictor_
    percentile = difficulty_percentile(prediction.difficulty, router.train_difficulty_sorted_).tolist()
    tops = _top_dimensions(predictor, prediction, chosen, runner)
    tasks = _similar_tasks(router, prediction)
    named = predictor.has_named_abilities
    p_chosen, c_chosen = p[rows, chosen], c[rows, chosen]  # gathered once, used below
    j_p, j_c = p_chosen.tolist(), c_chosen.tolist()
    difficulty = np.asarray(prediction.difficulty, dtype=np.float64).tolist()
    chosen_ids = [llm_ids[j] for j in chosen.tolist()]
    if runner is None:
        return [
            _explanation(chosen_ids[i], j_p[i], j_c[i], None, difficulty[i], percentile[i], tops[i], tasks[i], named)
            for i in range(len(chosen))
        ]
    r_p, r_c = p[rows, runner], c[rows, runner]
    # NaN where the runner-up costs nothing (no division there, so no floating-point warnings).
    ratio = np.divide(c_chosen, r_c, out=np.full_like(r_c, np.nan), where=r_c > 0).tolist()
    margins = zip(
        [llm_ids[r] for r in runner.tolist()],
        r_p.tolist(),
        (p_chosen - r_p).tolist(),
        r_c.tolist(),
        [None if x != x else x for x in ratio],  # NaN: the runner-up costs nothing
        (score[rows, chosen] - score[rows, runner]).tolist(),
        strict=True,
    )
    return [
        _explanation(chosen_ids[i], j_p[i], j_c[i], m, difficulty[i], percentile[i], tops[i], tasks[i], named)
        for i, m in enumerate(margins)
    ]


def _explanation(
    llm_id: str,
    p_hat: float,
    cost: float,
    runner: tuple[str, float, float, float, float | None, float] | None,
    difficulty: float,
    percentile: float,
    top: tuple[DimensionWeight, ...],
    task: tuple[str | None, float | None],
    named: bool,
) -> Explanation:
    """One query's :class:`Explanation`; ``runner``: the runner-up's id, P, P margin, cost, cost
    ratio and score margin (None without a runner-up)."""
    runner_up, r_p, p_margin, r_c, ratio, s_margin = (None,) * 6 if runner is None else runner
    band = difficulty_band(percentile)
    head = _head(band, percentile, top, task[0], named)
    if runner_up is None:
        reason = f"{head}: {llm_id} P={p_hat:.2f}, the only allowed LLM"
    else:
        reason = f"{head}: {llm_id} P={p_hat:.2f} vs {runner_up} {r_p:.2f} {_cost_words(ratio, cost)}"
    return frozen_record(
        Explanation,
        llm_id=llm_id,
        runner_up=runner_up,
        p_hat=p_hat,
        runner_up_p_hat=r_p,
        p_margin=p_margin,
        cost=cost,
        runner_up_cost=r_c,
        cost_ratio=ratio,
        score_margin=s_margin,
        difficulty=difficulty,
        difficulty_percentile=percentile,
        difficulty_band=band,
        top_dimensions=top,
        similar_task=task[0],
        similar_task_share=task[1],
        reason=reason,
    )


def _top_dimensions(
    predictor: IRTPredictor, prediction: Prediction, chosen: np.ndarray, runner: np.ndarray | None
) -> list[tuple[DimensionWeight, ...]]:
    """Per query, the :data:`TOP_DIMENSIONS` heaviest dimensions (none when the predictor names none)."""
    n = len(chosen)
    features = prediction.features
    weights = None if features is None else predictor.dimension_weights(features, prediction.context)
    if weights is None:
        return [()] * n
    theta = predictor.abilities_.astype(np.float64)
    names = predictor.dimension_names(theta.shape[1])
    # Heaviest first; MIRT discriminations can be negative, so rank by magnitude.
    order = np.argsort(-np.abs(weights), axis=1, kind="stable")[:, :TOP_DIMENSIONS]
    w = weights[np.arange(n)[:, None], order]
    th_j = theta[chosen[:, None], order]
    dims = [[names[k] for k in row] for row in order.tolist()]
    w_l, j_l = w.tolist(), th_j.tolist()
    if runner is None:
        return [
            tuple(_dimension(d, wk, jk, None, None) for d, wk, jk in zip(dims[i], w_l[i], j_l[i], strict=True))
            for i in range(n)
        ]
    th_r = theta[runner[:, None], order]
    # Logit gaps decompose per dimension when the logit is a_q . theta - (terms without theta).
    gap = (w * (th_j - th_r)).tolist() if predictor.logit_is_linear else [[None] * order.shape[1]] * n
    r_l = th_r.tolist()
    return [
        tuple(
            _dimension(d, wk, jk, rk, gk)
            for d, wk, jk, rk, gk in zip(dims[i], w_l[i], j_l[i], r_l[i], gap[i], strict=True)
        )
        for i in range(n)
    ]


def _dimension(name: str, weight: float, chosen: float, runner_up: float | None, gap: float | None) -> DimensionWeight:
    return frozen_record(
        DimensionWeight,
        dimension=name,
        weight=weight,
        ability_chosen=chosen,
        ability_runner_up=runner_up,
        logit_contribution=gap,
    )


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
        near = router.neighbours_.search(prediction.features, min(router.warmup_k_, len(tasks)))
    out: list[tuple[str | None, float | None]] = []
    for row in near.tolist():
        named = [tasks[q] for q in row if tasks[q]]
        if not named:
            out.append((None, None))
            continue
        task, count = Counter(named).most_common(1)[0]
        out.append((task, count / len(row)))
    return out


def _head(band: str, percentile: float, top: tuple[DimensionWeight, ...], similar_task: str | None, named: bool) -> str:
    """The reason's opening: band, percentile and topic; ``named``: the top dimensions are named abilities."""
    pct = min(int(percentile), 99)
    if named and top:
        # NIRT: the named abilities that stand above a uniform weighting (at most two).
        uniform = 1.0 / len(ABILITY_NAMES)
        topic = "/".join(d.dimension for d in top[:2] if d.weight > uniform)
    else:
        topic = ""
    if not topic and similar_task:
        topic = f"{similar_task}-like"
    return f"{band} ({_ordinal(pct)} pct) {topic + ' ' if topic else ''}query"


def _cost_words(ratio: float | None, cost: float) -> str:
    if ratio is not None:
        return "at the same cost" if abs(ratio - 1) < 1e-9 else f"at {_ratio(ratio)} cost"
    if cost > 0:
        return "where the runner-up costs nothing"
    return "both at no cost"


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _ratio(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.2g}x"
