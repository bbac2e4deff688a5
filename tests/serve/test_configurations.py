"""RADAR configurations behind the service: the provider gets the base model and the budget."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from irtrouter.data.catalog import LLMCatalog
from irtrouter.routing import IRTRouter, load_router
from irtrouter.serve import ServeSettings, create_app, parse_config
from tests.helpers import TOPIC_LLMS, topic_catalog, topic_results
from tests.serve.conftest import CLIENT_KEY, environ, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

# The four topic LLMs, two of them turned into budgeted configurations of a provider model.
CONFIGS = {
    "math-small": {"thinking_budget": 2048},
    "big": {"reasoning_effort": "high"},
}


def configured_catalog() -> LLMCatalog:
    specs = []
    for spec in topic_catalog().values():
        budget = CONFIGS.get(spec.llm_id)
        specs.append(spec.with_budget(**budget) if budget else spec)
    return LLMCatalog(specs)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeProvider, ServerThread, LLMCatalog]]:
    catalog = configured_catalog()
    ids = dict(zip(TOPIC_LLMS, catalog.ids, strict=True))
    results = topic_results(n_per_topic=40, seed=3)
    results = type(results)(**{**results.__dict__, "llm_ids": tuple(ids[m] for m in results.llm_ids)})
    router_path = tmp_path_factory.mktemp("config-router")
    IRTRouter(embedder="hashing:64", predictor_params={"max_epochs": 60}).fit(results, catalog, use_cache=False).save(
        router_path
    )
    provider = FakeProvider()
    with ServerThread(provider.app) as upstream:
        raw = serve_config(upstream.url, tmp_path_factory.mktemp("config-db") / "d.sqlite")
        # Configure the configurations' upstreams without a model name: the base model is used.
        raw["llms"] = {ids[m]: {**entry, "model": None} for m, entry in raw["llms"].items()}
        raw["profiles"] = {}
        app = create_app(ServeSettings(config=parse_config(raw), router=load_router(router_path), environ=environ()))
        with ServerThread(app) as proxy:
            yield provider, proxy, catalog


def ask(proxy: ServerThread, llm_id: str, **extra: object) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    reply = client.chat.completions.create(
        model="irtrouter/auto",
        messages=[{"role": "user", "content": "solve the integral equation"}],
        extra_body={"allowed_llms": [llm_id], **extra},
    )
    assert reply.model == llm_id  # the configuration that answered


def test_reasoning_effort_reaches_the_provider(served):
    provider, proxy, _ = served
    provider.reset()
    ask(proxy, "big@high", reasoning_effort="low")
    sent = provider.requests[-1]
    assert sent["model"] == "big"  # the base model, not the configuration id
    assert sent["reasoning_effort"] == "high"  # the routed budget wins over the client's


def test_thinking_budget_reaches_the_provider_inside_max_tokens(served):
    provider, proxy, _ = served
    provider.reset()
    ask(proxy, "math-small@think-2048", max_tokens=300)
    sent = provider.requests[-1]
    assert sent["model"] == "math-small"
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] == 2048 + 300


def test_a_plain_llm_gets_no_budget_fields(served):
    provider, proxy, _ = served
    provider.reset()
    ask(proxy, "code-small")
    sent = provider.requests[-1]
    assert sent["model"] == "code-small" and "thinking" not in sent and "reasoning_effort" not in sent
