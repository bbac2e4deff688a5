"""The service over real HTTP: the official openai client -> the proxy (uvicorn) -> a fake provider."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import httpx
import openai
import pytest

from irtrouter.routing import load_router
from tests.serve.conftest import CLIENT_KEY, PROVIDER_KEYS, provider_model
from tests.serve.fake_upstream import FakeProvider, ServerThread

MATH = "solve the integral of this equation with algebra"
CODE = "python function that returns a list"


def raw_post(
    proxy: ServerThread, path: str, content: bytes | str, key: str | None = CLIENT_KEY, **headers: str
) -> httpx.Response:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    headers.setdefault("Content-Type", "application/json")
    return httpx.post(f"{proxy.url}{path}", content=content, headers=headers, timeout=30)


def envelope(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"]
    return body["error"]


def decision_row(db: sqlite3.Connection, request_id: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM decisions WHERE request_id = ?", (request_id,)).fetchone()
    assert row is not None, f"no decision row for {request_id}"
    return row


def settled_row(db: sqlite3.Connection, request_id: str) -> sqlite3.Row:
    """The decision row of a stream once its outcome is written (the stream has ended)."""
    deadline = time.monotonic() + 10
    while decision_row(db, request_id)["status"] == "streaming" and time.monotonic() < deadline:
        time.sleep(0.02)
    return decision_row(db, request_id)


# -- chat completions ----------------------------------------------------------------------------
def test_chat_completion_routes_forwards_and_records(client, provider: FakeProvider, db, router_dir: Path) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": MATH}], extra_body={"alpha": 0.3}
    )
    completion = raw.parse()
    expected = load_router(router_dir).route(MATH, alpha=0.3)
    # The router's own decision for this query, answered by that LLM's provider.
    assert completion.model == expected.llm_id == "math-small"
    assert completion.choices[0].message.content == f"answer from {provider_model('math-small')}"
    assert raw.headers["x-irtrouter-llm"] == "math-small"
    routing = completion.model_extra["irtrouter"]
    assert routing["llm_id"] == "math-small" and routing["answered_by"] == "math-small"
    assert [r["llm_id"] for r in routing["llms"]] == list(expected.llm_ids)
    assert [r["p_hat"] for r in routing["llms"]] == pytest.approx(expected.p_hat, abs=1e-5)
    assert routing["reason"] and routing["cost_source"] == "catalog"
    # What the provider got: its model name, its key, no routing fields.
    sent = provider.requests[-1]
    assert sent["model"] == provider_model("math-small") and "alpha" not in sent
    assert provider.headers[-1]["authorization"] == f"Bearer {PROVIDER_KEYS['math-small']}"
    row = decision_row(db, raw.headers["x-irtrouter-request-id"])
    assert (row["status"], row["llm_id"], row["answered_by"], row["upstream_status"]) == (
        "ok",
        "math-small",
        "math-small",
        200,
    )
    assert (row["input_tokens"], row["output_tokens"]) == (12, 7)
    assert row["cost_usd"] == pytest.approx((12 * 0.2 + 7 * 0.2) / 1e6)
    assert json.loads(row["p_hat"])["big"] == pytest.approx(expected.p_hat[3], abs=1e-5)
    assert row["query_text"] == MATH and row["expected_cost_usd"] > 0


def test_alpha_trades_cost_for_performance(client, provider) -> None:
    cheap = client.chat.completions.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": CODE}], extra_body={"alpha": 0.2}
    )
    sure = client.chat.completions.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": CODE}], extra_body={"alpha": 1.0}
    )
    assert cheap.model == "code-small" and sure.model == "big"


def test_profile_and_allowed_llms_restrict_the_choice(client, provider) -> None:
    out = client.chat.completions.create(
        model="irtrouter/cheap", messages=[{"role": "user", "content": MATH}], extra_body={"alpha": 1.0}
    )
    assert out.model != "big"  # the profile allows only the small LLMs
    out = client.chat.completions.create(
        model="irtrouter/auto",
        messages=[{"role": "user", "content": MATH}],
        extra_body={"allowed_llms": ["weak-small", "code-small"], "alpha": 0.5},
    )
    assert out.model in ("weak-small", "code-small")
    pinned = client.chat.completions.create(model="weak-small", messages=[{"role": "user", "content": MATH}])
    assert pinned.model == "weak-small"


def test_max_cost_excludes_expensive_llms(client, provider, proxy) -> None:
    # big costs $10/M: 512 default output tokens alone are ~$0.005, the small LLMs ~$0.0001.
    out = client.chat.completions.create(
        model="irtrouter/auto",
        messages=[{"role": "user", "content": MATH}],
        extra_body={"alpha": 1.0, "max_cost": 0.001},
    )
    assert out.model != "big"
    assert out.model_extra["irtrouter"]["expected_cost_usd"] <= 0.001
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="irtrouter/auto", messages=[{"role": "user", "content": MATH}], extra_body={"max_cost": 1e-9}
        )
    assert err.value.code == "max_cost_too_low"


def test_streaming_passes_chunks_through(client, provider, db) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": CODE}], stream=True, extra_body={"alpha": 0.2}
    ) as response:
        request_id = response.headers["x-irtrouter-request-id"]
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"answer from {provider_model('code-small')}"
    assert {c.model for c in chunks} == {"code-small"}
    assert len(chunks) >= 5  # role, 3 words, finish, usage: relayed one by one
    assert provider.requests[-1]["stream"] is True
    row = settled_row(db, request_id)
    assert (row["status"], row["answered_by"], row["output_tokens"]) == ("ok", "code-small", 3)


# -- failures ------------------------------------------------------------------------------------
def test_fallback_on_upstream_500(client, provider, db) -> None:
    provider.modes[provider_model("math-small")] = "500"
    raw = client.chat.completions.with_raw_response.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": MATH}], extra_body={"alpha": 0.3}
    )
    out = raw.parse()
    routing = out.model_extra["irtrouter"]
    assert routing["llm_id"] == "math-small" and out.model == routing["fallback_order"][1] != "math-small"
    assert [a["status"] for a in routing["attempts"]] == [500, 200]
    assert provider.models_called() == [provider_model("math-small"), provider_model(out.model)]
    row = decision_row(db, raw.headers["x-irtrouter-request-id"])
    assert row["answered_by"] == out.model and json.loads(row["attempts"])[0]["error"] == "status_5xx"


def test_fallback_on_timeout_then_504(client, provider) -> None:
    provider.modes[provider_model("math-small")] = "slow"
    out = client.chat.completions.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": MATH}], extra_body={"alpha": 0.3}
    )
    assert out.model != "math-small"
    assert out.model_extra["irtrouter"]["attempts"][0]["error"] == "timeout"
    for m in ("math-small", "code-small", "weak-small", "big"):
        provider.modes[provider_model(m)] = "slow"
    provider.requests.clear()
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="irtrouter/auto", messages=[{"role": "user", "content": MATH}])
    assert err.value.status_code == 504 and err.value.body["code"] == "upstream_timeout"
    assert len(provider.requests) == 2  # the chosen LLM + one fallback attempt (routing.fallback_attempts = 1)


def test_502_when_every_attempt_fails_and_no_retry_on_client_errors(client, provider) -> None:
    for m in ("math-small", "code-small", "weak-small", "big"):
        provider.modes[provider_model(m)] = "500"
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="irtrouter/auto", messages=[{"role": "user", "content": MATH}])
    assert err.value.status_code == 502 and err.value.body["code"] == "upstream_error"
    provider.reset()
    provider.modes[provider_model("math-small")] = "400"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="math-small", messages=[{"role": "user", "content": MATH}])
    assert "context too long" in bad.value.message and len(provider.requests) == 1


def test_streaming_fallback_and_broken_stream(client, provider, db) -> None:
    provider.modes[provider_model("code-small")] = "500"
    stream = client.chat.completions.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": CODE}], stream=True, extra_body={"alpha": 0.2}
    )
    chunks = list(stream)
    answered = {c.model for c in chunks}
    assert len(answered) == 1 and answered != {"code-small"}
    provider.reset()
    provider.modes[provider_model("code-small")] = "break"
    with client.chat.completions.with_streaming_response.create(
        model="code-small", messages=[{"role": "user", "content": CODE}], stream=True
    ) as response:
        request_id = response.headers["x-irtrouter-request-id"]
        with pytest.raises(openai.APIError):
            list(response.parse())  # the proxy ends a broken stream with an error event
    assert settled_row(db, request_id)["status"] == "stream_error"


def test_client_leaving_mid_stream_is_recorded(proxy, provider, db) -> None:
    provider.modes[provider_model("code-small")] = "drip"
    body = {"model": "code-small", "messages": [{"role": "user", "content": CODE}], "stream": True}
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", json=body, headers=headers) as response:
        request_id = response.headers["x-irtrouter-request-id"]
        next(response.iter_bytes())  # one event, then hang up
    assert settled_row(db, request_id)["status"] == "client_closed"


def test_provider_keys_never_leak(client, provider, proxy, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    provider.modes[provider_model("big")] = "echo_key"
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="big", messages=[{"role": "user", "content": MATH}])
    assert err.value.status_code == 502 and err.value.body["code"] == "upstream_auth_failed"
    provider.modes[provider_model("big")] = "500"
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="big", messages=[{"role": "user", "content": MATH}])
    seen = [err.value.response.text, caplog.text]
    seen += [httpx.get(f"{proxy.url}{p}").text for p in ("/metrics", "/healthz", "/openapi.json")]
    seen.append(httpx.get(f"{proxy.url}/v1/models", headers={"Authorization": f"Bearer {CLIENT_KEY}"}).text)
    assert provider.headers[0]["authorization"].endswith(PROVIDER_KEYS["big"])  # the key was really sent
    for text in seen:
        for key in PROVIDER_KEYS.values():
            assert key not in text


# -- the other endpoints -------------------------------------------------------------------------
def test_route_endpoint_gives_the_decision_without_calling_a_provider(proxy, provider, db, router_dir) -> None:
    response = raw_post(proxy, "/v1/route", json.dumps({"query": CODE, "alpha": 0.2}))
    assert response.status_code == 200
    body = response.json()
    expected = load_router(router_dir).route(CODE, alpha=0.2)
    assert body["llm_id"] == expected.llm_id and body["difficulty"] == pytest.approx(expected.difficulty, abs=1e-5)
    assert {"llm_id", "p_hat", "cost", "score", "expected_cost_usd", "allowed"} <= set(body["llms"][0])
    assert body["reason"] and provider.requests == []
    # The router's own explanation passes through, and its one-line reason is the header's.
    assert body["explanation"]["reason"] == body["reason"] == response.headers["x-irtrouter-reason"]
    assert decision_row(db, body["request_id"])["endpoint"] == "route"
    with_messages = raw_post(
        proxy,
        "/v1/route",
        json.dumps(
            {
                "model": "irtrouter/cheap",
                "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": CODE}],
            }
        ),
    )
    assert with_messages.status_code == 200 and with_messages.json()["profile"] == "cheap"


def test_feedback_round_trip(client, provider, db) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": MATH}]
    )
    request_id = raw.headers["x-irtrouter-request-id"]
    ack = client.post(
        "/feedback", body={"request_id": request_id, "score": 0.75, "comment": "good"}, cast_to=httpx.Response
    )
    assert ack.status_code == 200 and ack.json()["request_id"] == request_id
    rows = db.execute("SELECT score, comment FROM feedback WHERE request_id = ?", (request_id,)).fetchall()
    assert [tuple(r) for r in rows] == [(0.75, "good")]
    with pytest.raises(openai.NotFoundError):
        client.post("/feedback", body={"request_id": "irt-unknown", "score": 1}, cast_to=httpx.Response)
    with pytest.raises(openai.BadRequestError):
        client.post("/feedback", body={"request_id": request_id, "score": 2}, cast_to=httpx.Response)


def test_models_health_and_metrics(client, proxy) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == ["irtrouter/auto", "irtrouter/cheap", "math-small", "code-small", "weak-small", "big"]
    health = httpx.get(f"{proxy.url}/healthz").json()
    assert health["status"] == "ok" and health["database"] == "ok" and health["unroutable_llms"] == []
    client.chat.completions.create(model="irtrouter/auto", messages=[{"role": "user", "content": CODE}])
    metrics = httpx.get(f"{proxy.url}/metrics").text
    assert 'irtrouter_requests_total{endpoint="/v1/chat/completions",status="200"}' in metrics
    assert "irtrouter_decisions_total{llm_id=" in metrics
    assert "irtrouter_routing_seconds_bucket{le=" in metrics


# -- client mistakes: 4xx with the envelope, never 500 -------------------------------------------
@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        ('{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "\\ud800 x"}]}', 400, "invalid_json"),
        ("", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_body"),
        ('{"model": "irtrouter/auto"}', 400, "missing_messages"),
        ('{"model": "irtrouter/auto", "messages": []}', 400, "invalid_value"),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "assistant", "content": "hi"}]}',
            400,
            "missing_user_message",
        ),
        ('{"model": "irtrouter/auto", "messages": [{"role": "user", "content": 5}]}', 400, None),
        ('{"model": "irtrouter/nope", "messages": [{"role": "user", "content": "hi"}]}', 404, "model_not_found"),
        ('{"model": "gpt-17", "messages": [{"role": "user", "content": "hi"}]}', 404, "model_not_found"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', 400, "invalid_value"),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}], "alpha": 1.5}',
            400,
            "invalid_value",
        ),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}], "alpha": true}',
            400,
            "invalid_value",
        ),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}], "allowed_llms": ["gpt-17"]}',
            400,
            "unknown_llm",
        ),
        (
            '{"model": "irtrouter/cheap", "messages": [{"role": "user", "content": "hi"}], "allowed_llms": ["big"]}',
            400,
            "llm_not_allowed",
        ),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}], "max_cost": -1}',
            400,
            "invalid_value",
        ),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
            400,
            "invalid_value",
        ),
        (
            '{"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}',
            400,
            "invalid_value",
        ),
    ],
)
def test_client_mistakes_get_4xx_envelopes(proxy, provider, content: str, status: int, code: str | None) -> None:
    response = raw_post(proxy, "/v1/chat/completions", content)
    assert response.status_code == status, response.text
    assert envelope(response)["code"] == code
    assert provider.requests == []


def test_oversize_body_auth_and_unknown_paths(proxy, provider) -> None:
    big = json.dumps({"model": "irtrouter/auto", "messages": [{"role": "user", "content": "x" * 70_000}]})
    assert raw_post(proxy, "/v1/chat/completions", big).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b" " * 8192

    streamed = httpx.post(f"{proxy.url}/v1/route", content=chunks(), headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert streamed.status_code == 413 and envelope(streamed)["code"] == "body_too_large"
    ok_body = json.dumps({"model": "irtrouter/auto", "messages": [{"role": "user", "content": "hi"}]})
    assert envelope(raw_post(proxy, "/v1/chat/completions", ok_body, key=None))["type"] == "authentication_error"
    assert raw_post(proxy, "/v1/chat/completions", ok_body, key="wrong").status_code == 401
    assert raw_post(proxy, "/v1/feedback", "{}", key="wrong").status_code == 401
    bad_client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_client.chat.completions.create(model="irtrouter/auto", messages=[{"role": "user", "content": "hi"}])
    assert envelope(httpx.get(f"{proxy.url}/v1/nothing"))["code"] == "not_found"
    assert httpx.get(f"{proxy.url}/v1/chat/completions").status_code == 405
    assert provider.requests == []
