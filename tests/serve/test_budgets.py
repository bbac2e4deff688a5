"""Budgets and rate limits per client key, through the real server, kept in the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from irtrouter.routing import load_router
from irtrouter.serve import ServeSettings, create_app, parse_config
from tests.serve.conftest import CLIENT_KEY, environ, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

KEYS = {"ALICE_KEY": "alice-secret-key-0123456789", "BOB_KEY": "bob-secret-key-0123456789"}
MSG = [{"role": "user", "content": "solve the integral equation algebra"}]


def budget_config(url: str, db: Path) -> dict[str, Any]:
    raw = serve_config(url, db)
    raw["auth"]["clients"] = {
        "alice": {"key_env": "ALICE_KEY", "daily_usd": 1e-6},  # one fake answer costs more than this
        "bob": {"key_env": "BOB_KEY", "requests_per_minute": 2},
    }
    return raw


def start(router_dir: Path, url: str, db: Path) -> ServerThread:
    app = create_app(
        ServeSettings(
            config=parse_config(budget_config(url, db)), router=load_router(router_dir), environ={**environ(), **KEYS}
        )
    )
    return ServerThread(app)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("budgets") / "d.sqlite"


@pytest.fixture(scope="module")
def budgeted(
    router_dir: Path, provider_server: tuple[FakeProvider, ServerThread], db_path: Path
) -> Iterator[ServerThread]:
    with start(router_dir, provider_server[1].url, db_path) as server:
        yield server


def as_client(server: ServerThread, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


def test_a_spent_daily_budget_is_our_429_with_retry_after_and_survives_a_restart(
    budgeted: ServerThread, provider: FakeProvider, router_dir: Path, db_path: Path, provider_server: Any
) -> None:
    alice = as_client(budgeted, KEYS["ALICE_KEY"])
    first = alice.chat.completions.create(model="irtrouter/auto", messages=MSG)
    assert first.model_extra["irtrouter"]["cost_usd"] > 1e-6
    calls = len(provider.requests)
    with pytest.raises(openai.RateLimitError) as err:
        alice.chat.completions.create(model="irtrouter/auto", messages=MSG)
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == "budget_exceeded" and "daily_usd" in body["message"]
    assert 1 <= int(err.value.response.headers["retry-after"]) <= 86400
    assert len(provider.requests) == calls  # refused before any provider call
    with pytest.raises(openai.RateLimitError):  # streams too
        alice.chat.completions.create(model="irtrouter/auto", messages=MSG, stream=True)
    # Another client is unaffected; the spend is kept in the store under the client's name.
    assert as_client(budgeted, CLIENT_KEY).chat.completions.create(model="irtrouter/auto", messages=MSG).model
    with sqlite3.connect(db_path) as conn:
        ids = {r[0] for r in conn.execute("SELECT client_key_id FROM decisions")}
        dump = "\n".join(str(r) for r in conn.execute("SELECT * FROM decisions"))
    assert {"alice", "TEST_CLIENT_KEY"} <= ids
    assert KEYS["ALICE_KEY"] not in dump and CLIENT_KEY not in dump
    # A second service on the same store reconciles the spend at start: alice is still over.
    with start(router_dir, provider_server[1].url, db_path) as again:
        with pytest.raises(openai.RateLimitError):
            as_client(again, KEYS["ALICE_KEY"]).chat.completions.create(model="irtrouter/auto", messages=MSG)
        metrics = httpx.get(f"{again.url}/metrics").text
    assert 'irtrouter_client_rejected_total{client="alice",reason="budget_exceeded"} 1' in metrics


def test_requests_per_minute_is_a_429_rate_limited(budgeted: ServerThread, provider: FakeProvider) -> None:
    bob = as_client(budgeted, KEYS["BOB_KEY"])
    bob.chat.completions.create(model="irtrouter/auto", messages=MSG)
    bob.post("/route", body={"query": "what is a prime number"}, cast_to=object)  # routes count too
    with pytest.raises(openai.RateLimitError) as err:
        bob.chat.completions.create(model="irtrouter/auto", messages=MSG)
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == "rate_limited"
    assert 1 <= int(err.value.response.headers["retry-after"]) <= 60


def test_a_fallback_is_refused_once_the_budget_is_spent() -> None:
    """The check before each provider call (the fallback's included) reads the running spend:
    the first LLM fails retryably after the client was billed by another request meanwhile, so
    the fallback's check refuses, and no second provider is called."""
    import asyncio
    from types import SimpleNamespace

    from irtrouter.serve.budgets import Budgets
    from irtrouter.serve.config import ClientConfig
    from irtrouter.serve.errors import APIError, UpstreamError
    from irtrouter.serve.health import ProviderHealth
    from irtrouter.serve.metrics import Metrics
    from irtrouter.serve.proxy import with_fallback

    config = parse_config({"llms": {m: {"base_url": "http://127.0.0.1:9/v1"} for m in ("a", "b")}})
    service = SimpleNamespace(config=config, metrics=Metrics(), health=ProviderHealth(["a", "b"], config.limits))
    budgets = Budgets({"c": ClientConfig(key_env="X", monthly_usd=1.0)})
    called: list[str] = []

    async def call(llm_id: str) -> tuple[int, dict[str, Any]]:
        called.append(llm_id)
        budgets.spent("c", 1.5)  # another request of the same client was billed meanwhile
        raise UpstreamError(llm_id, "status_5xx", f"{llm_id}: 503", status=503)

    routed = SimpleNamespace(order=("a", "b"))
    with pytest.raises(APIError) as err:
        asyncio.run(with_fallback(service, routed, call, before_call=lambda: budgets.check_spend("c")))  # type: ignore[arg-type]
    assert err.value.code == "budget_exceeded" and called == ["a"]


def test_the_start_up_summary_line_names_router_llms_store_auth_and_hides_the_password(
    router_dir: Path, provider_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from irtrouter.serve.chat import startup_summary

    caplog.set_level("INFO", logger="irtrouter.serve.app")
    with start(router_dir, provider_server[1].url, tmp_path / "d.sqlite"):
        pass
    lines = [r.getMessage() for r in caplog.records if r.name == "irtrouter.serve.app" and "serving" in r.getMessage()]
    assert len(lines) == 1
    assert "routable LLMs: math-small, code-small, weak-small, big" in lines[0]
    assert "auth on (3 keys)" in lines[0] and "exploration off" in lines[0] and "d.sqlite" in lines[0]
    config = parse_config(budget_config("http://127.0.0.1:9", tmp_path / "x.sqlite"))
    line = startup_summary(config, "r", "v1-abc", ["a"], "postgresql://u:hunter2@db:5432/x", 0)
    assert "hunter2" not in line and "auth off" in line
