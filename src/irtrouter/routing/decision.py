"""The records routing produces: a :class:`Prediction` for a batch, a :class:`RoutingDecision` per
query and the :class:`Explanation` it carries (computed in :mod:`irtrouter.routing.explanation`).

Plain frozen dataclasses with ``to_dict()`` for JSON (the CLI's ``--json`` and the HTTP bodies);
the rule that makes them is :mod:`irtrouter.routing.rule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np


@dataclass(frozen=True)
class Prediction:
    """Everything the routing rule needs for a batch of queries, computed once.

    ``p_hat``, ``cost`` and ``cost_usd`` are (n_queries, n_llms); ``difficulty`` is (n_queries,).
    Sweeping alpha over a Prediction with :meth:`IRTRouter.choose` costs no re-embedding.
    ``features`` (the query embeddings after warm-up, as the predictor saw them), ``context``
    (NIRT's relevance vectors) and ``neighbours`` (indices of the nearest training queries) feed
    the per-decision explanation (:mod:`irtrouter.routing.explanation`); ``unfamiliar`` (n_queries,)
    marks queries unlike every training query, routed by the model alone
    (:mod:`irtrouter.routing.familiarity`), None without the novelty gate; ``task`` (n_queries,)
    names, where the router routes by the task (:mod:`irtrouter.routing.tasks`), each query's
    guessed task and the share of its neighbours in it (None where the gate routed it).
    """

    llm_ids: tuple[str, ...]
    p_hat: np.ndarray
    cost: np.ndarray
    difficulty: np.ndarray
    cost_usd: np.ndarray | None = None
    features: np.ndarray | None = None
    context: np.ndarray | None = None
    neighbours: np.ndarray | None = None
    unfamiliar: np.ndarray | None = None
    task: np.ndarray | None = None


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
        Per LLM: predicted performance, normalised cost C, and the score of ``rule``.
    cost_usd : tuple of float or None
        Per LLM expected USD for this query, when the cost model estimates it.
    rule : str
        The rule that chose: ``linear`` (``score = alpha * P - beta * C``), ``chebyshev``
        (``score = -max{alpha (1 - P), beta C}``) or ``policy`` (LLM Bandit; ``score`` holds the
        policy's probabilities).
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
    rule: str = "linear"
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
            "rule": self.rule,
            "difficulty": round(self.difficulty, 6),
            "llms": llms,
            **({"explanation": self.explanation.to_dict()} if self.explanation is not None else {}),
            **self.extras,
        }


def decision_records(
    queries: Sequence[str],
    llm_ids: tuple[str, ...],
    chosen: np.ndarray,
    p_hat: np.ndarray,
    cost: np.ndarray,
    score: np.ndarray,
    difficulty: np.ndarray,
    cost_usd: np.ndarray | None,
    alpha: float,
    beta: float,
    allowed: tuple[bool, ...],
    rule: str,
    extras: Sequence[dict[str, Any]],
    explanations: Sequence[Explanation | None] | None = None,
) -> list[RoutingDecision]:
    """One :class:`RoutingDecision` per row of a batch's arrays (``chosen`` (n,), the others
    (n, n_llms) or (n,)), equal to what the constructor makes; each gets a copy of its ``extras``.

    The arrays become Python floats in one ``tolist`` each, and each record is made by
    :func:`frozen_record` (the dataclass ``__init__`` was ~5x the cost of the rest of the record,
    and the records dominated a batch once the maths was vectorised).

    Examples
    --------
    >>> d = decision_records(["q"], ("a", "b"), np.array([1]), np.array([[0.5, 0.7]]), np.zeros((1, 2)),
    ...                      np.array([[0.4, 0.56]]), np.array([0.1]), None, 0.8, 0.2, (True, True), "linear", [{}])
    >>> d[0].llm_id, d[0].p_hat
    ('b', (0.5, 0.7))
    """
    n = len(queries)
    usd: list[tuple[float, ...] | None] = [None] * n if cost_usd is None else list(map(tuple, cost_usd.tolist()))
    explained: Sequence[Explanation | None] = [None] * n if explanations is None else explanations
    out: list[RoutingDecision] = []
    for q, j, p, c, sc, d, u, x, e in zip(
        queries,
        np.asarray(chosen).tolist(),
        map(tuple, np.asarray(p_hat).tolist()),
        map(tuple, np.asarray(cost).tolist()),
        map(tuple, np.asarray(score).tolist()),
        np.asarray(difficulty, dtype=np.float64).tolist(),
        usd,
        extras,
        explained,
        strict=True,
    ):
        out.append(
            frozen_record(
                RoutingDecision, llm_id=llm_ids[j], query=q, alpha=alpha, beta=beta, llm_ids=llm_ids, allowed=allowed,
                p_hat=p, cost=c, score=sc, difficulty=d, cost_usd=u, rule=rule, extras=dict(x), explanation=e,
            )
        )  # fmt: skip
    return out


_Record = TypeVar("_Record")


def frozen_record(cls: type[_Record], **values: Any) -> _Record:
    """An instance of the frozen dataclass ``cls`` with ``values`` (every field, by name), equal to
    ``cls(**values)`` but filled through its ``__dict__``: the generated ``__init__`` of a frozen
    dataclass sets each field by ``object.__setattr__``, several times the cost of the record on
    the routing hot path. No ``__post_init__`` runs, so only for the plain records of this module.
    """
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
