"""Calling the providers for a routed request: the fallback order and the streaming relay.

**Fallback.** :func:`with_fallback` calls the chosen LLM, then the next-best allowed LLMs in the
decision's order (:func:`irtrouter.serve.routing.fallback_order`), at most
``routing.fallback_attempts`` more calls. A timeout, a connection error, a 429, a 5xx or a 200
that holds no completion moves on to the next LLM; any other 4xx stops at once (the request
itself is at fault, so another LLM would reject it too). LLMs that :mod:`irtrouter.serve.health`
keeps out (breaker open, a 429's ``Retry-After`` not yet past) are skipped without a call; a
fallback needs the retry budget; all calls share ``limits.request_deadline_s``. Every call and
skip is kept as an attempt (LLM, status, ms, error kind or skip reason) for the decision record.

**Streaming.** :func:`stream` falls back the same way, but only until a provider's stream has
given a first event that is a chunk (not HTML, not an ``error`` event): once that first byte is
relayed, the client is committed to that LLM. The decision is stored before that first byte,
and the outcome (status, reported tokens and cost, latency) when the stream ends, however it
ends. Each SSE event passes through as the provider sent it with provider keys scrubbed and a
chunk's ``model`` naming the LLM that answered. A stream that breaks off, sends an error event
or runs past the deadline ends with our error event in the OpenAI envelope (the OpenAI SDK
raises it) and is recorded ``stream_error``.

**When no provider answers**, :func:`failure` is what the client gets, with the routing headers:
the provider's own status and message when it rejected the request (4xx other than 401/403),
502 ``upstream_auth_failed`` when it rejected the service's key, 429 ``upstream_rate_limited``
(with the soonest ``Retry-After``) when every candidate was rate limited, 503
``upstream_unavailable`` (with ``Retry-After``) when every candidate was kept out, 504
``request_deadline_exceeded`` / ``upstream_timeout`` when time ran out, 502 ``upstream_error``
otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import httpx
from fastapi.responses import Response, StreamingResponse

from irtrouter.serve.config import ServeConfig
from irtrouter.serve.errors import APIError, UpstreamError
from irtrouter.serve.health import CLOSED, ProviderHealth
from irtrouter.serve.metrics import Metrics
from irtrouter.serve.overrides import RouteRequest
from irtrouter.serve.routing import Routed
from irtrouter.serve.upstream import ProviderStream, Upstreams, read_event
from irtrouter.store import DecisionRecord, DecisionStore

HEADER_PREFIX = "x-irtrouter-"
#: On an answer the provider gave (and charged for) that the store could not record.
UNSAVED_HEADERS = {f"{HEADER_PREFIX}record": "unsaved"}
T = TypeVar("T")
log = logging.getLogger(__name__)


class ProxyService(Protocol):
    """What the proxy uses of the service (``irtrouter.serve.app``'s per-app state)."""

    config: ServeConfig
    metrics: Metrics
    upstreams: Upstreams
    store: DecisionStore
    health: ProviderHealth

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

    async def save(self, record: DecisionRecord, *, update: bool = False) -> bool: ...


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
    if err.retry_after is not None and err.kind in ("rate_limited", "unavailable"):
        out_headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    if err.kind == "rejected" and err.status in (401, 403):
        return APIError(
            502,
            f"{err.llm_id}: the provider rejected the service's credentials ({err.status})",
            code="upstream_auth_failed",
            headers=out_headers,
        )
    if err.kind == "rejected" and err.status is not None:
        return APIError(err.status, err.message, code="upstream_rejected", headers=out_headers)
    if err.kind == "rate_limited":
        return APIError(429, err.message, code="upstream_rate_limited", headers=out_headers)
    if err.kind == "unavailable":
        return APIError(503, err.message, code="upstream_unavailable", headers=out_headers)
    if err.kind == "deadline":
        return APIError(504, err.message, code="request_deadline_exceeded", headers=out_headers)
    if err.kind == "timeout":
        return APIError(
            504, f"no provider answered in time; last: {err.message}", code="upstream_timeout", headers=out_headers
        )
    return APIError(502, f"no provider answered; last: {err.message}", code="upstream_error", headers=out_headers)


def deadline_of(service: ProxyService) -> float:
    """The event-loop time by which a request starting now must be done (``limits.request_deadline_s``)."""
    return asyncio.get_running_loop().time() + service.config.limits.request_deadline_s


async def with_fallback(
    service: ProxyService,
    routed: Routed,
    call: Callable[[str], Awaitable[tuple[int, T]]],
    deadline: float | None = None,
    before_call: Callable[[], None] | None = None,
) -> tuple[str | None, T | None, list[dict[str, Any]], UpstreamError | None]:
    """Call the chosen LLM, then the next-best ones on retryable failures; ``before_call`` runs
    just before each call (a client's budget check: what it raises ends the request).

    LLMs whose breaker is open or that asked to wait (429 ``Retry-After``) are skipped without
    a call; at most ``1 + routing.fallback_attempts`` calls are made, every one after the first
    only if the retry budget allows, all before ``deadline`` (event-loop time; default
    ``limits.request_deadline_s`` from now). Returns the LLM that answered (None if none did),
    what ``call`` returned for it, every attempt (skips included), and the failure to answer
    with: the last one, a 429 ``rate_limited`` when every candidate was rate limited, a 503
    ``unavailable`` when none could be called.
    """
    health = service.health
    health.budget.request()
    deadline = deadline_of(service) if deadline is None else deadline
    attempts: list[dict[str, Any]] = []
    last: UpstreamError | None = None
    waits: list[float] = []  # until each skipped or rate-limited candidate may be called again
    limited = True  # every candidate so far was rate limited
    calls = 0
    for llm_id in routed.order:
        if calls > service.config.routing.fallback_attempts or (last is not None and not last.retryable):
            break
        if not health.acquire(llm_id):
            wait = health.wait(llm_id)
            waits.append(wait)
            # Only a Retry-After keeps a closed LLM out; an open or probing one is ejected.
            reason = "rate_limited" if health.state(llm_id) == CLOSED else "ejected"
            limited &= reason == "rate_limited"
            attempts.append({"llm_id": llm_id, "status": None, "ms": 0.0, "skipped": reason})
            continue
        if calls > 0 and not health.budget.spend():
            health.release(llm_id)
            attempts.append({"llm_id": llm_id, "status": None, "ms": 0.0, "skipped": "retry_budget"})
            break
        if calls > 0:
            service.metrics.fallback(attempts[-1]["llm_id"], llm_id)
        calls += 1
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                if before_call is not None:
                    before_call()
                status, result = await call(llm_id)
        except (UpstreamError, TimeoutError) as exc:
            err = exc if isinstance(exc, UpstreamError) else _deadline_error(service, llm_id)
            attempts.append(_attempt(llm_id, t0, err.status, err.kind))
            service.metrics.upstream_error(llm_id, err.kind)
            if err.kind == "status_429":
                health.rate_limited(llm_id, err.retry_after)
                waits.append(err.retry_after if err.retry_after is not None else math.inf)
            else:
                limited = False
                health.succeeded(llm_id) if err.kind == "rejected" else health.failed(llm_id)
            last = err
            continue
        except BaseException:
            health.release(llm_id)  # cancelled: the client left
            raise
        health.succeeded(llm_id)
        service.metrics.upstream_call(llm_id, time.perf_counter() - t0)
        attempts.append(_attempt(llm_id, t0, status, None))
        return llm_id, result, attempts, None
    return None, None, attempts, _final_failure(routed, last, waits, limited, calls)


def _deadline_error(service: ProxyService, llm_id: str) -> UpstreamError:
    seconds = service.config.limits.request_deadline_s
    return UpstreamError(llm_id, "deadline", f"{llm_id}: the request deadline ({seconds:g} s) passed")


def _final_failure(
    routed: Routed, last: UpstreamError | None, waits: list[float], limited: bool, calls: int
) -> UpstreamError:
    """What the client is told when no candidate answered."""
    finite = [w for w in waits if math.isfinite(w)]
    retry_after = min(finite) if finite else None
    first = routed.order[0]
    if limited and waits:
        return UpstreamError(
            first, "rate_limited", "every candidate LLM is rate limited by its provider", 429, retry_after=retry_after
        )
    if calls == 0:
        return UpstreamError(
            first,
            "unavailable",
            "every candidate LLM is ejected after repeated provider failures or rate limited; retry later",
            503,
            retry_after=retry_after,
        )
    assert last is not None
    return last


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
    before_call: Callable[[], None] | None = None,
) -> Response:
    """Open the provider stream (falling back before the first byte; ``before_call`` as
    :func:`with_fallback` takes it), then relay it event by event."""

    async def open_stream(llm_id: str) -> tuple[int, ProviderStream]:
        opened = await service.upstreams.open_stream(llm_id, service.upstreams.body_for(llm_id, forward, stream=True))
        return opened.response.status_code, opened

    deadline = deadline_of(service)
    answered, upstream, attempts, last = await with_fallback(service, routed, open_stream, deadline, before_call)
    record = service.outcome(request_id, "chat-stream", req, routed, routing, answered, attempts, "streaming")
    if upstream is None or answered is None:
        record.latency_ms = (time.perf_counter() - started) * 1000
        await service.save(record)
        assert last is not None
        raise failure(last, routed, request_id)
    # Committed before the first byte: the stream's headers acknowledge the request id (or say
    # that the store could not record it: the stream is paid for, so it goes out all the same).
    saved = await service.save(record)
    return StreamingResponse(
        _relay(service, upstream, answered, record, started, deadline),
        media_type="text/event-stream",
        headers={
            **headers(routed, request_id, answered),
            **({} if saved else UNSAVED_HEADERS),
            "Cache-Control": "no-cache",
        },
    )


async def _next_line(lines: AsyncIterator[str], deadline: float) -> str | None:
    """The provider's next line (None at the end), or TimeoutError past the request deadline."""
    async with asyncio.timeout_at(deadline):
        try:
            return await anext(lines)
        except StopAsyncIteration:
            return None


async def _relay(
    service: ProxyService,
    upstream: ProviderStream,
    llm_id: str,
    record: DecisionRecord,
    started: float,
    deadline: float,
) -> AsyncIterator[bytes]:
    """Pass the provider's SSE events through (keys scrubbed), naming the answering LLM in each
    chunk's ``model``; an error event, a break or the deadline ends the stream with our error event."""
    usage: Any = None
    status = "ok"
    redact = service.upstreams.redact
    event: list[str] = []
    pending = iter(upstream.head)  # the first event, read (and scrubbed) when the stream was opened
    try:
        while True:
            raw = next(pending, None)
            if raw is None:
                line = await _next_line(upstream.lines, deadline)
                if line is None:
                    break
                raw = redact(line)
            event.append(raw)
            if raw != "":
                continue
            problem, parsed = read_event(event)
            if problem is not None:
                raise UpstreamError(llm_id, "bad_response", f"{llm_id}: the provider stream sent {problem}")
            one_data_line = sum(line.startswith("data:") for line in event) == 1  # the usual event
            out: list[str] = []
            for line in event:
                if line.startswith("data:"):
                    if one_data_line:  # its data is the event's, already parsed by read_event
                        chunk: Any = parsed
                    else:
                        data = line[5:].strip()
                        try:
                            chunk = json.loads(data) if data and data != "[DONE]" else None
                        except ValueError:  # one line of a multi-line data field
                            chunk = None
                    if isinstance(chunk, dict):
                        if "model" in chunk:
                            chunk["model"] = llm_id
                        if chunk.get("usage"):
                            usage = chunk["usage"]
                        line = "data: " + json.dumps(chunk, separators=(",", ":"))
                out.append(line)
            event = []
            yield ("\n".join(out) + "\n").encode("utf-8")
        if event:
            yield ("\n".join(event) + "\n\n").encode("utf-8")
    except (asyncio.CancelledError, GeneratorExit):
        status = "client_closed"  # the client went away mid-stream
        raise
    except (httpx.HTTPError, UpstreamError, TimeoutError) as exc:
        status = "stream_error"
        if isinstance(exc, TimeoutError):
            kind, code = "deadline", "request_deadline_exceeded"
            message = _deadline_error(service, llm_id).message + " mid-stream"
        elif isinstance(exc, UpstreamError):
            kind, code, message = exc.kind, "upstream_stream_error", exc.message
        else:
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect"
            code, message = "upstream_stream_error", f"{llm_id}: the provider stream broke off ({type(exc).__name__})"
        service.metrics.upstream_error(llm_id, kind)
        service.health.failed(llm_id)
        message = redact(message)
        log.warning("%s", message)
        error = APIError(502, message, code=code).envelope()
        yield f"data: {json.dumps(error)}\n\n".encode()
    finally:
        record.status = status
        record.input_tokens, record.output_tokens, record.cost_usd = service.actual_cost(llm_id, usage)
        record.latency_ms = (time.perf_counter() - started) * 1000

        async def finish() -> None:
            await upstream.response.aclose()
            await service.save(record, update=True)

        # A client that disconnects cancels this generator, not the closing write: the task is
        # held by the service until done, and only the wait for it is cancelled.
        await asyncio.shield(service.spawn(finish()))
