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

What learning from traffic needs comes out of the same pass: the embedding each query was routed
with (the router's ``embed`` output, before warm-up; kept with the decision, no second embedding
call), the version of the router that decided, and the probability with which the chosen LLM
was picked (:class:`Explorer`: 1 without exploration). The live router is one
:class:`LiveRouter` reference: a request takes it when it arrives and keeps it to the end,
batches are grouped by it, and :meth:`RoutingService.swap` replaces it in one assignment on the
event loop, so a promotion never mixes two versions in one decision.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from irtrouter.data.tokens import estimate_tokens
from irtrouter.errors import ConfigError, IRTRouterError
from irtrouter.routing.decision import RoutingDecision
from irtrouter.routing.router import IRTRouter
from irtrouter.serve.config import Exploration
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
    tokens_in = request.prompt_tokens
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


@dataclass(frozen=True, eq=False)
class LiveRouter:
    """A loaded router and the version it is: what decides a request from start to end.

    ``version`` is :func:`~irtrouter.routing.persistence.router_version_id` of ``directory``
    (None for a router handed over in memory, without a directory); ``parent`` is the directory
    its lineage says it was learnt from (rolling back is promoting it).
    """

    router: IRTRouter
    version: str | None = None
    directory: str | None = None
    loaded_at: float = field(default_factory=time.time)
    parent: str | None = None


@dataclass(frozen=True)
class Explored:
    """How exploration picked a decision's LLM: the candidates, the rule's own choice, the odds."""

    method: str
    share: float
    candidates: tuple[str, ...]
    rule_choice: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "share": self.share,
            "top_k": len(self.candidates),
            "candidates": list(self.candidates),
            "rule_choice": self.rule_choice,
        }


class Explorer:
    """Epsilon over the top-k: with probability ``share``, a uniform draw among the rule's choice
    and the next best allowed LLMs by score (``top_k`` in all), else the rule's choice.

    The propensity of the LLM finally chosen is exact, not estimated: with ``k = min(top_k,
    allowed)`` candidates, the rule's choice has ``1 - share + share / k``, every other candidate
    ``share / k``, and the rest 0 (so each decision's propensities over its candidates sum to 1).
    One generator per service (``seed``), drawn on the event loop only, so no lock is needed.

    Examples
    --------
    >>> ex = Explorer({"auto": Exploration(share=0.5, top_k=2)}, seed=0)
    >>> sorted({ex.choose("auto", ("a", "b", "c"))[:2] for _ in range(200)})
    [('a', 0.75), ('b', 0.25)]
    >>> ex.choose("other", ("a", "b"))[:2]
    ('a', 1.0)
    """

    def __init__(self, policies: Mapping[str, Exploration], seed: int | None = None) -> None:
        self.policies = {name: p for name, p in policies.items() if p.share > 0}
        self.rng = np.random.default_rng(seed)

    def choose(self, profile: str, order: Sequence[str]) -> tuple[str, float, Explored | None]:
        """``(llm_id, propensity, explored)`` for a decision whose allowed LLMs rank as ``order``
        (the rule's choice first); ``explored`` is None when the profile does not explore."""
        policy = self.policies.get(profile)
        k = 0 if policy is None else min(policy.top_k, len(order))
        if policy is None or k < 2:
            return order[0], 1.0, None
        candidates = tuple(order[:k])
        pick = int(self.rng.integers(k)) if self.rng.random() < policy.share else 0
        propensity = policy.share / k + (1.0 - policy.share if pick == 0 else 0.0)
        return candidates[pick], propensity, Explored(policy.method, policy.share, candidates, order[0])


@dataclass(frozen=True)
class SessionNote:
    """What :mod:`irtrouter.serve.sessions` did to a decision (gain, switch_cost: score units)."""

    id: str
    key_from: str
    previous_llm: str | None
    stayed: bool
    reason: str
    gain: float | None = None
    switch_cost: float | None = None


@dataclass(frozen=True)
class Routed:
    """A routed request: decision, order to try, expected costs, what learning needs, its session."""

    decision: RoutingDecision
    order: tuple[str, ...]
    cost: CostEstimate
    seconds: float
    version: str | None = None
    propensity: float = 1.0
    exploration: Explored | None = None
    embedding: np.ndarray | None = None
    session: SessionNote | None = None
    client_key_id: str | None = None  # who asked: a name, never the key (irtrouter.serve.budgets)

    @property
    def explored(self) -> bool:
        """True when exploration chose another LLM than the rule's."""
        return self.exploration is not None and self.exploration.rule_choice != self.decision.llm_id

    def embedding_bytes(self) -> bytes | None:
        """The routed embedding as float32 little-endian bytes (``query_embedding``; 4 x dim bytes)."""
        return None if self.embedding is None else np.asarray(self.embedding, dtype="<f4").tobytes()

    def expected_usd(self, llm_id: str) -> float:
        return float(self.cost.usd[self.decision.llm_ids.index(llm_id)])

    def reason(self) -> str:
        """One line saying why this LLM (the decision's own explanation when it has one)."""
        d = self.decision
        if self.session is not None and self.session.stayed and self.session.gain is not None:
            return self.session.reason  # kept on the session's LLM against the rule's choice
        if self.explored:
            assert self.exploration is not None
            e = self.exploration
            return (
                f"explored: {d.llm_id} drawn by {e.method} {e.share:g} over the top {len(e.candidates)} by score "
                f"(chosen with probability {self.propensity:.4f}); the rule's choice was {e.rule_choice}"
            )
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
            router_version=self.version,
            propensity=self.propensity,
            explored=self.explored,
            session=None if self.session is None else asdict(self.session),
        )
        if self.exploration is not None:
            out["exploration"] = self.exploration.to_dict()
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

    def route(self, router: IRTRouter, X: np.ndarray, queries: Sequence[str]) -> list[RoutingDecision]:
        return router.route_many_embedded(
            X,
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
    router : IRTRouter or LiveRouter
        The router to start with (a bare router has no version); only read afterwards, and
        replaced whole by :meth:`swap`.
    metrics : Metrics
    default_max_tokens : int
        Output tokens assumed for the catalog cost estimate when a request sets no ``max_tokens``.
    threads : int
        Routing worker threads (1 suits 2 cores: the encoder already uses both).
    max_batch : int
        Most requests embedded in one call.
    explorer : Explorer, optional
        Per-profile exploration (default: none, every propensity 1).
    """

    def __init__(
        self,
        router: IRTRouter | LiveRouter,
        metrics: Metrics,
        default_max_tokens: int = 512,
        threads: int = 1,
        max_batch: int = 32,
        explorer: Explorer | None = None,
    ) -> None:
        self.live = router if isinstance(router, LiveRouter) else LiveRouter(router)
        self.metrics = metrics
        self.default_max_tokens = default_max_tokens
        self.max_batch = max_batch
        self.explorer = explorer or Explorer({})
        self._threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="irtrouter-route")
        self._pending: list[tuple[str, LiveRouter, RoutingCall, asyncio.Future[tuple[RoutingDecision, Any]]]] = []
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    @property
    def router(self) -> IRTRouter:
        """The live router (the one new requests start on)."""
        return self.live.router

    def swap(self, live: LiveRouter) -> LiveRouter:
        """Make ``live`` decide every request that arrives from now on; returns the one it replaces.
        Requests already taken by the old one finish on it (each holds its own reference)."""
        old, self.live = self.live, live
        return old

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"irtrouter-route-{i}") for i in range(self._threads)]

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def warm_up(self, router: IRTRouter | None = None) -> None:
        """Build the embedding model of ``router`` (default: the live one) now rather than on a request."""
        (router or self.router).route("warm-up query", alpha=0.5)

    async def route(self, request: RouteRequest) -> Routed:
        """The decision for ``request``; 400 for a rule the router lacks, when ``max_cost``
        excludes every allowed LLM, and for a budget or preference the router refuses."""
        started = time.perf_counter()
        live = self.live  # this request's router, whatever is promoted meanwhile
        router = live.router
        try:
            rule = router.resolve_rule(request.rule)
        except ConfigError as exc:
            raise APIError(400, str(exc), param="rule", code="invalid_value") from None
        cost = estimate_cost(router, request, self.default_max_tokens)
        allowed = request.allowed_llms
        if request.max_cost is not None:
            index = {m: j for j, m in enumerate(router.llm_ids)}
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
        future: asyncio.Future[tuple[RoutingDecision, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((request.query, live, call, future))
        self._wakeup.set()
        try:
            decision, embedding = await future
        except ConfigError as exc:
            # The rule, alpha and allowed LLMs are checked by now: what the router can still refuse
            # is the budget (too low, or with the policy rule) or the preference (a policy's range).
            param = "budget" if request.budget is not None else "preference" if request.preference is not None else None
            raise APIError(400, str(exc), param=param, code="invalid_value") from None
        order = fallback_order(decision)
        chosen, propensity, explored = self.explorer.choose(request.profile, order)
        if chosen != decision.llm_id:
            # The explanation argues for the rule's choice: it does not describe this one.
            decision = replace(decision, llm_id=chosen, explanation=None)
            order = (chosen, *(m for m in order if m != chosen))
        seconds = time.perf_counter() - started
        self.metrics.decision(decision.llm_id, seconds)
        return Routed(decision, order, cost, seconds, live.version, propensity, explored, embedding)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            self.metrics.routing_batch.observe(len(batch))
            # One group per router and call: a batch that straddles a promotion is split, never mixed.
            groups: dict[tuple[int, RoutingCall], list[int]] = defaultdict(list)
            routers: dict[int, IRTRouter] = {}
            for i, (_, live, key, _) in enumerate(batch):
                groups[(id(live), key)].append(i)
                routers[id(live)] = live.router
            queries = [q for q, _, _, _ in batch]
            results: list[tuple[RoutingDecision, Any] | BaseException]
            try:
                results = await loop.run_in_executor(self._executor, self._route_groups, queries, routers, dict(groups))
            except Exception as exc:  # a bug or an embedder failure: fail this batch, keep the worker
                results = [exc] * len(batch)
            for (_, _, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _route_groups(
        self,
        queries: Sequence[str],
        routers: dict[int, IRTRouter],
        groups: dict[tuple[int, RoutingCall], list[int]],
    ) -> list[tuple[RoutingDecision, Any] | BaseException]:
        """Each query's decision and the embedding it was routed with (one embedding call per group)."""
        out: list[tuple[RoutingDecision, Any] | BaseException] = [RuntimeError("not routed")] * len(queries)
        for (which, call), rows in groups.items():
            router, texts = routers[which], [queries[i] for i in rows]
            X: np.ndarray | None = None
            try:
                X = router.embed(texts)
                decisions = call.route(router, X, texts)
            except IRTRouterError:
                # One bad query must not fail its neighbours: one by one, from X when it was made.
                for k, i in enumerate(rows):
                    try:
                        x = router.embed([queries[i]]) if X is None else X[k : k + 1]
                        out[i] = (call.route(router, x, [queries[i]])[0], x[0])
                    except IRTRouterError as exc:
                        out[i] = exc
                continue
            for i, decision, x in zip(rows, decisions, X, strict=True):
                out[i] = (decision, x)
        return out
