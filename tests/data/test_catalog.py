import json

import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec, catalog_from_obj, load_catalog
from irtrouter.errors import DataError, UnknownLLMError


def test_list_form_keeps_order_and_fields(tmp_path):
    path = tmp_path / "llms.json"
    path.write_text(
        json.dumps(
            [
                {"llm_id": "b", "input_price": 1, "output_price": 2, "profile": "B model", "provider_model": "b-2024"},
                {"llm_id": "a", "input_price": 0.1, "output_price": 0.2},
            ]
        )
    )
    cat = load_catalog(path)
    assert cat.ids == ("b", "a")
    assert cat["b"].provider_model == "b-2024"
    assert cat["a"].profile_text == "a"  # no profile: the id stands in
    assert cat["b"].profile_text == "B model"


def test_yaml_mapping_form(tmp_path):
    path = tmp_path / "llms.yaml"
    path.write_text("small:\n  input_price: 0.1\n  output_price: 0.2\nlarge:\n  input_price: 2.5\n  output_price: 10\n")
    cat = load_catalog(path)
    assert cat.ids == ("small", "large")
    assert cat["large"].output_price == 10.0


def test_llmrouter_native_form_is_understood():
    cat = catalog_from_obj(
        {
            "m1": {
                "size": "7B",
                "feature": "A 7B model.",
                "input_price": 0.2,
                "output_price": 0.2,
                "model": "org/m1",
                "service": "NVIDIA",
            }
        }
    )
    assert cat["m1"].provider_model == "org/m1"
    assert "A 7B model." in cat["m1"].profile and "7B" in cat["m1"].profile


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([{"llm_id": "a", "input_price": -1, "output_price": 1}], "row 0, field 'input_price'"),
        ([{"llm_id": "a", "input_price": "cheap", "output_price": 1}], "field 'input_price'"),
        ([{"llm_id": "a", "input_price": float("nan"), "output_price": 1}], "finite"),
        ([{"llm_id": "", "input_price": 1, "output_price": 1}], "field 'llm_id': must not be empty"),
        ([{"llm_id": "a", "input_price": 1}], "missing field(s) ['output_price']"),
        ([{"llm_id": "a", "input_price": 1, "output_price": 1, "colour": "red"}], "unknown field(s) ['colour']"),
        ([{"llm_id": "a", "input_price": 1, "output_price": 1}] * 2, "duplicate llm_id 'a'"),
        ([], "lists no LLMs"),
    ],
)
def test_bad_entries_name_row_and_field(records, expected):
    with pytest.raises(DataError) as err:
        LLMCatalog.from_records(records, source="llms.json")
    assert expected in str(err.value)
    assert str(err.value).startswith("llms.json")


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(DataError, match="cannot read catalog"):
        load_catalog(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid json"):
        load_catalog(bad)


def test_unknown_llm_lists_known_ones():
    cat = LLMCatalog([LLMSpec("a", 1, 1), LLMSpec("b", 1, 1)])
    with pytest.raises(UnknownLLMError) as err:
        cat["c"]
    assert "unknown LLM 'c'" in str(err.value) and "a, b" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_subset_reorders():
    cat = LLMCatalog([LLMSpec("a", 1, 1), LLMSpec("b", 2, 2), LLMSpec("c", 3, 3)])
    assert cat.subset(["c", "a"]).ids == ("c", "a")
