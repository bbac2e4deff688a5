"""``POST /v1/responses``: the Responses API, routed like a chat completion.

A Responses request is translated to a chat-completions body, routed, sent with fallback and
recorded exactly as ``/v1/chat/completions`` (:mod:`irtrouter.serve.chat`; the record's
``endpoint`` is ``responses``, or ``chat-stream`` for a stream), and the provider's completion is
translated back into a Response object. The routing fields (``alpha``, ``max_cost``...) and the
``x-irtrouter-*`` headers are the same; the Response carries the ``irtrouter`` routing object.

==========================================  ==============================================
Responses request                           chat completions
==========================================  ==============================================
``input`` string                            one ``user`` message
``input`` message items (``role``,          messages; ``input_text`` / ``output_text`` parts
``content`` string or parts)                as text, ``input_image`` as ``image_url``
``function_call`` / ``function_call_output``  an assistant ``tool_calls`` message / a ``tool`` message
``instructions``                            a first ``system`` message
``max_output_tokens``                       ``max_tokens``
``tools`` of type ``function``              ``tools`` (``{"type": "function", "function": ...}``)
``tool_choice``, ``temperature``,           the same fields
``top_p``, ``user``, ``parallel_tool_calls``
``text.format`` ``json_schema``/``json_object``  ``response_format``
``reasoning.effort``                        ``reasoning_effort``
==========================================  ==============================================

What cannot be translated faithfully is refused with a 400 naming it, never dropped silently:
``previous_response_id`` and ``conversation`` (the service keeps no conversation state: send the
whole input), built-in tools (``web_search``, ``file_search``...), input items or parts of other
types (``input_file``, ``reasoning``...). ``store``, ``metadata`` and ``include`` are accepted
and ignored (nothing is stored for retrieval). With ``stream``, the chat chunks become Responses
events: ``response.created``, ``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta`` ..., ``response.output_text.done``, ``response.content_part.done``,
``response.output_item.done`` (and one ``function_call`` item per tool call), ``response.completed``;
a stream that fails after its first byte ends with the error event of chat streams.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from irtrouter.serve import chat
from irtrouter.serve.encoding import FastJSONResponse
from irtrouter.serve.errors import APIError
from irtrouter.serve.overrides import ROUTING_FIELDS

_PASSED = ("model", "temperature", "top_p", "user", "parallel_tool_calls", "stream", "tool_choice")
_IGNORED = ("store", "metadata", "include", "truncation", "service_tier", "prompt_cache_key", "safety_identifier")
_REFUSED = {
    "previous_response_id": "the service keeps no conversation state: send the whole conversation as input",
    "conversation": "the service keeps no conversation state: send the whole conversation as input",
    "prompt": "prompt templates are stored by OpenAI, not by this service",
    "background": "background responses need stored state, which this service does not keep",
}


def _bad(message: str, param: str) -> APIError:
    return APIError(400, message, param=param, code="unsupported_parameter")


def _part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
        raise APIError(400, f"{where}: each content part must be an object with a 'type'", param="input")
    kind = part["type"]
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise APIError(400, f"{where}: a {kind} part needs a string 'text'", param="input")
        return {"type": "text", "text": part["text"]}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if isinstance(part.get("detail"), str):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise _bad(f"{where}: content parts of type {kind!r} cannot be translated to chat completions", "input")


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise APIError(400, "'instructions' must be a string", param="instructions", code="invalid_value")
        out.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str):
        return [*out, {"role": "user", "content": given}]
    if not isinstance(given, list) or not given:
        raise APIError(
            400, "'input' must be a string or a non-empty list of items", param="input", code="invalid_value"
        )
    for i, item in enumerate(given):
        where = f"input[{i}]"
        if not isinstance(item, Mapping):
            raise APIError(400, f"{where} must be an object", param="input", code="invalid_value")
        kind = item.get("type", "message")
        if kind == "message" and isinstance(item.get("role"), str):
            content = item.get("content")
            if isinstance(content, list):
                parts = [_part(p, where) for p in content]
                texts_only = all(p["type"] == "text" for p in parts)
                content = "\n".join(p["text"] for p in parts) if texts_only and item["role"] != "user" else parts
            out.append({"role": item["role"], "content": content})
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function"}
            call["function"] = {"name": item.get("name"), "arguments": item.get("arguments", "")}
            if out and out[-1]["role"] == "assistant" and out[-1].get("tool_calls") is not None:
                out[-1]["tool_calls"].append(call)  # parallel calls of one turn: one assistant message
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            out.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
        else:
            raise _bad(f"{where}: input items of type {kind!r} cannot be translated to chat completions", "input")
    return out


def to_chat(body: Any) -> dict[str, Any]:
    """The chat-completions body for a Responses request body (400 for what cannot be translated)."""
    if not isinstance(body, Mapping):
        raise APIError(400, "the request body must be a JSON object", code="invalid_body")
    for key, why in _REFUSED.items():
        if body.get(key) is not None:
            raise _bad(f"'{key}' is not supported: {why}", key)
    out: dict[str, Any] = {k: body[k] for k in (*_PASSED, *ROUTING_FIELDS) if k in body}
    out["messages"] = _messages(body)
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise APIError(400, "'tools' must be a list", param="tools", code="invalid_value")
        out["tools"] = []
        for t in tools:
            if not isinstance(t, Mapping) or t.get("type") != "function":
                kind = t.get("type") if isinstance(t, Mapping) else t
                raise _bad(f"tools of type {kind!r} are built into OpenAI's service: only function tools", "tools")
            fn = {k: t[k] for k in ("name", "description", "parameters", "strict") if k in t}
            out["tools"].append({"type": "function", "function": fn})
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), Mapping) else None
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, Mapping) and fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    reasoning = body.get("reasoning")
    if isinstance(reasoning, Mapping) and reasoning.get("effort") is not None:
        out["reasoning_effort"] = reasoning["effort"]
    extra = sorted(set(body) - {*out, *_REFUSED, *_IGNORED, "input", "instructions", "max_output_tokens", "text"})
    extra = [k for k in extra if k not in ("tools", "reasoning")]
    if extra:
        raise _bad(f"unknown Responses field(s) {extra}", extra[0])
    return out


def _usage(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, Mapping):
        return None
    tin, tout = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {
        "input_tokens": tin,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": tout,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": tin + tout,
    }


def _response(
    rid: str,
    model: str,
    text: str | None,
    calls: list[dict[str, Any]],
    finish: Any,
    usage: Any,
    request: Mapping[str, Any],
) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if text is not None:
        part = {"type": "output_text", "text": text, "annotations": []}
        output.append(
            {"type": "message", "id": f"msg_{rid[5:]}", "status": "completed", "role": "assistant", "content": [part]}
        )
    for call in calls:
        fn = call.get("function") or {}
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{call.get('id')}",
                "call_id": call.get("id"),
                "name": fn.get("name"),
                "arguments": fn.get("arguments") or "",
                "status": "completed",
            }
        )
    incomplete = finish == "length"
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "error": None,
        "model": model,
        "output": output,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "temperature": request.get("temperature"),
        "top_p": request.get("top_p"),
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "usage": _usage(usage),
    }


def from_completion(completion: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """The Response object for a chat ``completion`` (``request``: the Responses body)."""
    rid = f"resp_{uuid.uuid4().hex}"
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    text = message.get("content")
    out = _response(
        rid,
        completion.get("model", ""),
        text if isinstance(text, str) else None,
        list(message.get("tool_calls") or []),
        choice.get("finish_reason"),
        completion.get("usage"),
        request,
    )
    out["irtrouter"] = completion.get("irtrouter")
    return out


def _event(kind: str, seq: int, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': seq, **fields})}\n\n".encode()


async def translate_stream(chunks: AsyncIterable[Any], model: str, request: Mapping[str, Any]) -> AsyncIterator[bytes]:
    """Chat-completion SSE bytes in, Responses SSE events out (our error event passes as is)."""
    rid = f"resp_{uuid.uuid4().hex}"
    mid = f"msg_{rid[5:]}"
    seq = 0
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage, opened = None, None, False
    base = _response(rid, model, None, [], None, None, request)
    yield _event("response.created", seq, response={**base, "status": "in_progress", "output": []})
    buffer = ""
    async for raw in chunks:
        buffer += raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        while "\n\n" in buffer:
            event, buffer = buffer.split("\n\n", 1)
            data = "".join(line[5:].strip() for line in event.split("\n") if line.startswith("data:"))
            if not data or data == "[DONE]":
                continue
            chunk = json.loads(data)
            if "error" in chunk:  # the service's own error event: the SDK raises it, as for chat
                yield f"data: {data}\n\n".encode()
                return
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                finish = choice.get("finish_reason") or finish
                delta = choice.get("delta") or {}
                for call in delta.get("tool_calls") or []:
                    slot = calls.setdefault(
                        call.get("index", 0), {"id": None, "function": {"name": "", "arguments": ""}}
                    )
                    slot["id"] = call.get("id") or slot["id"]
                    fn = call.get("function") or {}
                    slot["function"]["name"] += fn.get("name") or ""
                    slot["function"]["arguments"] += fn.get("arguments") or ""
                piece = delta.get("content")
                if isinstance(piece, str) and piece:
                    if not opened:
                        opened = True
                        item = {
                            "type": "message",
                            "id": mid,
                            "status": "in_progress",
                            "role": "assistant",
                            "content": [],
                        }
                        seq += 1
                        yield _event("response.output_item.added", seq, output_index=0, item=item)
                        seq += 1
                        part = {"type": "output_text", "text": "", "annotations": []}
                        yield _event(
                            "response.content_part.added", seq, item_id=mid, output_index=0, content_index=0, part=part
                        )
                    text.append(piece)
                    seq += 1
                    yield _event(
                        "response.output_text.delta",
                        seq,
                        item_id=mid,
                        output_index=0,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                    )
    final = _response(
        rid, model, "".join(text) if opened else None, [calls[k] for k in sorted(calls)], finish, usage, request
    )
    if opened:
        whole = "".join(text)
        part = {"type": "output_text", "text": whole, "annotations": []}
        for kind, fields in (
            ("response.output_text.done", {"text": whole, "logprobs": []}),
            ("response.content_part.done", {"part": part}),
        ):
            seq += 1
            yield _event(kind, seq, item_id=mid, output_index=0, content_index=0, **fields)
        seq += 1
        yield _event("response.output_item.done", seq, output_index=0, item=final["output"][0])
    for index, item in enumerate(final["output"][1 if opened else 0 :], start=1 if opened else 0):
        seq += 1
        yield _event("response.output_item.added", seq, output_index=index, item={**item, "status": "in_progress"})
        seq += 1
        yield _event("response.output_item.done", seq, output_index=index, item=item)
    seq += 1
    yield _event("response.completed", seq, response=final)


def register(app: FastAPI, service: chat.ChatService) -> None:
    """Add ``POST /v1/responses`` to ``app``."""

    @app.post("/v1/responses", summary="The Responses API, routed (translated to chat completions)")
    async def responses(request: Request) -> Response:
        client = service.authorize(request)
        body = await service.read_json(request)
        answer = await chat.complete(service, request, client, to_chat(body), endpoint="responses")
        headers = {k: v for k, v in answer.headers.items() if k.lower().startswith(("x-irtrouter-", "retry-after"))}
        if isinstance(answer, StreamingResponse):
            model = answer.headers.get("x-irtrouter-llm", "")
            events = translate_stream(answer.body_iterator, model, body)
            return StreamingResponse(
                events, media_type="text/event-stream", headers={**headers, "Cache-Control": "no-cache"}
            )
        assert isinstance(answer, FastJSONResponse)  # chat.complete's answer when it does not stream
        return FastJSONResponse(from_completion(answer.content, body), headers=headers)
