"""Fixtures for the service tests: a small router, a fake provider, the real proxy on loopback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from irtrouter.routing import IRTRouter, load_router
from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.serve import ServeSettings, create_app, parse_config
from tests.helpers import TOPIC_LLMS, topic_catalog, topic_results
from tests.serve.fake_upstream import FakeProvider, ServerThread

CLIENT_KEY = "client-key-for-tests"
# Provider keys long and distinctive, so a leak anywhere is found by substring search.
PROVIDER_KEYS = {m: f"sk-provider-secret-{i}-{m}-0123456789abcdef" for i, m in enumerate(TOPIC_LLMS)}
READ_TIMEOUT = 1.5  # generous: on a loaded CI machine a healthy fake answer must never time out


def key_env(llm_id: str) -> str:
    return f"TEST_PROVIDER_KEY_{TOPIC_LLMS.index(llm_id)}"


def provider_model(llm_id: str) -> str:
    return f"prov-{llm_id}"


def serve_config(provider_url: str, db_path: Path, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "llms": {
            m: {
                "base_url": f"{provider_url}/v1",
                "model": provider_model(m),
                "api_key_env": key_env(m),
                "timeout": {"connect": 2, "read": READ_TIMEOUT},
            }
            for m in TOPIC_LLMS
        },
        "routing": {"alpha": 0.8, "fallback_attempts": 1},
        "profiles": {"cheap": {"alpha": 0.2, "allowed_llms": ["math-small", "code-small", "weak-small"]}},
        "auth": {"api_keys_env": ["TEST_CLIENT_KEY"]},
        "storage": {"url": f"sqlite:///{db_path}", "store_text": True},
        "server": {"max_body_bytes": 65536},
        # The shared proxy serves tests that fail providers on purpose, in any order: no ejection
        # or retry budget carried from one test to the next (test_resilience.py tests them).
        "limits": {"eject_after_failures": 10_000, "retry_budget_min": 10_000},
    }
    raw.update(overrides)
    return raw


def environ() -> dict[str, str]:
    return {"TEST_CLIENT_KEY": CLIENT_KEY, **{key_env(m): k for m, k in PROVIDER_KEYS.items()}}


@pytest.fixture(scope="session")
def router_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MIRT router on the synthetic topics, hashing embedder (fast, deterministic)."""
    path = tmp_path_factory.mktemp("serve-router")
    router = IRTRouter(embedder="hashing:64", predictor_params={"max_epochs": 80})
    router.fit(topic_results(n_per_topic=60, seed=1), topic_catalog(), use_cache=False)
    router.save(path)
    return path


@pytest.fixture(scope="session")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small LLM Bandit policy router on the synthetic topics (short training: mechanics only)."""
    path = tmp_path_factory.mktemp("serve-policy")
    router = PolicyRouter(
        embedder="hashing:64",
        n_dims=4,
        identity_params={"learning_rate": 0.01, "max_epochs": 20},
        policy_params={"hidden_units": 16, "pretrain_steps": 40, "ppo_steps": 10, "ppo_batch": 32, "crossfit_folds": 0},
    )
    router.fit(topic_results(n_per_topic=30, seed=5), topic_catalog(), use_cache=False)
    router.save(path)
    return path


@pytest.fixture(scope="session")
def provider_server() -> Iterator[tuple[FakeProvider, ServerThread]]:
    provider = FakeProvider(slow_seconds=READ_TIMEOUT * 4)
    with ServerThread(provider.app) as server:
        yield provider, server


@pytest.fixture
def provider(provider_server: tuple[FakeProvider, ServerThread]) -> FakeProvider:
    fake = provider_server[0]
    fake.reset()
    return fake


@pytest.fixture(scope="session")
def proxy_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve-db") / "decisions.sqlite"


@pytest.fixture(scope="session")
def proxy(
    router_dir: Path, provider_server: tuple[FakeProvider, ServerThread], proxy_db: Path
) -> Iterator[ServerThread]:
    """The real service (uvicorn, loopback) in front of the fake provider."""
    config = parse_config(serve_config(provider_server[1].url, proxy_db))
    app = create_app(ServeSettings(config=config, router=load_router(router_dir), environ=environ()))
    with ServerThread(app) as server:
        yield server


@pytest.fixture(scope="session")
def policy_proxy(
    policy_dir: Path, provider_server: tuple[FakeProvider, ServerThread], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """The real service in front of the fake provider, routing with the policy router."""
    db = tmp_path_factory.mktemp("serve-policy-db") / "decisions.sqlite"
    config = parse_config(serve_config(provider_server[1].url, db))
    app = create_app(ServeSettings(config=config, router=load_router(policy_dir), environ=environ()))
    with ServerThread(app) as server:
        yield server


@pytest.fixture
def client(proxy: ServerThread) -> openai.OpenAI:
    """The official OpenAI client, unchanged, pointed at the proxy."""
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)


@pytest.fixture
def db(proxy_db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(proxy_db)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()
