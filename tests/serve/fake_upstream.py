"""A fake OpenAI-compatible provider: a real async HTTP app on a loopback port.

Behaviour is chosen per provider model name (the request's ``model``) through ``modes``:

* ``ok`` (default): a chat completion (or an SSE stream of 3 content chunks, a usage chunk and
  ``[DONE]``) whose text is ``"answer from MODEL"``;
* ``500``: an OpenAI error envelope with status 500;
* ``slow``: sleeps ``slow_seconds`` before answering (longer than the proxy's read timeout);
* ``echo_key``: a 401 whose message quotes the Authorization header (as some providers do);
* ``400``: a client error (the request is bad whichever LLM gets it);
* ``break``: streams one chunk, then drops the connection;
* ``drip``: streams its chunks 0.3 s apart.

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

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on")
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
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])

    def reset(self) -> None:
        self.modes.clear()
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
        if mode == "echo_key":
            return JSONResponse(
                {"error": {"message": f"Incorrect API key provided: {request.headers.get('authorization')}"}}, 401
            )
        text = f"answer from {model}"
        if not body.get("stream"):
            return JSONResponse(completion(model, text))
        events = self._events(model, text, broken=mode == "break", pause=0.3 if mode == "drip" else 0.0)
        return StreamingResponse(events, media_type="text/event-stream")

    async def _events(self, model: str, text: str, broken: bool, pause: float) -> AsyncIterator[str]:
        yield _chunk(model, {"role": "assistant", "content": ""})
        words = text.split(" ")
        for i, word in enumerate(words):
            yield _chunk(model, {"content": word if i == 0 else " " + word})
            await asyncio.sleep(pause)
            if broken:
                raise ConnectionResetError("fake provider drops the stream")
        yield _chunk(model, {}, finish="stop")
        yield _chunk(model, {}, usage={"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
        yield "data: [DONE]\n\n"
