"""Query difficulties under a router, and how well they track difficulty known from elsewhere.

A router gives every query a difficulty (MIRT: b_q; NIRT: the relevance-weighted mean of its
per-ability difficulties) and a discrimination (MIRT: the length of a_q, how sharply the query
separates strong from weak LLMs; NIRT: the scalar a_q). Three checks say whether the difficulty
means anything, each a Spearman correlation on queries the caller picks (use held-out ones):

* :func:`level_correlations`: against *known levels* where the data has them. A ``level`` column
  of per-query metadata (e.g. MATH levels 1-5) is used when present. Of the shared datasets, only
  LLMRouter's ``agentverse-logicgrid`` task has a level in its text: the number of houses of the
  puzzle (2-5), which sets the size of the search space. (LLMRouter's ``math`` task is MATH, but
  its level is not in the data.)
* :func:`item_accuracy_correlation`: against each query's observed mean score over the LLMs.
* :func:`task_accuracy_correlation`: per task, mean difficulty against mean observed score (a
  coarse proxy, for data with no levels). Both accuracy checks should be negative.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.routing.decision import Prediction
from irtrouter.routing.explanation import difficulty_percentile
from irtrouter.routing.router import IRTRouter

LOGIC_GRID_HOUSES = re.compile(r"There are (\d+) houses in a row")
_LEVEL_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class QueryDifficulties:
    """Difficulty, discrimination and percentile of a set of queries.

    Attributes
    ----------
    source : str
        Which queries (``training queries`` or the data they came from).
    tasks : tuple of str
        Each query's task ("" = unknown).
    difficulty, discrimination, percentile : ndarray (n_queries,)
        ``percentile`` ranks the difficulty among the router's training queries (0-100).
    """

    source: str
    tasks: tuple[str, ...]
    difficulty: np.ndarray
    discrimination: np.ndarray
    percentile: np.ndarray

    def by_task(self) -> dict[str, np.ndarray]:
        """Difficulties grouped by task, in first-appearance order."""
        tasks = np.asarray(self.tasks, dtype=object)
        return {t: self.difficulty[tasks == t] for t in dict.fromkeys(self.tasks)}


def query_discrimination(router: IRTRouter, features: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
    """One discrimination number per query: MIRT ``|a_q|``, NIRT and 2PL the scalar ``a_q``; else NaN
    (the predictor's :meth:`~irtrouter.irt.base.IRTPredictor.discrimination_magnitude`)."""
    return router.predictor_.discrimination_magnitude(features, context)


def training_difficulties(router: IRTRouter) -> QueryDifficulties:
    """Difficulties of the router's own training queries (from their stored embeddings).

    Examples
    --------
    >>> d = training_difficulties(router)  # doctest: +SKIP
    >>> {task: float(v.mean()) for task, v in d.by_task().items()}  # doctest: +SKIP
    """
    router._check_fitted()
    X = router.neighbours_.embeddings
    difficulty = router.predictor_.query_difficulty(X, router.train_relevance_).astype(np.float64)
    tasks = router.train_tasks_ if router.train_tasks_ is not None else ("",) * len(X)
    return QueryDifficulties(
        source="training queries",
        tasks=tuple(tasks),
        difficulty=difficulty,
        discrimination=query_discrimination(router, X),
        percentile=difficulty_percentile(difficulty, router.train_difficulty_sorted_),
    )


def prediction_difficulties(
    router: IRTRouter, prediction: Prediction, tasks: Sequence[str], source: str
) -> QueryDifficulties:
    """Difficulties of new queries from a :class:`Prediction` (which must carry ``features``)."""
    if prediction.features is None:
        raise ConfigError("the prediction carries no features: make it with IRTRouter.predict")
    return QueryDifficulties(
        source=source,
        tasks=tuple(tasks),
        difficulty=prediction.difficulty,
        discrimination=query_discrimination(router, prediction.features),
        percentile=difficulty_percentile(prediction.difficulty, router.train_difficulty_sorted_),
    )


@dataclass(frozen=True)
class KnownLevels:
    """A difficulty level known from outside the router, for some of the queries.

    ``rows`` index the queries that have a level; ``levels`` are their values (higher = harder).
    """

    name: str
    rows: np.ndarray
    levels: np.ndarray


def known_levels(queries: Sequence[str], query_meta: dict[str, np.ndarray] | None = None) -> list[KnownLevels]:
    """Every known level the queries carry: a ``level`` metadata column, logic-grid house counts.

    Examples
    --------
    >>> found = known_levels(["There are 3 houses in a row, numbered 1", "What is 2+2?"])
    >>> found[0].name, found[0].rows.tolist(), found[0].levels.tolist()
    ('houses in the logic-grid puzzle', [0], [3.0])
    """
    out = []
    meta = query_meta or {}
    if "level" in meta:
        values = [_as_level(v) for v in meta["level"]]
        rows = np.array([i for i, v in enumerate(values) if v is not None], dtype=np.int64)
        if len(rows):
            out.append(KnownLevels("level (data)", rows, np.array([values[i] for i in rows], dtype=np.float64)))
    houses = [LOGIC_GRID_HOUSES.search(q) for q in queries]
    rows = np.array([i for i, m in enumerate(houses) if m], dtype=np.int64)
    if len(rows):
        levels = np.array([float(m.group(1)) for m in houses if m])
        out.append(KnownLevels("houses in the logic-grid puzzle", rows, levels))
    return out


def _as_level(value: object) -> float | None:
    """3, 3.0, "3" and "Level 3" -> 3.0; anything else (None, NaN, "?") -> None."""
    if isinstance(value, int | float | np.number) and np.isfinite(value):
        return float(value)
    match = _LEVEL_NUMBER.search(str(value)) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Correlation:
    """A Spearman correlation, what it is between, and on how many points."""

    name: str
    spearman: float
    n: int


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN with fewer than 3 points or a constant.

    Examples
    --------
    >>> round(spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 30.0, 20.0, 40.0])), 3)
    0.8
    """
    from scipy.stats import rankdata

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3:
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def level_correlations(difficulty: np.ndarray, levels: Sequence[KnownLevels]) -> list[Correlation]:
    """Spearman(difficulty, level) for each kind of known level (positive = difficulty tracks it)."""
    return [Correlation(f"difficulty vs {k.name}", spearman(difficulty[k.rows], k.levels), len(k.rows)) for k in levels]


def item_accuracy_correlation(difficulty: np.ndarray, scores: np.ndarray) -> Correlation:
    """Spearman(difficulty, each query's mean observed score over the LLMs); expect it negative."""
    with np.errstate(invalid="ignore"):
        accuracy = np.nanmean(scores, axis=1)
    ok = np.isfinite(accuracy)
    return Correlation("difficulty vs mean score of the query", spearman(difficulty[ok], accuracy[ok]), int(ok.sum()))


def task_accuracy_correlation(difficulty: np.ndarray, tasks: Sequence[str], scores: np.ndarray) -> Correlation:
    """Spearman over tasks of (mean difficulty, mean observed score); expect it negative."""
    task_arr = np.asarray(tasks, dtype=object)
    names = list(dict.fromkeys(tasks))
    mean_d = np.array([difficulty[task_arr == t].mean() for t in names])
    mean_s = np.array([np.nanmean(scores[task_arr == t]) for t in names])
    return Correlation("per task: mean difficulty vs mean score", spearman(mean_d, mean_s), len(names))
