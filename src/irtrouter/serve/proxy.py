"""Calling the providers for a routed request: the fallback order and the streaming relay.

**Fallback.** :func:`with_fallback` calls the chosen LLM, then the next-best allowed LLMs in the
decision's order (:func:`irtrouter.serve.routing.fallback_order`), at most
``routing.fallback_attempts`` more. A timeout, a connection error, a 429 or a 5xx moves on to the
next LLM; any other 4xx stops at once (the request itself is at fault, so another LLM would
reject it too). Every call is kept as an attempt (LLM, status, ms, error kind) for the decision
record.

**Streaming.** :func:`stream` falls back the same way, but only until a provider accepts the
stream: once its first byte is relayed, the client is committed to that LLM. The decision is
stored before that first byte, and the outcome (status, reported tokens and cost, latency) when
the stream ends, however it ends. Each SSE event passes through as the provider sent it, except
that a chunk's ``model`` names the LLM that answered. A stream that breaks off ends with an
error event in the OpenAI envelope (the OpenAI SDK raises it).

**When no provider answers**, :func:`failure` is what the client gets, with the routing headers:
the provider's own status and message when it rejected the request (4xx other than 401/403),
502 ``upstream_auth_failed`` when it rejected the service's key, 504 ``upstream_timeout`` when
the last failure was a timeout, 502 ``upstream_error`` otherwise.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import httpx
from fastapi.responses import Response, StreamingResponse

from irtrouter.serve.config import ServeConfig
from irtrouter.serve.errors import APIError, UpstreamError
from irtrouter.serve.metrics import Metrics
from irtrouter.serve.overrides import RouteRequest
from irtrouter.serve.routing import Routed
from irtrouter.serve.upstream import Upstreams
from irtrouter.store import DecisionRecord, SQLiteStore

HEADER_PREFIX = "x-irtrouter-"
T = TypeVar("T")


class ProxyService(Protocol):
    """What the proxy uses of the service (``irtrouter.serve.app``'s per-app state)."""

    config: ServeConfig
    metrics: Metrics
    upstreams: Upstreams
    store: SQLiteStore

    def outcome(
        self,
        request_id: str,
        endpoint: str,
        request: RouteRequest,
        routed: Routed,
        routing: dict[str, Any],
        answered: str | None,
        attempts: list[dict[str, Any]],
        status: str,
    ) -> DecisionRecord: ...

    def actual_cost(self, llm_id: str, usage: Any) -> tuple[int | None, int | None, float | None]: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]: ...


def headers(routed: Routed, request_id: str, answered: str | None) -> dict[str, str]:
    """The ``x-irtrouter-*`` headers of a response about ``routed`` (``answered``: the LLM that did)."""
    d = routed.decision
    out = {
        f"{HEADER_PREFIX}request-id": request_id,
        f"{HEADER_PREFIX}chosen-llm": d.llm_id,
        f"{HEADER_PREFIX}p-hat": f"{d.p_hat[d.index]:.6f}",
        f"{HEADER_PREFIX}expected-cost-usd": f"{routed.expected_usd(d.llm_id):.8f}",
        f"{HEADER_PREFIX}reason": routed.reason().encode("latin-1", "replace").decode("latin-1"),
    }
    if answered is not None:
        out[f"{HEADER_PREFIX}llm"] = answered
    return out


def failure(err: UpstreamError, routed: Routed, request_id: str) -> APIError:
    """The client's error when no provider answered, ``err`` being the last failure."""
    out_headers = headers(routed, request_id, None)
    if err.kind == "rejected" and err.status in (401, 403):
        return APIError(
            502,
            f"{err.llm_id}: the provider rejected the service's credentials ({err.status})",
            code="upstream_auth_failed",
            headers=out_headers,
        )
    if err.kind == "rejected" and err.status is not None:
        return APIError(err.status, err.message, code="upstream_rejected", headers=out_headers)
    if err.kind == "timeout":
        return APIError(
            504, f"no provider answered in time; last: {err.message}", code="upstream_timeout", headers=out_headers
        )
    return APIError(502, f"no provider answered; last: {err.message}", code="upstream_error", headers=out_headers)


async def with_fallback(
    service: ProxyService, routed: Routed, call: Callable[[str], Awaitable[tuple[int, T]]]
) -> tuple[str | None, T | None, list[dict[str, Any]], UpstreamError | None]:
    """Call the chosen LLM, then the next-best ones on retryable failures (``fallback_attempts``).

    Returns the LLM that answered (None if none did), what ``call`` returned for it, every
    attempt, and the last failure.
    """
    attempts: list[dict[str, Any]] = []
    last: UpstreamError | None = None
    for llm_id in routed.order[: 1 + service.config.routing.fallback_attempts]:
        if attempts:
            service.metrics.fallback(attempts[-1]["llm_id"], llm_id)
        t0 = time.perf_counter()
        try:
            status, result = await call(llm_id)
        except UpstreamError as err:
            attempts.append(_attempt(llm_id, t0, err.status, err.kind))
            service.metrics.upstream_error(llm_id, err.kind)
            last = err
            if not err.retryable:
                break
            continue
        service.metrics.upstream_call(llm_id, time.perf_counter() - t0)
        attempts.append(_attempt(llm_id, t0, status, None))
        return llm_id, result, attempts, None
    return None, None, attempts, last


def _attempt(llm_id: str, t0: float, status: int | None, error: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"llm_id": llm_id, "status": status, "ms": round((time.perf_counter() - t0) * 1000, 2)}
    if error:
        out["error"] = error
    return out


async def stream(
    service: ProxyService,
    req: RouteRequest,
    forward: dict[str, Any],
    routed: Routed,
    routing: dict[str, Any],
    request_id: str,
    started: float,
) -> Response:
    """Open the provider stream (falling back before the first byte), then relay it event by event."""

    async def open_stream(llm_id: str) -> tuple[int, httpx.Response]:
        response = await service.upstreams.open_stream(llm_id, service.upstreams.body_for(llm_id, forward, stream=True))
        return response.status_code, response

    answered, upstream, attempts, last = await with_fallback(service, routed, open_stream)
    record = service.outcome(request_id, "chat-stream", req, routed, routing, answered, attempts, "streaming")
    if upstream is None or answered is None:
        record.latency_ms = (time.perf_counter() - started) * 1000
        await service.store.add_decision(record)
        assert last is not None
        raise failure(last, routed, request_id)
    # Committed before the first byte: the stream's headers acknowledge the request id.
    await service.store.add_decision(record)
    return StreamingResponse(
        _relay(service, upstream, answered, record, started),
        media_type="text/event-stream",
        headers={**headers(routed, request_id, answered), "Cache-Control": "no-cache"},
    )


async def _relay(
    service: ProxyService, upstream: httpx.Response, llm_id: str, record: DecisionRecord, started: float
) -> AsyncIterator[bytes]:
    """Pass the provider's SSE events through, naming the answering LLM in each chunk's ``model``."""
    usage: Any = None
    status = "ok"
    event: list[str] = []
    try:
        async for line in upstream.aiter_lines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        chunk = None
                    if isinstance(chunk, dict):
                        if "model" in chunk:
                            chunk["model"] = llm_id
                        if chunk.get("usage"):
                            usage = chunk["usage"]
                        line = "data: " + json.dumps(chunk, separators=(",", ":"))
            event.append(line)
            if line == "":
                yield ("\n".join(event) + "\n").encode("utf-8")
                event = []
        if event:
            yield ("\n".join(event) + "\n\n").encode("utf-8")
    except (asyncio.CancelledError, GeneratorExit):
        status = "client_closed"  # the client went away mid-stream
        raise
    except httpx.HTTPError as exc:
        status = "stream_error"
        kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect"
        service.metrics.upstream_error(llm_id, kind)
        message = service.upstreams.redact(f"{llm_id}: the provider stream broke off ({type(exc).__name__})")
        error = APIError(502, message, code="upstream_stream_error").envelope()
        yield f"data: {json.dumps(error)}\n\n".encode()
    finally:
        record.status = status
        record.input_tokens, record.output_tokens, record.cost_usd = service.actual_cost(llm_id, usage)
        record.latency_ms = (time.perf_counter() - started) * 1000

        async def finish() -> None:
            await upstream.aclose()
            await service.store.update_outcome(record)

        # A client that disconnects cancels this generator, not the closing write: the task is
        # held by the service until done, and only the wait for it is cancelled.
        await asyncio.shield(service.spawn(finish()))
