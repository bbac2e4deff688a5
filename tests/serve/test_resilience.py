"""Provider and connection resilience (issue 14, defects 4, 5 and 6): the real service on loopback
in front of the fake provider in the modes that reproduced each defect.

Each test starts its own service with the ``limits`` it exercises, so breaker, back-off and
budget state never crosses from one test to another.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from irtrouter.errors import ConfigError
from irtrouter.routing import load_router
from irtrouter.serve import ServeSettings, create_app, parse_config
from irtrouter.serve.config import LimitsConfig
from irtrouter.serve.connections import http_protocol, uvicorn_options
from irtrouter.serve.health import RetryBudget, parse_retry_after
from tests.serve.conftest import CLIENT_KEY, PROVIDER_KEYS, environ, provider_model, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread
from tests.serve.test_http import MATH, envelope, settled_row

AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
# No ejection and no retry budget unless a test sets them: each test isolates one mechanism.
LOOSE = {"eject_after_failures": 10_000, "retry_budget_min": 10_000}
Service = Callable[..., AbstractContextManager[tuple[ServerThread, sqlite3.Connection]]]


@pytest.fixture
def service(router_dir: Path, provider_server: tuple[FakeProvider, ServerThread], tmp_path: Path) -> Iterator[Service]:
    """``service(limits={...}, routing={...})``: a fresh real service (uvicorn with the CLI's
    connection settings) in front of the shared fake provider, and its decision database."""
    opened: list[sqlite3.Connection] = []
    count = 0

    @contextmanager
    def start(
        limits: dict[str, Any] | None = None, protocol: type[Any] | None = None, **overrides: Any
    ) -> Iterator[tuple[ServerThread, Any]]:
        nonlocal count
        count += 1
        db_path = tmp_path / f"decisions-{count}.sqlite"
        raw = serve_config(provider_server[1].url, db_path, **overrides)
        raw["limits"] = {**LOOSE, **(limits or {})}
        config = parse_config(raw)
        app = create_app(ServeSettings(config=config, router=load_router(router_dir), environ=environ()))
        options = uvicorn_options(config.limits)
        if protocol is not None:
            options["http"] = http_protocol(config.limits.header_timeout_s, protocol)
        with ServerThread(app, **options) as server:
            db = sqlite3.connect(db_path)
            db.row_factory = sqlite3.Row
            opened.append(db)
            yield server, db

    yield start
    for db in opened:
        db.close()


def chat(server: ServerThread, stream: bool = False, **fields: Any) -> httpx.Response:
    body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": MATH}], "stream": stream, **fields}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=AUTH, timeout=60)


def order(server: ServerThread) -> list[str]:
    """The LLMs a chat about MATH tries, best first (the decision is deterministic)."""
    res = httpx.post(f"{server.url}/v1/route", json={"query": MATH}, headers=AUTH, timeout=30)
    assert res.status_code == 200, res.text
    return res.json()["fallback_order"]


def row(db: sqlite3.Connection, response: httpx.Response) -> dict[str, Any]:
    r = settled_row(db, response.headers["x-irtrouter-request-id"])
    out = dict(r)
    out["attempts"] = json.loads(r["attempts"]) if r["attempts"] else []
    return out


def events(response: httpx.Response) -> list[Any]:
    """The JSON of each ``data:`` event of an SSE answer (``[DONE]`` as the string)."""
    out = []
    for line in response.text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def answer_text(response: httpx.Response) -> str:
    """The assistant's text of a completion or of an SSE stream's deltas."""
    if not response.headers["content-type"].startswith("text/event-stream"):
        return response.json()["choices"][0]["message"]["content"]
    chunks = [c for c in events(response) if isinstance(c, dict) and c.get("choices")]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def no_key_in(*texts: str) -> None:
    for text in texts:
        for key in PROVIDER_KEYS.values():
            assert key not in text


def metric(server: ServerThread, name: str, **labels: str) -> float:
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in httpx.get(f"{server.url}/metrics", timeout=30).text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {want}")


# -- defect 4: a 200 that is not an answer --------------------------------------------------------
@pytest.mark.parametrize("mode", ["html", "error_event"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_200_that_is_not_an_answer_falls_back_and_is_never_recorded_ok(
    service: Service, provider: FakeProvider, mode: str, stream: bool
) -> None:
    """Before, a 200 HTML page or a stream of one error event was relayed and recorded ``ok``."""
    with service() as (server, db):
        first, second = order(server)[:2]
        provider.modes[provider_model(first)] = mode
        res = chat(server, stream=stream)
        assert res.status_code == 200 and res.headers["x-irtrouter-llm"] == second
        assert answer_text(res) == f"answer from {provider_model(second)}"
        if stream:
            chunks = events(res)
            assert chunks[-1] == "[DONE]" and all("error" not in c for c in chunks[:-1])
        record = row(db, res)
        assert record["status"] == "ok" and record["answered_by"] == second
        assert [(a["llm_id"], a.get("error")) for a in record["attempts"]] == [(first, "bad_response"), (second, None)]
        no_key_in(res.text)

        provider.modes[provider_model(second)] = mode  # nothing left to fall back to
        res = chat(server, stream=stream)
        error = envelope(res)
        assert res.status_code == 502 and error["code"] == "upstream_error"
        assert row(db, res)["status"] == "failed"
        no_key_in(res.text)


def test_an_error_event_mid_stream_ends_with_our_error_event_and_is_recorded_stream_error(
    service: Service, provider: FakeProvider
) -> None:
    with service() as (server, db):
        first = order(server)[0]
        provider.modes[provider_model(first)] = "error_mid"
        res = chat(server, stream=True)
        assert res.status_code == 200  # the first chunks went out: no fallback any more
        chunks = events(res)
        assert chunks[-1]["error"]["code"] == "upstream_stream_error" and "[DONE]" not in chunks
        assert row(db, res)["status"] == "stream_error"
        no_key_in(res.text)
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=CLIENT_KEY, max_retries=0)
        with pytest.raises(openai.APIError):  # the SDK raises, not an empty completion
            list(client.chat.completions.create(model=first, messages=[{"role": "user", "content": MATH}], stream=True))


@pytest.mark.parametrize("stream", [False, True])
def test_provider_keys_never_leak_from_success_statuses(
    service: Service, provider: FakeProvider, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    """A key quoted in a 200 body, an HTML page or an error event reaches neither the client nor a log."""
    caplog.set_level(logging.DEBUG)
    with service(routing={"alpha": 0.8, "fallback_attempts": 0}) as (server, _):
        first = order(server)[0]
        seen = []
        for mode in ("key_in_answer", "html", "error_event", "error_mid"):
            provider.modes[provider_model(first)] = mode
            res = chat(server, stream=stream)
            seen.append(res.text)
            if mode == "key_in_answer":
                assert res.status_code == 200 and "you sent Bearer ***" in answer_text(res)
        assert provider.headers[-1]["authorization"] == f"Bearer {PROVIDER_KEYS[first]}"  # really sent
        no_key_in(*seen, caplog.text, httpx.get(f"{server.url}/metrics").text)


# -- defect 5: breaker, deadline, Retry-After, retry budget ---------------------------------------
def test_a_failing_provider_is_ejected_then_probed_by_one_request(service: Service, provider: FakeProvider) -> None:
    limits = {"eject_after_failures": 2, "eject_cooldown_s": 1.0}
    with service(limits=limits) as (server, db):
        first, second = order(server)[:2]
        provider.modes[provider_model(first)] = "500"
        for _ in range(2):
            assert chat(server).headers["x-irtrouter-llm"] == second
        assert metric(server, "irtrouter_upstream_state", llm_id=first) == 2  # open
        assert metric(server, "irtrouter_upstream_ejections_total", llm_id=first) == 1
        calls = provider.models_called().count(provider_model(first))
        res = chat(server)  # ejected: skipped without a call
        assert res.headers["x-irtrouter-llm"] == second
        assert provider.models_called().count(provider_model(first)) == calls
        assert row(db, res)["attempts"][0] == {"llm_id": first, "status": None, "ms": 0.0, "skipped": "ejected"}

        time.sleep(1.2)  # the cool-down passes: half-open, one probe
        provider.modes[provider_model(first)] = "slow"  # the probe will time out
        probe: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: probe.append(chat(server)))
        thread.start()
        deadline = time.monotonic() + 20
        while provider.models_called().count(provider_model(first)) == calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert provider.models_called().count(provider_model(first)) == calls + 1  # the probe is in flight
        for _ in range(2):  # meanwhile the others do not pile onto it
            assert chat(server).headers["x-irtrouter-llm"] == second
        thread.join()
        assert probe[0].headers["x-irtrouter-llm"] == second  # it fell back after the probe failed
        assert provider.models_called().count(provider_model(first)) == calls + 1
        assert metric(server, "irtrouter_upstream_state", llm_id=first) == 2  # open again

        time.sleep(1.2)
        provider.modes[provider_model(first)] = "ok"
        assert chat(server).headers["x-irtrouter-llm"] == first  # the probe succeeds
        assert metric(server, "irtrouter_upstream_state", llm_id=first) == 0
        assert chat(server).headers["x-irtrouter-llm"] == first


@pytest.mark.parametrize("stream", [False, True])
def test_a_trickling_provider_is_cut_off_by_the_request_deadline(
    service: Service, provider: FakeProvider, stream: bool
) -> None:
    """Before, a chunk every 2 s (read timeout 3 s) held a request as long as the provider liked."""
    provider.trickle_seconds = 0.3  # under the read timeout: only the total deadline can stop it
    with service(limits={"request_deadline_s": 2.0}) as (server, db):
        first = order(server)[0]
        provider.modes[provider_model(first)] = "trickle"
        res = chat(server, stream=stream)
        record = row(db, res)
        if stream:
            assert res.status_code == 200
            chunks = events(res)
            assert chunks[-1]["error"]["code"] == "request_deadline_exceeded"
            assert record["status"] == "stream_error"
        else:
            assert res.status_code == 504 and envelope(res)["code"] == "request_deadline_exceeded"
            assert record["status"] == "failed"
            assert [a.get("error") for a in record["attempts"]] == ["deadline"]  # no retry past the deadline


def test_retry_after_is_honoured_and_passed_on_when_every_candidate_is_rate_limited(
    service: Service, provider: FakeProvider
) -> None:
    """Before, every provider answering 429 gave the client a 502 without ``Retry-After``."""
    with service() as (server, db):
        first, second = order(server)[:2]
        pair = {"allowed_llms": [first, second]}
        provider.retry_after = "2"
        provider.modes[provider_model(first)] = "429"
        res = chat(server, **pair)
        assert res.headers["x-irtrouter-llm"] == second  # one rate-limited LLM: fall back
        calls = len(provider.requests)
        res = chat(server, **pair)  # the first is not called again before its Retry-After
        assert res.headers["x-irtrouter-llm"] == second and len(provider.requests) == calls + 1
        assert row(db, res)["attempts"][0]["skipped"] == "rate_limited"

        provider.modes[provider_model(second)] = "429"
        res = chat(server, **pair)
        error = envelope(res)
        assert res.status_code == 429 and error["code"] == "upstream_rate_limited"
        assert 1 <= int(res.headers["retry-after"]) <= 2
        assert row(db, res)["status"] == "failed"
        calls = len(provider.requests)
        res = chat(server, stream=True, **pair)  # both waiting: answered without a provider call
        assert res.status_code == 429 and 1 <= int(res.headers["retry-after"]) <= 2
        assert len(provider.requests) == calls

        provider.modes.clear()
        time.sleep(2.1)
        assert chat(server, **pair).headers["x-irtrouter-llm"] == first


def test_the_retry_budget_keeps_fallbacks_from_multiplying_load(service: Service, provider: FakeProvider) -> None:
    limits = {"retry_budget": 0.25, "retry_budget_min": 0, "retry_budget_window_s": 600}
    n = 12
    with service(limits=limits) as (server, db):
        first, second = order(server)[:2]
        provider.modes[provider_model(first)] = "500"
        answers = [chat(server) for _ in range(n)]
        fell_back = [r for r in answers if r.status_code == 200]
        assert 1 <= len(fell_back) <= 0.25 * n
        assert all(r.headers["x-irtrouter-llm"] == second for r in fell_back)
        refused = [r for r in answers if r.status_code != 200]
        assert all(r.status_code == 502 for r in refused)
        assert row(db, refused[0])["attempts"][-1] == {
            "llm_id": second,
            "status": None,
            "ms": 0.0,
            "skipped": "retry_budget",
        }
        assert provider.models_called().count(provider_model(second)) == len(fell_back)
        assert metric(server, "irtrouter_retry_budget_exhausted_total") == len(refused)


def test_retry_after_parsing_and_the_budget_window() -> None:
    assert parse_retry_after("3") == 3.0 and parse_retry_after("-5") == 0.0
    assert parse_retry_after("99999999") == 3600.0  # capped
    assert parse_retry_after("nan") is None and parse_retry_after("") is None
    now = [0.0]
    budget = RetryBudget(ratio=0.5, window_s=10, minimum=1, clock=lambda: now[0])
    assert budget.spend() and not budget.spend()  # the minimum, with no requests yet
    for _ in range(4):
        budget.request()
    assert budget.spend() and not budget.spend()  # 2 of 4 requests
    now[0] = 11.0  # the window slid past all of it
    assert budget.spend() and not budget.spend() and budget.exhausted == 3


# -- defect 6: half-sent requests, concurrency ----------------------------------------------------
# The head of a request promising a 100-byte body.
HALF_BODY_HEAD = (
    f"POST /v1/route HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {CLIENT_KEY}\r\nContent-Length: 100\r\n\r\n"
).encode()


def _connect(server: ServerThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; socket.timeout if it never does."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


@pytest.mark.parametrize("protocol", ["httptools", "h11"])
def test_a_client_that_sends_half_a_request_is_cut_off(service: Service, protocol: str) -> None:
    """Before, half-sent headers or bodies held a connection open over 75 s."""
    base = HttpToolsProtocol if protocol == "httptools" else H11Protocol
    limits = {"header_timeout_s": 0.5, "body_timeout_s": 0.5}
    with service(limits=limits, protocol=base) as (server, _):
        silent = _connect(server)  # connects, sends nothing
        half_headers = _connect(server)
        half_headers.sendall(b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        half_body = _connect(server)
        half_body.sendall(HALF_BODY_HEAD + b'{"query": "sol')
        try:
            assert _read_all(silent) == b""  # closed by the server, not by our 20 s socket timeout
            assert _read_all(half_headers) == b""
            answer = _read_all(half_body)
        finally:
            for sock in (silent, half_headers, half_body):
                sock.close()
        assert answer.startswith(b"HTTP/1.1 408")
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
        # The server answers everyone else, on a kept-alive connection too.
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
            for _ in range(2):
                assert client.post("/v1/route", json={"query": MATH}).status_code == 200


def test_over_the_concurrency_limit_is_a_503_and_the_others_are_answered(service: Service) -> None:
    with service(limits={"max_concurrency": 2, "body_timeout_s": 30}) as (server, _):
        holders = []
        for _ in range(2):  # two requests in progress: headers sent, body pending
            sock = _connect(server)
            sock.sendall(HALF_BODY_HEAD)
            holders.append(sock)
        try:
            deadline = time.monotonic() + 20
            while (res := httpx.post(f"{server.url}/v1/route", json={"query": MATH}, headers=AUTH)).status_code == 200:
                assert time.monotonic() < deadline, "the limit never applied"
                time.sleep(0.02)
            assert res.status_code == 503 and res.headers["retry-after"] == "1"
            assert envelope(res)["code"] == "server_overloaded"
            assert httpx.get(f"{server.url}/metrics").status_code == 200  # monitoring still answered
        finally:
            for sock in holders:
                sock.close()
        deadline = time.monotonic() + 20
        while (res := httpx.post(f"{server.url}/v1/route", json={"query": MATH}, headers=AUTH)).status_code == 503:
            assert time.monotonic() < deadline, "the slots were never freed"
            time.sleep(0.02)
        assert res.status_code == 200


def test_limits_are_validated_with_the_key_named() -> None:
    base = {"llms": {"a": {"base_url": "http://127.0.0.1:9/v1"}}}
    assert parse_config(base).limits == LimitsConfig()
    for bad, where in [
        ({"request_deadline_s": 0}, "limits.request_deadline_s"),
        ({"max_concurrency": 0}, "limits.max_concurrency"),
        ({"retry_budget": 1.5}, "limits.retry_budget"),
        ({"header_timeout_s": "soon"}, "limits.header_timeout_s"),
        ({"retries": 3}, "limits.retries: unknown key"),
    ]:
        with pytest.raises(ConfigError, match=where):
            parse_config({**base, "limits": bad})
