"""One chat completion through the gateway, for ``/v1/chat/completions`` and ``/v1/responses``.

The steps, in order: the client key (its id, never the key, goes with the decision), its rate
limit and spend budgets (:mod:`irtrouter.serve.budgets`), the request's fields
(:mod:`irtrouter.serve.overrides`), the LLMs that can serve it (:mod:`irtrouter.serve.capabilities`),
the decision, the session's LLM kept when switching does not pay (:mod:`irtrouter.serve.sessions`),
then the provider calls with fallback (:mod:`irtrouter.serve.proxy`), the budget checked again
before every call, and the record, with what the request would have cost on the profile's
reference LLM (:mod:`irtrouter.serve.savings`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import Response

import irtrouter.serve.proxy as proxy
from irtrouter import __version__
from irtrouter.serve.budgets import Budgets
from irtrouter.serve.capabilities import CapabilityFilter
from irtrouter.serve.config import ServeConfig
from irtrouter.serve.encoding import FastJSONResponse
from irtrouter.serve.overrides import RouteRequest
from irtrouter.serve.routing import Routed, RoutingService
from irtrouter.serve.sessions import Sessions
from irtrouter.store import DecisionRecord, redact_url


class ChatService(proxy.ProxyService, Protocol):
    """What a chat completion uses of the service (``irtrouter.serve.app``'s per-app state)."""

    routing: RoutingService
    budgets: Budgets
    sessions: Sessions
    capabilities: CapabilityFilter

    def authorize(self, request: Request) -> str | None: ...

    async def read_json(self, request: Request) -> Any: ...

    def parse(self, body: Any, needs_model: bool) -> tuple[RouteRequest, dict[str, Any]]: ...

    def actual_cost(self, llm_id: str, usage: Any) -> tuple[int | None, int | None, float | None]: ...

    def record(
        self,
        request_id: str,
        endpoint: str,
        request: RouteRequest,
        routed: Routed,
        routing: dict[str, Any],
        status: str,
        answered: str | None = None,
    ) -> DecisionRecord: ...


def startup_summary(
    config: ServeConfig,
    router_dir: Any,
    version: str | None,
    routable: Sequence[str],
    db_url: str,
    n_keys: int,
) -> str:
    """The one line logged when the service starts (the store's password hidden)."""
    explores = any(p.exploration.share > 0 for p in (config.routing, *config.profiles.values()))
    return (
        f"irtrouter {__version__} serving {router_dir or 'a router in memory'} ({version or 'no version'}); "
        f"routable LLMs: {', '.join(routable)}; store {redact_url(db_url)}; "
        f"auth {f'on ({n_keys} keys)' if n_keys else 'off'}; exploration {'on' if explores else 'off'}"
    )


async def decide(
    service: ChatService,
    request: Request,
    client: str | None,
    body: Any,
    *,
    needs_model: bool = True,
    spends: bool = True,
) -> tuple[RouteRequest, dict[str, Any], Routed]:
    """Admit ``client`` (authorized), parse, narrow to capable LLMs, route and apply the session."""
    req, forward = service.parse(body, needs_model=needs_model)
    service.budgets.admit(client, spends=spends)
    req = service.capabilities.narrow(req, forward)
    key = service.sessions.key(request.headers, forward)
    routed = await service.routing.route(req)
    routed = service.sessions.decide(key, routed, forward)
    # No copy of the frozen record when nothing changes (no client keys: client None, as is routed's).
    return req, forward, routed if routed.client_key_id == client else replace(routed, client_key_id=client)


async def route_only(service: ChatService, request: Request) -> Response:
    """``/v1/route``: the decision for the request's client, recorded, without a provider call."""
    client = service.authorize(request)
    body = await service.read_json(request)
    req, _, routed = await decide(service, request, client, body, needs_model=False, spends=False)
    service.sessions.remember(routed, routed.decision.llm_id)
    request_id = f"irt-{uuid.uuid4().hex}"
    routing = routed.routing_object(request_id, req)
    await service.store.add_decision(service.record(request_id, "route", req, routed, routing, "routed"))
    return FastJSONResponse({"object": "irtrouter.route", **routing}, headers=proxy.headers(routed, request_id, None))


async def complete(
    service: ChatService, request: Request, client: str | None, body: Any, endpoint: str = "chat"
) -> Response:
    """Route ``body`` (a chat-completions body) for ``client``, call the providers, record, answer."""
    started = time.perf_counter()
    req, forward, routed = await decide(service, request, client, body)
    request_id = f"irt-{uuid.uuid4().hex}"
    routing = routed.routing_object(request_id, req)

    def budget_check() -> None:  # before every paid call, fallbacks included
        service.budgets.check_spend(routed.client_key_id)

    if req.stream:
        response = await proxy.stream(service, req, forward, routed, routing, request_id, started, budget_check)
        service.sessions.remember(routed, response.headers.get(f"{proxy.HEADER_PREFIX}llm"))
        return response

    async def call(llm_id: str) -> tuple[int, dict[str, Any]]:
        return await service.upstreams.complete(llm_id, service.upstreams.body_for(llm_id, forward, stream=False))

    answered, payload, attempts, failure = await proxy.with_fallback(service, routed, call, before_call=budget_check)
    record = service.outcome(request_id, endpoint, req, routed, routing, answered, attempts, "ok")
    if answered is not None:
        assert payload is not None
        record.input_tokens, record.output_tokens, record.cost_usd = service.actual_cost(answered, payload.get("usage"))
        routing["cost_usd"] = record.cost_usd
    record.latency_ms = (time.perf_counter() - started) * 1000
    saved = await service.save(record)
    routing["reference_cost_usd"] = record.reference_cost_usd
    service.sessions.remember(routed, answered)
    if answered is None or payload is None:
        assert failure is not None
        raise proxy.failure(failure, routed, request_id)
    if not saved:  # paid for: the answer goes out, marked (docs/serve.md, "When the store cannot write")
        routing["record"] = "unsaved"
    payload["model"] = answered
    payload["irtrouter"] = routing
    unsaved: Mapping[str, str] = {} if saved else proxy.UNSAVED_HEADERS
    return FastJSONResponse(payload, headers={**proxy.headers(routed, request_id, answered), **unsaved})
