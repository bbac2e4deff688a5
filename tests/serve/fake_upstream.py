"""A fake OpenAI-compatible provider: a real async HTTP app on a loopback port.

Behaviour is chosen per provider model name (the request's ``model``) through ``modes``:

* ``ok`` (default): a chat completion (or an SSE stream of 3 content chunks, a usage chunk and
  ``[DONE]``) whose text is ``"answer from MODEL"``;
* ``500``: an OpenAI error envelope with status 500;
* ``slow``: sleeps ``slow_seconds`` before answering (longer than the proxy's read timeout);
* ``echo_key``: a 401 whose message quotes the Authorization header (as some providers do);
* ``400``: a client error (the request is bad whichever LLM gets it);
* ``break``: streams one chunk, then drops the connection;
* ``drip``: streams its chunks 0.3 s apart;
* ``html``: 200 with an HTML page (a captive portal, a misrouted load balancer) that quotes the
  Authorization header, streaming or not;
* ``error_event``: 200 whose whole answer is an error quoting the Authorization header: a JSON
  ``{"error": ...}`` body, or an event stream of that one ``error`` event;
* ``error_mid``: streams two chunks, then an error event quoting the Authorization header;
* ``key_in_answer``: a normal answer whose text quotes the Authorization header;
* ``429``: a rate-limit error with ``Retry-After: retry_after`` (none when it is None);
* ``trickle``: a chunk (or, not streaming, a byte of the JSON body) every ``trickle_seconds``,
  40 of them: never silent long enough for a read timeout.

Every request body and its headers are recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class ServerThread:
    """Run an ASGI app with uvicorn on 127.0.0.1 (free port) in a daemon thread."""

    def __init__(self, app: Any, **options: Any) -> None:
        """``options``: more ``uvicorn.Config`` settings (``irtrouter.serve.connections.uvicorn_options``)."""
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on", **options
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


class FakeProvider:
    """The fake provider app plus what it received."""

    def __init__(self, slow_seconds: float = 2.0) -> None:
        self.modes: dict[str, str] = {}
        self.slow_seconds = slow_seconds
        self.retry_after: str | None = "7"
        self.trickle_seconds = 2.0
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])

    def reset(self) -> None:
        self.modes.clear()
        self.retry_after = "7"
        self.trickle_seconds = 2.0
        self.requests.clear()
        self.headers.clear()

    def models_called(self) -> list[str]:
        return [r.get("model", "") for r in self.requests]

    async def chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ClientDisconnect:  # the proxy died mid-request (crash test)
            return Response(status_code=499)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        model = str(body.get("model", ""))
        mode = self.modes.get(model, "ok")
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if mode == "500":
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}}, status_code=500)
        if mode == "400":
            return JSONResponse({"error": {"message": "context too long", "type": "invalid_request_error"}}, 400)
        auth = request.headers.get("authorization")
        stream = bool(body.get("stream"))
        if mode == "echo_key":
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {auth}"}}, 401)
        if mode == "429":
            headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
            return JSONResponse({"error": {"message": "rate limited", "type": "rate_limit"}}, 429, headers=headers)
        if mode == "html":
            return Response(f"<html><body><h1>Bad gateway</h1><pre>{auth}</pre></body></html>", media_type="text/html")
        error = {"error": {"message": f"quota exceeded for key {auth}", "type": "server_error"}}
        if mode == "error_event" and not stream:
            return JSONResponse(error)
        if mode == "error_event":
            return StreamingResponse(
                iter([f"event: error\ndata: {json.dumps(error)}\n\n"]), media_type="text/event-stream"
            )
        text = f"answer from {model}" + (f" (you sent {auth})" if mode == "key_in_answer" else "")
        if mode == "trickle" and not stream:
            return StreamingResponse(self._trickle_json(completion(model, text)), media_type="application/json")
        if not stream:
            return JSONResponse(completion(model, text))
        if mode == "trickle":
            return StreamingResponse(self._trickle_events(model), media_type="text/event-stream")
        tail = f"data: {json.dumps(error)}\n\n" if mode == "error_mid" else None
        events = self._events(model, text, broken=mode == "break", pause=0.3 if mode == "drip" else 0.0, tail=tail)
        return StreamingResponse(events, media_type="text/event-stream")

    async def _trickle_json(self, payload: dict[str, Any]) -> AsyncIterator[bytes]:
        raw = json.dumps(payload).encode()
        for i in range(40):
            yield raw[i : i + 1]
            await asyncio.sleep(self.trickle_seconds)
        yield raw[40:]

    async def _trickle_events(self, model: str) -> AsyncIterator[str]:
        yield _chunk(model, {"role": "assistant", "content": ""})
        for i in range(40):
            await asyncio.sleep(self.trickle_seconds)
            yield _chunk(model, {"content": f" w{i}"})
        yield "data: [DONE]\n\n"

    async def _events(
        self, model: str, text: str, broken: bool, pause: float, tail: str | None = None
    ) -> AsyncIterator[str]:
        yield _chunk(model, {"role": "assistant", "content": ""})
        words = text.split(" ")
        for i, word in enumerate(words):
            yield _chunk(model, {"content": word if i == 0 else " " + word})
            await asyncio.sleep(pause)
            if broken:
                raise ConnectionResetError("fake provider drops the stream")
            if tail is not None:
                yield tail
                return
        yield _chunk(model, {}, finish="stop")
        yield _chunk(model, {}, usage={"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
        yield "data: [DONE]\n\n"
