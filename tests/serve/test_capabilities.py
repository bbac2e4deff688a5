"""Capabilities through the real server: requests go only to LLMs that can serve them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from irtrouter.data.catalog import LLMCatalog
from irtrouter.routing import load_router
from irtrouter.serve import ServeSettings, create_app, parse_config
from tests.serve.conftest import CLIENT_KEY, environ, provider_model, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
MATH = "solve the integral equation algebra derivative"


@pytest.fixture(scope="module")
def capable(
    router_dir: Path, provider_server: tuple[FakeProvider, ServerThread], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """Capabilities: math-small has no tools and a 2k window (from the config); big sees images
    (from the router's catalog); code-small and weak-small are unknown (allowed)."""
    raw = serve_config(provider_server[1].url, tmp_path_factory.mktemp("caps") / "d.sqlite")
    raw["llms"]["math-small"]["capabilities"] = {"tools": False, "context_window": 2048, "max_output_tokens": 1000}
    raw["llms"]["weak-small"]["capabilities"] = {"vision": False, "json_schema": False}
    raw["llms"]["code-small"]["capabilities"] = {"vision": False, "json_schema": False}
    router = load_router(router_dir)
    records = router.catalog_.to_records()
    for rec in records:
        if rec["llm_id"] == "math-small":
            rec["supports_vision"] = False
    router.catalog_ = LLMCatalog.from_records(records)
    app = create_app(ServeSettings(config=parse_config(raw), router=router, environ=environ()))
    with ServerThread(app) as server:
        yield server


@pytest.fixture
def cclient(capable: ServerThread, provider: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{capable.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)


def test_a_request_with_tools_never_goes_to_an_llm_without_tools(
    cclient: openai.OpenAI, provider: FakeProvider
) -> None:
    plain = cclient.chat.completions.with_raw_response.create(
        model="irtrouter/cheap", messages=[{"role": "user", "content": MATH}]
    )
    assert "math-small" in plain.parse().model_extra["irtrouter"]["fallback_order"]
    raw = cclient.chat.completions.with_raw_response.create(
        model="irtrouter/cheap", messages=[{"role": "user", "content": MATH}], tools=[TOOL]
    )
    assert raw.parse().model != "math-small"
    routing = raw.parse().model_extra["irtrouter"]
    assert "math-small" not in routing["fallback_order"]
    assert provider.models_called()[-1] != provider_model("math-small")
    with pytest.raises(openai.BadRequestError) as err:
        cclient.chat.completions.create(model="math-small", messages=[{"role": "user", "content": MATH}], tools=[TOOL])
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "tools"
    assert "tool calling: math-small lack it" in err.value.body["message"]


def test_none_can_serve_is_a_400_naming_the_requirement_and_the_llms(cclient: openai.OpenAI) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(openai.BadRequestError) as err:
        cclient.chat.completions.create(
            model="irtrouter/cheap",  # math-small, code-small, weak-small: none sees images
            messages=[{"role": "user", "content": [{"type": "text", "text": MATH}, image]}],
        )
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == "capability_unmet" and body["param"] == "messages"
    assert "image input" in body["message"]
    for llm in ("math-small", "code-small", "weak-small"):
        assert llm in body["message"]
    ok = cclient.chat.completions.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": [{"type": "text", "text": MATH}, image]}]
    )
    assert ok.model == "big"


def test_a_prompt_longer_than_the_context_window_skips_that_llm(cclient: openai.OpenAI) -> None:
    long = MATH + " " + "integral " * 3000  # ~3k tokens: past math-small's 2048
    routed = cclient.chat.completions.create(model="irtrouter/auto", messages=[{"role": "user", "content": long}])
    assert routed.model != "math-small"
    with pytest.raises(openai.BadRequestError) as err:
        cclient.chat.completions.create(model="math-small", messages=[{"role": "user", "content": long}])
    assert isinstance(err.value.body, dict) and "context window" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        cclient.chat.completions.create(
            model="math-small", messages=[{"role": "user", "content": MATH}], max_tokens=2000
        )
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "max_tokens"


def test_json_schema_and_unknown_capabilities(cclient: openai.OpenAI) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    done = cclient.chat.completions.create(
        model="math-small", messages=[{"role": "user", "content": MATH}], response_format=fmt
    )
    assert done.model == "math-small"  # json_schema unknown for math-small: allowed
    with pytest.raises(openai.BadRequestError):
        cclient.chat.completions.create(
            model="code-small", messages=[{"role": "user", "content": MATH}], response_format=fmt
        )


def test_catalog_reads_and_checks_capability_fields() -> None:
    from irtrouter.errors import DataError

    cat = LLMCatalog.from_records(
        [{"llm_id": "a", "input_price": 1, "output_price": 2, "supports_tools": True, "context_window": 4096}]
    )
    assert cat["a"].supports_tools is True and cat["a"].context_window == 4096 and cat["a"].supports_vision is None
    assert "supports_vision" not in cat.to_records()[0]  # unknown is not written
    with pytest.raises(DataError, match="context_window"):
        LLMCatalog.from_records([{"llm_id": "a", "input_price": 1, "output_price": 2, "context_window": 0}])
    with pytest.raises(DataError, match="supports_tools"):
        LLMCatalog.from_records([{"llm_id": "a", "input_price": 1, "output_price": 2, "supports_tools": "yes"}])
