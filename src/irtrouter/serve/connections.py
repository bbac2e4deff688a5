"""What a client connection may hold: header and body deadlines, and requests in progress.

uvicorn's ``timeout_keep_alive`` only closes a connection idle *between* requests: a client that
sends half its headers, or its headers and half a body, held a connection over 75 s, and 300 such
sockets locked real clients out under ``ulimit -n 256``. Three limits (``limits`` in the config):

- ``header_timeout_s``: a connection whose request headers are not complete that long after its
  first byte (or after it opened) is closed (:func:`http_protocol`, a subclass of uvicorn's
  protocol, since headers are parsed before the app sees anything).
- ``body_timeout_s``: a request whose body is not complete that long after its headers gets 408
  ``request_timeout`` and its connection closed (:class:`ConnectionLimits`).
- ``max_concurrency``: more requests in progress than that get 503 ``server_overloaded`` with
  ``Retry-After: 1`` in the OpenAI envelope; ``/healthz`` and ``/metrics`` are always answered.
  uvicorn's own ``limit_concurrency`` is not used: it answers plain text and counts idle
  connections with requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from irtrouter.serve.config import LimitsConfig
from irtrouter.serve.errors import APIError

ALWAYS_ANSWERED = ("/healthz", "/metrics")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ConnectionLimits:
    """ASGI middleware: the body deadline (408) and the limit on requests in progress (503).

    Parameters
    ----------
    app : ASGI app
    limits : LimitsConfig
        ``body_timeout_s`` and ``max_concurrency`` (None: no limit).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], limits: LimitsConfig) -> None:
        self.app = app
        self.body_timeout_s = limits.body_timeout_s
        self.max_concurrency = limits.max_concurrency
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (
            self.max_concurrency is not None
            and self.in_progress >= self.max_concurrency
            and scope["path"] not in ALWAYS_ANSWERED
        ):
            err = APIError(
                503,
                f"the service is at its limit of {self.max_concurrency} requests in progress; retry shortly",
                type="service_unavailable",
                code="server_overloaded",
            )
            await _answer(send, err, {"retry-after": "1"})
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        body_done = False

        async def timed_receive() -> MutableMapping[str, Any]:
            nonlocal body_done
            if body_done:  # after the body, receive only waits for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise APIError(
                    408,
                    f"the request body was not received within {self.body_timeout_s:g} s",
                    code="request_timeout",
                    headers={"connection": "close"},
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        self.in_progress += 1
        try:
            await self.app(scope, timed_receive, send)
        finally:
            self.in_progress -= 1


async def _answer(send: Send, err: APIError, headers: dict[str, str]) -> None:
    body = json.dumps(err.envelope()).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def http_protocol(header_timeout_s: float, base: type[Any] | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` (default: httptools when installed, else h11) with a
    deadline on request headers.

    The deadline runs from the connection's opening, and again from the first byte of each later
    request on a kept-alive connection, until the request's headers are complete; when it passes
    the connection is closed. Both uvicorn protocols set ``self.cycle`` when headers complete.
    """
    if base is None:
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
        except ImportError:  # httptools is optional in uvicorn
            from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class HeaderDeadlineProtocol(base):  # type: ignore[misc, valid-type]
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _waiting_for_headers(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if not self._waiting_for_headers():
                self._disarm()
            elif self._header_timer is None and not self.transport.is_closing():
                self._header_timer = self.loop.call_later(header_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if self._waiting_for_headers() and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineProtocol


def uvicorn_options(limits: LimitsConfig) -> dict[str, Any]:
    """The uvicorn settings that enforce ``limits`` (``irtrouter serve`` and the tests pass these)."""
    return {"http": http_protocol(limits.header_timeout_s), "timeout_keep_alive": 30}
