"""``/v1/responses`` through the real server with the openai client's ``responses.create``."""

from __future__ import annotations

import sqlite3

import openai
import pytest

from tests.serve.conftest import provider_model
from tests.serve.fake_upstream import FakeProvider

MATH = "solve the integral equation algebra derivative"


def test_a_response_is_routed_answered_and_recorded(
    client: openai.OpenAI, provider: FakeProvider, db: sqlite3.Connection
) -> None:
    raw = client.responses.with_raw_response.create(
        model="irtrouter/cheap", input=MATH, instructions="Be brief.", max_output_tokens=64, extra_body={"alpha": 0.3}
    )
    resp = raw.parse()
    llm = raw.headers["x-irtrouter-llm"]
    assert resp.object == "response" and resp.status == "completed" and resp.model == llm
    assert resp.output_text == f"answer from {provider_model(llm)}"
    assert resp.usage is not None and resp.usage.input_tokens == 12 and resp.usage.output_tokens == 7
    sent = provider.requests[-1]
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": MATH}]
    assert sent["max_tokens"] == 64 and "alpha" not in sent and "input" not in sent
    routing = resp.model_extra["irtrouter"]
    assert routing["alpha"] == pytest.approx(0.3) and routing["answered_by"] == llm
    row = db.execute(
        "SELECT endpoint, answered_by FROM decisions WHERE request_id = ?", (raw.headers["x-irtrouter-request-id"],)
    ).fetchone()
    assert tuple(row) == ("responses", llm)


def test_message_items_function_tools_and_json_schema_are_translated(
    client: openai.OpenAI, provider: FakeProvider
) -> None:
    client.responses.create(
        model="irtrouter/auto",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": MATH}]},
            {"type": "function_call", "call_id": "c1", "name": "calc", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
        ],
        tools=[{"type": "function", "name": "calc", "parameters": {"type": "object", "properties": {}}}],
        text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
    )
    sent = provider.requests[-1]
    assert sent["messages"][0] == {"role": "user", "content": [{"type": "text", "text": MATH}]}
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "calc"
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "42"}
    assert sent["tools"][0] == {
        "type": "function",
        "function": {"name": "calc", "parameters": {"type": "object", "properties": {}}},
    }
    assert sent["response_format"]["type"] == "json_schema"


def test_a_streamed_response_has_the_responses_events(client: openai.OpenAI, provider: FakeProvider) -> None:
    events = list(client.responses.create(model="irtrouter/cheap", input=MATH, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_item.added" in kinds and "response.output_item.done" in kinds
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = events[-1].response
    assert done.output_text == deltas and deltas.startswith("answer from prov-")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert done.usage is not None and done.usage.output_tokens == 3


def test_what_cannot_be_translated_is_a_400_naming_it(client: openai.OpenAI, provider: FakeProvider) -> None:
    for kwargs, param in (
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
    ):
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="irtrouter/auto", input=MATH, **kwargs)
        assert isinstance(err.value.body, dict) and err.value.body["param"] == param
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="irtrouter/auto", input=[{"type": "input_file", "file_id": "f"}])
    assert provider.requests == []
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="irtrouter/nope", input=MATH)
