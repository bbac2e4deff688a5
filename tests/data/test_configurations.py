"""Configurations (llm, budget) in the catalog: validated, serialised, and told to the provider."""

import json

import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec, load_catalog
from irtrouter.errors import DataError

O4 = LLMSpec("o4-mini", 1.1, 4.4, profile="OpenAI reasoning model")


def test_with_budget_builds_the_configuration_id_and_fields():
    high = O4.with_budget(reasoning_effort="high", expected_output_tokens=2900)
    assert (high.llm_id, high.base_llm, high.budget) == ("o4-mini@high", "o4-mini", "high")
    assert high.upstream_model == "o4-mini"
    assert high.request_fields() == {"reasoning_effort": "high"}
    think = LLMSpec("qwen3-8b", 0.1, 0.3).with_budget(thinking_budget=2048, output_price=0.35)
    assert think.llm_id == "qwen3-8b@think-2048" and think.output_price == 0.35
    assert think.request_fields() == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert LLMSpec("qwen3-8b", 0.1, 0.3).with_budget(thinking_budget=0).request_fields() == {
        "thinking": {"type": "disabled"}
    }
    assert O4.budget is None and O4.request_fields() == {} and O4.upstream_model == "o4-mini"
    with pytest.raises(DataError, match="needs reasoning_effort or thinking_budget"):
        O4.with_budget()


def test_catalog_round_trips_configurations_and_leaves_plain_llms_unchanged(tmp_path):
    specs = [O4, O4.with_budget(reasoning_effort="low", expected_output_tokens=300.0)]
    records = LLMCatalog(specs).to_records()
    assert set(records[0]) == {"llm_id", "input_price", "output_price", "profile", "provider_model"}
    assert records[1]["reasoning_effort"] == "low" and records[1]["base_llm"] == "o4-mini"
    path = tmp_path / "llms.json"
    path.write_text(json.dumps(records))
    again = load_catalog(path)
    assert list(again.values()) == specs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"reasoning_effort": "extreme"}, "field 'reasoning_effort': expected one of"),
        ({"thinking_budget": -1}, "field 'thinking_budget': expected a whole number"),
        ({"thinking_budget": 1.5}, "field 'thinking_budget': expected a whole number"),
        ({"thinking_budget": 10, "reasoning_effort": "low"}, "not both"),
        ({"expected_output_tokens": "many"}, "field 'expected_output_tokens'"),
        ({"base_llm": ""}, "field 'base_llm': must not be empty"),
    ],
)
def test_bad_configuration_fields_name_the_row_and_field(extra, message):
    rec = {"llm_id": "m@x", "input_price": 1, "output_price": 1, **extra}
    with pytest.raises(DataError, match=message) as info:
        LLMCatalog.from_records([rec], source="llms.json")
    assert "llms.json, row 0" in str(info.value)
