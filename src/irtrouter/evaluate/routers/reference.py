"""Reference points of every table: one LLM always (small or large), random, and the oracle.

``small-llm``
    Always the cheapest LLM (IRT-Router's "Small LLM").
``large-llm``
    Always the most expensive LLM ("Large LLM").
``random``
    Uniformly at random; scored as the exact expectation (a routing distribution).
``oracle``
    The best realised score, the cheapest LLM among ties: the upper limit. Reads the outcomes of
    the test queries, so it is a reference, not a router.
``best-single``
    At each alpha, the one LLM with the best Reward on the *training* split (what a user without a
    router would pick): the bar every router must clear.
``task-oracle``
    At each alpha, each test query to the LLM with the best Reward on the training queries of its
    *task*, read from the test query's label: a router with a perfect task classifier and nothing
    more. It reads a label no router has at routing time, so it is a reference, not a router: the
    gap from ``best-single`` to it is what the task alone is worth, from it to the ``oracle`` what
    needs per-query signal. A task not in training gets the best single LLM.

Small and large LLM
    By default the cheapest and the most expensive LLM by the router's cost model averaged over
    the training queries (real mean USD where the data has it, else prices). Where several LLMs
    cost the same (RouterDC's pool is priced alike), the small one is the weakest of them on the
    training data and the large one the strongest, so the two differ. Pass ``llm_id`` to pick
    another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.evaluate.metrics import realised_costs
from irtrouter.evaluate.routers.contract import (
    Decisions,
    FixedDecisions,
    QueryBatch,
    Router,
    TrainingData,
    WeightedDecisions,
    llm_index,
    small_and_large,
)
from irtrouter.routing.rule import choose, resolve_weights

if TYPE_CHECKING:
    from irtrouter.data.catalog import LLMCatalog
    from irtrouter.data.results import ResultsMatrix


class SingleLLMRouter(Router):
    """Send every query to one LLM: ``llm_id``, else the default small or large LLM.

    Examples
    --------
    >>> router = SingleLLMRouter(default="large").fit(train)  # doctest: +SKIP
    >>> router.chosen_llm_  # doctest: +SKIP
    'big'
    """

    def __init__(
        self, llm_id: str | None = None, default: Literal["small", "large"] = "small", cost_model: str = "auto"
    ) -> None:
        self.llm_id = llm_id
        self.default = default
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        if self.default not in ("small", "large"):
            raise ConfigError(f"default must be 'small' or 'large', got {self.default!r}")
        if self.llm_id is not None:
            self.index_ = llm_index(data.results, self.llm_id)
        else:
            small, large = small_and_large(data.results, self.normalised_cost(data.results.queries).mean(axis=0))
            self.index_ = small if self.default == "small" else large
        self.chosen_llm_ = self.llm_ids_[self.index_]

    def _decide(self, batch: QueryBatch) -> Decisions:
        return FixedDecisions(self.llm_ids_, np.full(len(batch), self.index_, dtype=np.int64))


class RandomRouter(Router):
    """Each LLM with probability 1/n: the decisions are the distribution, so scores are exact expectations."""

    def _decide(self, batch: QueryBatch) -> Decisions:
        n = len(self.llm_ids_)
        return FixedDecisions(self.llm_ids_, np.full((len(batch), n), 1.0 / n))


class OracleRouter(Router):
    """The best realised score for each query, the cheapest LLM among ties (an upper limit)."""

    uses_outcomes: ClassVar[bool] = True

    def _decide(self, batch: QueryBatch) -> Decisions:
        assert batch.scores is not None and batch.costs is not None  # checked by decide()
        # alpha = 1: the rule compares scores only and breaks ties by the lower cost.
        return FixedDecisions(self.llm_ids_, choose(batch.scores, batch.costs, alpha=1.0))


class BestSingleRouter(Router):
    """At each weight, every query to the LLM with the best Reward on the training split.

    The Reward is the evaluation's (IRT-Router eq. 12: ``alpha * Performance - (1 - alpha) * Total
    Cost / the largest single-LLM Total Cost``) on the training queries observed for every LLM,
    with their realised (or modelled) USD costs. Where fewer than ``min_complete`` of the training
    queries are complete (pools with holes), each LLM is judged on the queries it answered.
    """

    def __init__(self, min_complete: float = 0.2, cost_model: str = "auto") -> None:
        self.min_complete = min_complete
        self.cost_model = cost_model

    def _fit(self, data: TrainingData) -> None:
        self.performance_, self.mean_cost_ = single_llm_means(data.results, data.catalog, self.min_complete)
        # eq. 12's Total Cost over its scale, per query: each LLM's mean cost over the largest.
        self.cost_unit_ = float(self.mean_cost_.max()) or 1.0

    def llm_at(self, alpha: float) -> int:
        """The training split's best single LLM at weight ``alpha`` (ties: the first)."""
        return _best_at(alpha, self.performance_, self.mean_cost_ / self.cost_unit_)

    def _decide(self, batch: QueryBatch) -> Decisions:
        n = len(batch)
        return WeightedDecisions(self.llm_ids_, lambda alpha: np.full(n, self.llm_at(alpha), dtype=np.int64))


class TaskOracleRouter(BestSingleRouter):
    """At each weight, each query to the best LLM of its task on the training split (module
    docstring): the best single LLM's Reward computed on each task's training queries alone, with
    the whole training split's cost scale. Reads the test queries' task labels (``uses_outcomes``)."""

    uses_outcomes: ClassVar[bool] = True

    def _fit(self, data: TrainingData) -> None:
        super()._fit(data)
        tasks = np.asarray(data.results.tasks, dtype=object)
        self.task_means_: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for task in data.results.task_names():
            part = data.results.take(tasks == task)
            if part.observed.any(axis=0).all():  # every LLM answered some of its queries
                self.task_means_[task] = single_llm_means(part, data.catalog, self.min_complete)

    def _decide(self, batch: QueryBatch) -> Decisions:
        tasks = batch.tasks or ("",) * len(batch)

        def at(alpha: float) -> np.ndarray:
            best = {t: _best_at(alpha, perf, cost / self.cost_unit_) for t, (perf, cost) in self.task_means_.items()}
            fallback = self.llm_at(alpha)
            return np.asarray([best.get(t, fallback) for t in tasks], dtype=np.int64)

        return WeightedDecisions(self.llm_ids_, at)


def single_llm_means(results: ResultsMatrix, catalog: LLMCatalog, min_complete: float) -> tuple[np.ndarray, np.ndarray]:
    """Each LLM's Performance and mean cost per query on ``results``: over the queries observed for
    every LLM, or, where fewer than ``min_complete`` of them are (pools with holes), over the
    queries each LLM answered."""
    complete = results.complete()
    if complete.n_queries >= min_complete * results.n_queries and complete.n_queries > 0:
        costs, _ = realised_costs(complete, catalog)
        return complete.scores.mean(axis=0), costs.mean(axis=0)
    costs, _ = realised_costs(results, catalog)
    seen = results.observed
    performance = np.array([np.nanmean(results.scores[seen[:, j], j]) for j in range(results.n_llms)])
    return performance, np.array([costs[seen[:, j], j].mean() for j in range(results.n_llms)])


def _best_at(alpha: float, performance: np.ndarray, relative_cost: np.ndarray) -> int:
    """The LLM of best ``alpha * Performance - beta * relative cost`` (ties: the first)."""
    a, b = resolve_weights(alpha)
    return int(np.argmax(100.0 * (a * performance - b * relative_cost)))
