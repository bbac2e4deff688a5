"""Calls to the providers: one pooled async HTTP client, explicit timeouts per LLM.

Provider keys are read from the environment once, at start-up, sent only in the
``Authorization`` header, and scrubbed (:meth:`Upstreams.redact`) from everything a provider
says back before it reaches a log line or a client: error bodies, completion bodies (a 200 can
quote a key too) and every line of a stream.

A success status is not taken on trust. A completion must be JSON with ``choices``; a stream
must be ``text/event-stream`` whose first event is a chunk, not an ``error`` event, not HTML,
not empty. :meth:`Upstreams.open_stream` reads that first event before it returns, so a stream
that fails there is an :class:`UpstreamError` while the client has received nothing and
another LLM can still answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from irtrouter.data.catalog import LLMSpec
from irtrouter.serve.config import UpstreamLLM
from irtrouter.serve.errors import UpstreamError
from irtrouter.serve.health import parse_retry_after

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429})
# What is read of a body that is not what was asked for (HTML, a non-stream), to quote it.
PEEK_BYTES = 4096


@dataclass(frozen=True)
class Upstream:
    """One callable LLM: where, which provider model, with which key."""

    llm_id: str
    url: str
    provider_model: str
    timeout: httpx.Timeout
    api_key: str | None
    request_defaults: Mapping[str, Any]
    extra_body: Mapping[str, Any]
    budget_fields: Mapping[str, Any] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __repr__(self) -> str:  # never print the key
        return f"Upstream({self.llm_id!r} -> {self.url} model={self.provider_model!r})"


def make_upstream(llm_id: str, config: UpstreamLLM, spec: LLMSpec, environ: Mapping[str, str]) -> Upstream:
    """The upstream of one router LLM. A RADAR configuration (``o4-mini@high``) calls its base
    model (``spec.upstream_model``) with its budget's request fields (``spec.request_fields()``)."""
    t = config.timeout
    return Upstream(
        llm_id=llm_id,
        url=f"{config.base_url}/chat/completions",
        provider_model=config.model or spec.upstream_model,
        timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
        api_key=environ.get(config.api_key_env) if config.api_key_env else None,
        request_defaults=dict(config.request_defaults),
        extra_body=dict(config.extra_body),
        budget_fields=spec.request_fields(),
    )


class Upstreams:
    """The providers of every routable LLM behind one ``httpx.AsyncClient``.

    Parameters
    ----------
    upstreams : mapping llm_id -> Upstream
    transport : httpx.AsyncBaseTransport, optional
        For tests that need to intercept; the integration tests use real loopback servers.
    """

    def __init__(self, upstreams: Mapping[str, Upstream], transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.upstreams = dict(upstreams)
        self._secrets = sorted({u.api_key for u in upstreams.values() if u.api_key}, key=len, reverse=True)
        # The per-LLM timeouts are passed per request; this default only covers a bug that forgets one.
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(60.0),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    def redact(self, text: str) -> str:
        """``text`` with every provider key replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def body_for(self, llm_id: str, body: Mapping[str, Any], stream: bool) -> dict[str, Any]:
        """The provider request: defaults < the client's fields < the routed budget < forced fields.

        The budget of a RADAR configuration wins over a client's ``reasoning_effort``/``thinking``:
        the router chose (and priced) that budget. A thinking budget counts inside ``max_tokens``
        for the providers that take one (and must be below it), so ``max_tokens`` becomes the
        budget plus the client's ``max_tokens`` (1024 when absent).
        """
        up = self.upstreams[llm_id]
        out = {**up.request_defaults, **body, **up.budget_fields, **up.extra_body, "model": up.provider_model}
        thinking = up.budget_fields.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "enabled":
            out["max_tokens"] = int(thinking["budget_tokens"]) + int(body.get("max_tokens") or 1024)
        if stream:
            out["stream"] = True
        else:
            out.pop("stream", None)
        return out

    def _request(self, llm_id: str, body: dict[str, Any]) -> httpx.Request:
        up = self.upstreams[llm_id]
        return self.client.build_request(
            "POST",
            up.url,
            content=json.dumps(body).encode("utf-8"),
            headers={**up.headers(), "Content-Type": "application/json", "Accept": "application/json"},
            timeout=up.timeout,
        )

    async def complete(self, llm_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST a non-streaming chat completion; (status, JSON body) or :class:`UpstreamError`."""
        started = time.perf_counter()
        try:
            response = await self.client.send(self._request(llm_id, body))
        except httpx.HTTPError as exc:
            raise self._transport_error(llm_id, exc, started) from None
        self._check_status(llm_id, response, response.content)
        text = self.redact(response.content.decode("utf-8", "replace"))
        try:
            payload = json.loads(text)
        except ValueError:
            raise self._bad_response(llm_id, response, "not JSON", text) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
            raise self._bad_response(llm_id, response, "no 'choices'", text)
        return response.status_code, payload

    async def open_stream(self, llm_id: str, body: dict[str, Any]) -> ProviderStream:
        """Start a streaming chat completion and read its first event; the caller relays and closes it.

        Raises :class:`UpstreamError` before any byte is relayed (a failure status, a body that
        is not an event stream, a first event that is an error or not a chunk, an empty stream),
        so the caller can still fall back to another LLM. Cancelled (the request deadline), the
        provider response is closed.
        """
        started = time.perf_counter()
        try:
            response = await self.client.send(self._request(llm_id, body), stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(llm_id, exc, started) from None
        try:
            if response.status_code >= 300:
                self._check_status(llm_id, response, await _peek(response))
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise self._bad_response(llm_id, response, "not an event stream", await _peek(response))
            lines = response.aiter_lines()
            head: list[str] = []
            async for line in lines:
                head.append(self.redact(line))
                if line == "" and any(h.startswith("data:") for h in head):
                    break
            problem = stream_error(head) or ("" if any(h.startswith("data:") for h in head) else "an empty stream")
            if problem or _data(head) == "[DONE]":
                raise self._bad_response(llm_id, response, "a stream whose first event is " + (problem or "[DONE]"))
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._transport_error(llm_id, exc, started) from None
        except BaseException:
            await response.aclose()
            raise
        return ProviderStream(response, head, lines)

    def _bad_response(
        self, llm_id: str, response: httpx.Response, what: str, content: bytes | str = b""
    ) -> UpstreamError:
        ctype = response.headers.get("content-type", "no content type").split(";")[0]
        detail = _provider_message(content.encode() if isinstance(content, str) else content)
        message = self.redact(
            f"{llm_id}: provider answered {response.status_code} ({ctype}) with {what}"
            + (f": {detail}" if detail else "")
        )
        log.warning("%s", message)
        return UpstreamError(llm_id, "bad_response", message, response.status_code)

    def _transport_error(self, llm_id: str, exc: httpx.HTTPError, started: float) -> UpstreamError:
        waited = time.perf_counter() - started
        kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect"
        what = "timed out" if kind == "timeout" else "could not be reached"
        message = self.redact(f"{llm_id}: provider {what} after {waited:.2f}s ({type(exc).__name__})")
        log.warning("%s", message)
        return UpstreamError(llm_id, kind, message)

    def _check_status(self, llm_id: str, response: httpx.Response, content: bytes) -> None:
        status = response.status_code
        if status < 300:
            return
        detail = _provider_message(content)
        if status >= 500:
            kind = "status_5xx"
        elif status in RETRYABLE_STATUS:
            kind = "status_429" if status == 429 else "timeout"
        else:
            kind = "rejected"
        message = self.redact(f"{llm_id}: provider answered {status}" + (f": {detail}" if detail else ""))
        log.warning("%s", message)
        retry_after = parse_retry_after(response.headers.get("retry-after")) if status == 429 else None
        raise UpstreamError(llm_id, kind, message, status, retry_after=retry_after)


@dataclass
class ProviderStream:
    """An accepted provider stream: its first event (``head``, lines already redacted) and the rest."""

    response: httpx.Response
    head: list[str]
    lines: AsyncIterator[str]


def stream_error(event: Sequence[str]) -> str | None:
    """The message of an SSE event that reports an error (``event: error``, or data with an
    ``error`` and no ``choices``), ``"data that is not JSON"`` for such data, else None."""
    return read_event(event)[0]


def read_event(event: Sequence[str]) -> tuple[str | None, dict[str, Any] | None]:
    """``(problem, chunk)`` of one SSE event: :func:`stream_error`'s message (None when it is a
    good event) and its data parsed, the chunk (None without data, for ``[DONE]`` or a problem),
    so that a relay reads each event's JSON once."""
    data = _data(event)
    named_error = any(line.startswith("event:") and line[6:].strip() == "error" for line in event)
    if data is None or data == "[DONE]":
        return ("an error event" if named_error else None), None
    try:
        chunk = json.loads(data)
    except ValueError:
        return ("an error event: " + " ".join(data.split())[:300] if named_error else "data that is not JSON"), None
    if not isinstance(chunk, dict):
        return "data that is not a chunk", None
    if named_error or ("error" in chunk and "choices" not in chunk):
        return "an error event: " + _provider_message(json.dumps(chunk).encode()), None
    return None, chunk


def _data(event: Sequence[str]) -> str | None:
    """The data of one SSE event (its ``data:`` lines joined), None without any."""
    parts = [line[5:].removeprefix(" ") for line in event if line.startswith("data:")]
    return "\n".join(parts).strip() if parts else None


async def _peek(response: httpx.Response) -> bytes:
    """At most :data:`PEEK_BYTES` of a streamed body (enough to quote it; an HTML page can be long)."""
    out = b""
    try:
        async for chunk in response.aiter_bytes():
            out += chunk
            if len(out) >= PEEK_BYTES:
                break
    except httpx.HTTPError:
        pass
    return out[:PEEK_BYTES]


def _provider_message(content: bytes) -> str:
    """The provider's error message (OpenAI envelope) or the start of its body, on one line."""
    try:
        payload = json.loads(content)
        err = payload.get("error") if isinstance(payload, dict) else None
        text = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
        if text:
            return " ".join(str(text).split())[:300]
    except (ValueError, AttributeError):
        pass
    return " ".join(content[:200].decode("utf-8", "replace").split())
