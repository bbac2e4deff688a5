"""Routing a table of queries: one decision row per query.

:class:`BatchRouter` is a callable class, the shape Ray Data's ``map_batches`` wants: it loads the
router once when built (once per actor on Ray) and maps a ``pyarrow.Table`` of queries to the
same table with the decision columns appended. The local engine calls the very same object, so
the two engines differ only in who reads, who calls and who writes.

Decision columns (the input's own columns are kept before them):

=======================  =====================================================================
``llm_id``               the chosen LLM
``p_hat_<LLM>``          predicted performance P-hat of every LLM of the router, in its order
``cost``                 normalised cost C of the chosen LLM
``expected_cost_usd``    expected USD of the chosen LLM (null when the cost model has no USD)
``difficulty``           the query's difficulty under the router
``rule``, ``alpha``,     how the decision was taken
``beta``
``reason``               the one-line reason (runner-up, margins, difficulty percentile)
=======================  =====================================================================

Examples
--------
>>> route = BatchRouter("my-router", RouteOptions(alpha=0.5))  # doctest: +SKIP
>>> route(pa.table({"query": ["What is 2 + 2?"]})).column("llm_id").to_pylist()  # doctest: +SKIP
['math-small']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from irtrouter.errors import DataError
from irtrouter.routing.decision import RoutingDecision
from irtrouter.routing.saved import load_router

DECISION_COLUMNS = ("llm_id", "cost", "expected_cost_usd", "difficulty", "rule", "alpha", "beta", "reason")
P_HAT_PREFIX = "p_hat_"


@dataclass(frozen=True)
class RouteOptions:
    """The trade-off of a batch job, as :meth:`IRTRouter.route_many_embedded` takes it."""

    alpha: float = 0.8
    beta: float | None = None
    preference: float | None = None
    rule: str | None = None
    budget: float | None = None
    allowed_llms: tuple[str, ...] | None = None


def decision_columns(llm_ids: Sequence[str]) -> list[str]:
    """The names of the columns a batch route appends, in order."""
    return ["llm_id", *(f"{P_HAT_PREFIX}{m}" for m in llm_ids), *DECISION_COLUMNS[1:]]


def check_queries(queries: Sequence[Any], ids: Sequence[Any] | None, source: str) -> None:
    """A :class:`DataError` naming the first row whose query is not a non-blank string (by its id
    when the table has one, else by its place in the batch)."""
    for i, q in enumerate(queries):
        if not isinstance(q, str) or not q.strip():
            where = f"query_id {ids[i]!r}" if ids is not None else f"row {i + 1} of its batch"
            raise DataError(f"empty or missing query ({where})", source=source, field="query")


class BatchRouter:
    """Route every query of a table with the router saved in ``router_dir``.

    Parameters
    ----------
    router_dir : path
        A saved router (``irtrouter train --out``), loaded once here.
    options : RouteOptions
    query_column : str
        The column holding the query text.
    cache_dir : path, optional
        Read (and fill) the embedding cache there; None embeds every query afresh.
    """

    def __init__(
        self,
        router_dir: str | Path,
        options: RouteOptions | None = None,
        query_column: str = "query",
        cache_dir: str | Path | None = None,
    ) -> None:
        self.router = load_router(router_dir)
        self.options = options or RouteOptions()
        self.query_column = query_column
        self.cache_dir = cache_dir
        self.llm_ids = self.router.llm_ids
        taken = set(decision_columns(self.llm_ids))
        self._taken = taken

    def __call__(self, batch: pa.Table) -> pa.Table:
        clash = sorted(self._taken & set(batch.column_names))
        if clash:
            raise DataError(f"the input already has column(s) {clash}, which the decisions would overwrite")
        queries = batch.column(self.query_column).to_pylist()
        ids = batch.column("query_id").to_pylist() if "query_id" in batch.column_names else None
        check_queries(queries, ids, "batch route")
        X = self.router.embed(queries, use_cache=self.cache_dir is not None, cache_dir=self.cache_dir)
        opts = asdict(self.options)
        allowed = opts.pop("allowed_llms")
        decisions = self.router.route_many_embedded(
            X, queries, allowed_llms=None if allowed is None else list(allowed), explain=True, **opts
        )
        for name, column in _columns(decisions, self.llm_ids).items():
            batch = batch.append_column(name, column)
        return batch


def _columns(decisions: Sequence[RoutingDecision], llm_ids: Sequence[str]) -> dict[str, pa.Array]:
    # Typed arrays: a batch whose USD column is all null must still be float64, or the writer's
    # schema (fixed by the first batch) would not match.
    chosen = [d.llm_ids.index(d.llm_id) for d in decisions]
    out: dict[str, pa.Array] = {"llm_id": pa.array([d.llm_id for d in decisions], pa.string())}
    for j, m in enumerate(llm_ids):
        out[f"{P_HAT_PREFIX}{m}"] = pa.array([d.p_hat[j] for d in decisions], pa.float64())
    out["cost"] = pa.array([d.cost[j] for d, j in zip(decisions, chosen, strict=True)], pa.float64())
    usd = [None if d.cost_usd is None else d.cost_usd[j] for d, j in zip(decisions, chosen, strict=True)]
    out["expected_cost_usd"] = pa.array(usd, pa.float64())
    out["difficulty"] = pa.array([d.difficulty for d in decisions], pa.float64())
    out["rule"] = pa.array([d.rule for d in decisions], pa.string())
    out["alpha"] = pa.array([d.alpha for d in decisions], pa.float64())
    out["beta"] = pa.array([d.beta for d in decisions], pa.float64())
    reasons = [None if d.explanation is None else d.explanation.reason for d in decisions]
    out["reason"] = pa.array(reasons, pa.string())
    return out
