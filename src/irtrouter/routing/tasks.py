"""Routing by the task alone: each query gets the mean training scores of its neighbours' task.

Within a task the embeddings carry little signal about which LLM answers a given query (a median
AUC of 0.51-0.61 on the public pools, docs/BENCHMARKS.md), while the task they tell well (87-100%
of the time by 10 neighbours on routerbench_subset and routerdc_7llm) and the best LLM differs
by task. This stage predicts, for each query, ``P(q, j)`` = LLM ``j``'s mean training score on
the task most of the query's ``TASK_K`` nearest training queries belong to: the routing rule
then sends a whole task to its best LLM at each trade-off, and the guard (when on) leaves the
best single LLM only for tasks where that paid on the validation queries. It is one of the
configurations ``IRTRouter(predictor="auto")`` judges out of fold, offered when every training
query has a task and there are at least two; it needs nothing but the training tasks and scores
the router keeps for its neighbours, so a saved router rebuilds it on loading.

Examples
--------
>>> tasks = ("math", "math", "code", "code")
>>> scores = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
>>> by_task = TaskMeans.fit(tasks, scores, prior=np.array([0.5, 0.5]))
>>> by_task.predict(np.array([[2, 3, 0]]), k=3)   # two of three neighbours are code queries
array([[0., 1.]])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Neighbours whose majority names a query's task (the benchmarks' task classifier).
TASK_K = 10


def offers_tasks(tasks: Sequence[str]) -> bool:
    """Whether training tasks support the stage: every query labelled, at least two tasks."""
    return all(tasks) and len(set(tasks)) >= 2


@dataclass(frozen=True)
class TaskMeans:
    """Per task (``names``), each LLM's mean training score (``means``, n_tasks x n_llms; a task an
    LLM never answered takes its ``prior``), and the task of each training query (``of_query``,
    codes into ``names``), which the neighbours' vote reads."""

    names: tuple[str, ...]
    of_query: np.ndarray
    means: np.ndarray

    @classmethod
    def fit(cls, tasks: Sequence[str], scores: np.ndarray, prior: np.ndarray) -> TaskMeans:
        names = tuple(sorted(set(tasks)))
        code = {name: i for i, name in enumerate(names)}
        of_query = np.asarray([code[t] for t in tasks], dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        with warnings.catch_warnings():  # a task an LLM never answered: the prior, below
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.stack([np.nanmean(scores[of_query == i], axis=0) for i in range(len(names))])
        return cls(names, of_query, np.where(np.isnan(means), np.asarray(prior, dtype=np.float64)[None], means))

    def guess(self, near: np.ndarray, k: int = TASK_K) -> tuple[np.ndarray, np.ndarray]:
        """Per query, the code of its neighbours' majority task (ties: the first name) and the
        share of its ``k`` nearest training queries in it."""
        votes = self.of_query[np.asarray(near)[:, :k]]
        counts = np.stack([(votes == i).sum(axis=1) for i in range(len(self.names))], axis=1)
        task = counts.argmax(axis=1)
        return task, counts[np.arange(len(task)), task] / max(votes.shape[1], 1)

    def predict(self, near: np.ndarray, k: int = TASK_K) -> np.ndarray:
        """P (n_queries, n_llms): the mean scores of each query's guessed task."""
        return self.means[self.guess(near, k)[0]]

    def report(self, llm_ids: Sequence[str]) -> dict[str, Any]:
        """Per task, its number of training queries and the LLMs' mean scores (the training summary)."""
        counts = np.bincount(self.of_query, minlength=len(self.names))
        return {
            "k": TASK_K,
            "tasks": {
                name: {"n_queries": int(n), "mean_score": dict(zip(llm_ids, np.round(row, 4).tolist(), strict=True))}
                for name, n, row in zip(self.names, counts, self.means, strict=True)
            },
        }
