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

This runs in the routing hot path: numpy only, vectorised over the batch.
(It lives in ``routing/`` rather than ``explain/`` because routing must not import the packages
to its right; :mod:`irtrouter.explain` re-exports it.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.twopl import TwoPLPredictor
from irtrouter.routing.decision import choose

if TYPE_CHECKING:
    from irtrouter.routing.router import IRTRouter, Prediction

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


def dimension_names(router: IRTRouter) -> tuple[str, ...]:
    """Names of the ability dimensions: NIRT's 25 named abilities, 2PL's one ``ability``, else
    ``dim 1`` ... ``dim N``."""
    n = router.predictor_.abilities_.shape[1]
    if isinstance(router.predictor_, NIRTPredictor):
        return ABILITY_NAMES[:n]
    if isinstance(router.predictor_, TwoPLPredictor):
        return ("ability",)
    return tuple(f"dim {k + 1}" for k in range(n))


def dimension_weights(router: IRTRouter, features: np.ndarray, context: np.ndarray | None) -> np.ndarray | None:
    """How much each ability dimension weighs for each query, (n_queries, n_dims), or None.

    MIRT: the discrimination vectors a_q; 2PL: its scalar a_q. NIRT: the relevance weights
    softmax(r_q / tau), which sum to 1 (NIRT's scalar discrimination scales every dimension
    alike). Other predictors have no per-dimension weights.
    """
    predictor = router.predictor_
    if isinstance(predictor, MIRTPredictor):
        return predictor.query_discrimination(features).astype(np.float64)
    if isinstance(predictor, TwoPLPredictor):
        return predictor.query_discrimination(features).astype(np.float64).reshape(-1, 1)
    if isinstance(predictor, NIRTPredictor) and context is not None:
        rel = np.asarray(context, dtype=np.float64)
        return np.asarray(predictor.relevance_weights(NUMPY_OPS, rel)) / rel.shape[-1]
    return None


@dataclass(frozen=True)
class DimensionWeight:
    """One ability dimension's part in a decision.

    Attributes
    ----------
    dimension : str
        Its name (a named ability for NIRT, ``dim k`` for MIRT).
    weight : float
        MIRT: the query's discrimination a_qk; NIRT: its relevance weight (weights sum to 1).
    ability_chosen, ability_runner_up : float
        theta_k of the chosen LLM and of the runner-up (None when there is none).
    logit_contribution : float or None
        MIRT and 2PL: ``a_qk (theta_chosen,k - theta_runner-up,k)``; summed over every dimension
        these give ``logit(P_chosen) - logit(P_runner-up)`` exactly.
    """

    dimension: str
    weight: float
    ability_chosen: float
    ability_runner_up: float | None = None
    logit_contribution: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "weight": _r(self.weight),
            "ability_chosen": _r(self.ability_chosen),
            "ability_runner_up": _r(self.ability_runner_up),
            "logit_contribution": _r(self.logit_contribution),
        }


@dataclass(frozen=True)
class Explanation:
    """Why one query went to its LLM. Built by :func:`explain_decisions`; JSON via :meth:`to_dict`.

    Attributes
    ----------
    llm_id, runner_up : str
        The chosen LLM and the best other allowed LLM (None when only one LLM was allowed).
    p_hat, runner_up_p_hat, p_margin : float
        Predicted performance of both, and chosen minus runner-up.
    cost, runner_up_cost : float
        Normalised costs C of both.
    cost_ratio : float or None
        ``cost / runner_up_cost`` (None without a runner-up or when the runner-up costs 0).
    score_margin : float
        How far the chosen LLM's alpha * P - beta * C beats the runner-up's (>= 0).
    difficulty, difficulty_percentile : float
        The query's difficulty and its percentile rank among the training queries.
    difficulty_band : str
        ``easy`` / ``medium`` / ``hard`` (terciles of the training queries).
    top_dimensions : tuple of DimensionWeight
        The ability dimensions that weigh most for this query, heaviest first.
    similar_task, similar_task_share : str or None, float or None
        The training task most common among the query's nearest training queries, and its share.
    reason : str
        One line for humans.

    Examples
    --------
    >>> decision = router.route("Solve x^2 = 4", alpha=0.8)  # doctest: +SKIP
    >>> decision.explanation.reason  # doctest: +SKIP
    'easy (12th pct) gsm8k-like query: qwen-7b P=0.83 vs gpt-4o 0.91 at 0.03x cost'
    """

    llm_id: str
    runner_up: str | None
    p_hat: float
    runner_up_p_hat: float | None
    p_margin: float | None
    cost: float
    runner_up_cost: float | None
    cost_ratio: float | None
    score_margin: float | None
    difficulty: float
    difficulty_percentile: float
    difficulty_band: str
    top_dimensions: tuple[DimensionWeight, ...]
    similar_task: str | None
    similar_task_share: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inside ``RoutingDecision.to_dict()["explanation"]``)."""
        return {
            "reason": self.reason,
            "llm_id": self.llm_id,
            "runner_up": self.runner_up,
            "p_hat": _r(self.p_hat),
            "runner_up_p_hat": _r(self.runner_up_p_hat),
            "p_margin": _r(self.p_margin),
            "cost": _r(self.cost),
            "runner_up_cost": _r(self.runner_up_cost),
            "cost_ratio": _r(self.cost_ratio),
            "score_margin": _r(self.score_margin),
            "difficulty": _r(self.difficulty),
            "difficulty_percentile": _r(self.difficulty_percentile),
            "difficulty_band": self.difficulty_band,
            "top_dimensions": [d.to_dict() for d in self.top_dimensions],
            "similar_task": self.similar_task,
            "similar_task_share": _r(self.similar_task_share),
        }


def explain_decisions(
    router: IRTRouter,
    prediction: Prediction,
    chosen: np.ndarray,
    alpha: float,
    beta: float,
    allowed: np.ndarray,
) -> list[Explanation]:
    """One :class:`Explanation` per query of ``prediction``.

    Parameters
    ----------
    router : IRTRouter
        The fitted router that made ``prediction``.
    prediction : Prediction
        Must carry ``features`` (what the predictor saw) to name the weighing dimensions.
    chosen : ndarray of int (n_queries,)
        The chosen LLM of each query (from :func:`~irtrouter.routing.decision.choose`).
    alpha, beta : float
        The normalised weights that chose them.
    allowed : bool ndarray (n_llms,)
    """
    llm_ids = prediction.llm_ids
    n = len(chosen)
    rows = np.arange(n)
    p, c = prediction.p_hat, prediction.cost
    score = alpha * p - beta * c
    # Runner-up: the same rule and tie-breaks over the allowed LLMs minus the chosen one.
    others = np.broadcast_to(allowed, p.shape).copy()
    others[rows, chosen] = False
    has_runner_up = bool(others.any(axis=1).all())
    runner = choose(p, c, alpha, beta, others) if has_runner_up else None

    percentile = difficulty_percentile(prediction.difficulty, router.train_difficulty_sorted_)
    names = dimension_names(router)
    features = prediction.features
    weights = None if features is None else dimension_weights(router, features, prediction.context)
    theta = router.predictor_.abilities_.astype(np.float64)
    # Logit gaps decompose per dimension when the logit is a_q . theta - (terms without theta).
    linear = isinstance(router.predictor_, MIRTPredictor | TwoPLPredictor)
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
        out.append(_with_reason(expl, named=isinstance(router.predictor_, NIRTPredictor)))
    return out


def _similar_tasks(router: IRTRouter, prediction: Prediction) -> list[tuple[str | None, float | None]]:
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


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
