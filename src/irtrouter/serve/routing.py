"""Routing inside the service: expected costs, ``max_cost``, batching, the fallback order.

Embedding is CPU work, so it never runs on the event loop. Requests waiting at the same moment
are routed together: a worker takes every waiting request (up to ``server.max_batch``), groups
them by everything that changes a decision besides the query (:class:`RoutingCall`: trade-off,
preference, budget, rule, allowed LLMs) and calls ``router.route_many`` once per group in a
thread, so one embedding call serves many requests under load (the encoder is several times
cheaper per query in a batch) and an idle service still answers a lone request at once. A group
the router refuses is routed again query by query, so one bad query or parameter fails only its
own requests; the router's :class:`~irtrouter.errors.ConfigError` (a budget below what the
cheapest routing spends, a budget with the ``policy`` rule, a preference outside a policy's
trained range) reaches the client as a 400 naming the field. Nothing on this path takes a lock:
the queue is only touched on the event loop, and the router is only read (but for the budget
calibrations it keeps).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from irtrouter.data.tokens import estimate_tokens
from irtrouter.errors import ConfigError, IRTRouterError
from irtrouter.routing.decision import RoutingDecision
from irtrouter.routing.router import IRTRouter
from irtrouter.serve.errors import APIError
from irtrouter.serve.metrics import Metrics
from irtrouter.serve.overrides import RouteRequest


@dataclass(frozen=True)
class CostEstimate:
    """Expected USD of the request on every router LLM, and where the figure comes from.

    ``source`` is ``router:tokens`` / ``router:observed`` when the router's cost model prices
    queries in USD, else ``catalog``: catalog prices x the estimated input tokens of the whole
    prompt + ``output_tokens`` (the request's ``max_tokens``, else ``routing.default_max_tokens``).
    """

    usd: np.ndarray
    source: str
    input_tokens: int
    output_tokens: int | None
    output_tokens_from: str | None


def estimate_cost(router: IRTRouter, request: RouteRequest, default_max_tokens: int) -> CostEstimate:
    """Expected USD per LLM before routing (used for ``max_cost`` and recorded with the decision)."""
    usd = router.cost_model_.expected_usd([request.query])
    if usd is not None:
        return CostEstimate(
            np.asarray(usd[0], dtype=np.float64),
            f"router:{router.cost_model_.kind}",
            estimate_tokens(request.query),
            None,
            None,
        )
    tokens_in = estimate_tokens(request.prompt_text)
    tokens_out = request.max_tokens or default_max_tokens
    catalog = router.catalog_
    prices = np.array([[catalog[m].input_price, catalog[m].output_price] for m in router.llm_ids], dtype=np.float64)
    usd_catalog = (tokens_in * prices[:, 0] + tokens_out * prices[:, 1]) / 1e6
    return CostEstimate(
        usd_catalog, "catalog", tokens_in, tokens_out, "max_tokens" if request.max_tokens else "default_max_tokens"
    )


# What a decision's fallback reason says was maximised, per rule (routing.rule's formulas).
_SCORE_TEXT = {
    "linear": "{a:.2f}*P - {b:.2f}*C",
    "chebyshev": "-max({a:.2f}*(1-P), {b:.2f}*C)",
    "policy": "policy probability",
}


@dataclass(frozen=True)
class Routed:
    """A routed request: the decision, who to try in order, and the expected costs."""

    decision: RoutingDecision
    order: tuple[str, ...]
    cost: CostEstimate
    seconds: float

    def expected_usd(self, llm_id: str) -> float:
        return float(self.cost.usd[self.decision.llm_ids.index(llm_id)])

    def reason(self) -> str:
        """One line saying why this LLM (the decision's own explanation when it has one)."""
        d = self.decision
        # The router's own explanation (issue 6) carries a one-line ``reason``; use it when present.
        explained = getattr(getattr(d, "explanation", None), "reason", None)
        if isinstance(explained, str) and explained.strip():
            return " ".join(explained.split())
        j = d.index
        n_allowed = sum(d.allowed)
        score = _SCORE_TEXT.get(d.rule, "{rule} score").format(a=d.alpha, b=d.beta, rule=d.rule)
        line = (
            f"{d.llm_id} has the best {score} among {n_allowed} allowed LLM"
            f"{'s' if n_allowed != 1 else ''}: P={d.p_hat[j]:.3f}, C={d.cost[j]:.4f}"
        )
        if len(self.order) > 1:
            k = d.llm_ids.index(self.order[1])
            line += f"; next {self.order[1]}: P={d.p_hat[k]:.3f}, C={d.cost[k]:.4f}"
        return line

    def routing_object(self, request_id: str, request: RouteRequest) -> dict[str, Any]:
        """The routing object sent to clients (``/v1/route`` body, ``irtrouter`` in completions)."""
        out = self.decision.to_dict()
        for row, usd in zip(out["llms"], self.cost.usd, strict=True):
            row["expected_cost_usd"] = float(usd)
        out.update(
            request_id=request_id,
            profile=request.profile,
            reason=self.reason(),
            expected_cost_usd=self.expected_usd(self.decision.llm_id),
            cost_source=self.cost.source,
            expected_input_tokens=self.cost.input_tokens,
            expected_output_tokens=self.cost.output_tokens,
            max_cost=request.max_cost,
            fallback_order=list(self.order),
            routing_ms=round(self.seconds * 1000, 3),
        )
        if self.cost.output_tokens_from:
            out["expected_output_tokens_from"] = self.cost.output_tokens_from
        return out


def fallback_order(decision: RoutingDecision) -> tuple[str, ...]:
    """The chosen LLM, then the other allowed LLMs from best to worst score."""
    others = [j for j in range(len(decision.llm_ids)) if decision.allowed[j] and decision.llm_ids[j] != decision.llm_id]
    others.sort(key=lambda j: -decision.score[j])
    return (decision.llm_id, *(decision.llm_ids[j] for j in others))


@dataclass(frozen=True)
class RoutingCall:
    """Everything that changes a decision besides the query: requests with equal calls share one
    ``route_many`` call. ``rule`` is resolved (None never stands for the router's default here)."""

    alpha: float
    preference: float | None
    budget: float | None
    rule: str
    allowed: tuple[str, ...]

    def route(self, router: IRTRouter, queries: Sequence[str]) -> list[RoutingDecision]:
        return router.route_many(
            queries,
            alpha=self.alpha,
            allowed_llms=list(self.allowed),
            preference=self.preference,
            rule=self.rule,
            budget=self.budget,
        )


class RoutingService:
    """Routes requests off the event loop, batching the ones that arrive together.

    Parameters
    ----------
    router : IRTRouter
        Loaded once at start-up; only read afterwards.
    metrics : Metrics
    default_max_tokens : int
        Output tokens assumed for the catalog cost estimate when a request sets no ``max_tokens``.
    threads : int
        Routing worker threads (1 suits 2 cores: the encoder already uses both).
    max_batch : int
        Most requests embedded in one call.
    """

    def __init__(
        self, router: IRTRouter, metrics: Metrics, default_max_tokens: int = 512, threads: int = 1, max_batch: int = 32
    ) -> None:
        self.router = router
        self.metrics = metrics
        self.default_max_tokens = default_max_tokens
        self.max_batch = max_batch
        self._threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="irtrouter-route")
        self._pending: list[tuple[str, RoutingCall, asyncio.Future[RoutingDecision]]] = []
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"irtrouter-route-{i}") for i in range(self._threads)]

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def warm_up(self) -> None:
        """Build the embedding model now rather than on the first request."""
        self.router.route("warm-up query", alpha=0.5)

    async def route(self, request: RouteRequest) -> Routed:
        """The decision for ``request``; 400 for a rule the router lacks, when ``max_cost``
        excludes every allowed LLM, and for a budget or preference the router refuses."""
        started = time.perf_counter()
        try:
            rule = self.router.resolve_rule(request.rule)
        except ConfigError as exc:
            raise APIError(400, str(exc), param="rule", code="invalid_value") from None
        cost = estimate_cost(self.router, request, self.default_max_tokens)
        allowed = request.allowed_llms
        if request.max_cost is not None:
            index = {m: j for j, m in enumerate(self.router.llm_ids)}
            allowed = tuple(m for m in allowed if cost.usd[index[m]] <= request.max_cost)
            if not allowed:
                cheapest = min(request.allowed_llms, key=lambda m: cost.usd[index[m]])
                raise APIError(
                    400,
                    f"no allowed LLM is expected to cost at most max_cost=${request.max_cost:g}: the cheapest, "
                    f"{cheapest}, is expected at ${cost.usd[index[cheapest]]:.6f} ({cost.source} estimate)",
                    param="max_cost",
                    code="max_cost_too_low",
                )
        call = RoutingCall(request.alpha, request.preference, request.budget, rule, allowed)
        future: asyncio.Future[RoutingDecision] = asyncio.get_running_loop().create_future()
        self._pending.append((request.query, call, future))
        self._wakeup.set()
        try:
            decision = await future
        except ConfigError as exc:
            # The rule, alpha and allowed LLMs are checked by now: what the router can still refuse
            # is the budget (too low, or with the policy rule) or the preference (a policy's range).
            param = "budget" if request.budget is not None else "preference" if request.preference is not None else None
            raise APIError(400, str(exc), param=param, code="invalid_value") from None
        seconds = time.perf_counter() - started
        self.metrics.decision(decision.llm_id, seconds)
        return Routed(decision, fallback_order(decision), cost, seconds)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            self.metrics.routing_batch.observe(len(batch))
            groups: dict[RoutingCall, list[int]] = defaultdict(list)
            for i, (_, key, _) in enumerate(batch):
                groups[key].append(i)
            queries = [q for q, _, _ in batch]
            results: list[RoutingDecision | BaseException]
            try:
                results = await loop.run_in_executor(self._executor, self._route_groups, queries, dict(groups))
            except Exception as exc:  # a bug or an embedder failure: fail this batch, keep the worker
                results = [exc] * len(batch)
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _route_groups(
        self, queries: Sequence[str], groups: dict[RoutingCall, list[int]]
    ) -> list[RoutingDecision | BaseException]:
        out: list[RoutingDecision | BaseException] = [RuntimeError("not routed")] * len(queries)
        for call, rows in groups.items():
            try:
                decisions = call.route(self.router, [queries[i] for i in rows])
            except IRTRouterError:
                # One bad query must not fail its neighbours: route them one by one.
                for i in rows:
                    try:
                        out[i] = call.route(self.router, [queries[i]])[0]
                    except IRTRouterError as exc:
                        out[i] = exc
                continue
            for i, decision in zip(rows, decisions, strict=True):
                out[i] = decision
        return out
