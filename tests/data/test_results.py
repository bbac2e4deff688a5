import numpy as np
import pandas as pd
import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix, query_id_for, results_from_frame
from irtrouter.errors import DataError

CATALOG = LLMCatalog([LLMSpec("small", 0.1, 0.2), LLMSpec("large", 2.5, 10.0)], source="llms.json")


def frame(**overrides):
    base = {
        "query_id": ["q1", "q1", "q2", "q2"],
        "query": ["what is 2+2", "what is 2+2", "capital of France", "capital of France"],
        "llm_id": ["small", "large", "small", "large"],
        "score": [1.0, 1.0, 0.0, 1.0],
        "task": ["math", "math", "geo", "geo"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_pivot_follows_catalog_order_and_first_appearance():
    res = results_from_frame(frame(llm_id=["large", "small", "large", "small"]), "r.csv", catalog=CATALOG)
    assert res.llm_ids == ("small", "large")
    assert res.query_ids == ("q1", "q2")
    np.testing.assert_array_equal(res.scores, [[1.0, 1.0], [1.0, 0.0]])
    assert res.tasks == ("math", "geo")


def test_missing_cells_are_nan_and_complete_drops_them():
    f = frame().iloc[:3]
    res = results_from_frame(f, "r.csv")
    assert np.isnan(res.scores[1, 1])
    assert res.n_observed == 3
    assert res.complete().query_ids == ("q1",)


def test_query_id_defaults_to_text_hash():
    res = results_from_frame(frame().drop(columns="query_id"), "r.csv")
    assert res.query_ids == (query_id_for("what is 2+2"), query_id_for("capital of France"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"score": [1.0, float("nan"), 0.0, 1.0]}, "row 2, field 'score': missing score (NaN) for LLM 'large'"),
        ({"score": [1.0, 1.5, 0.0, 1.0]}, "row 2, field 'score': score 1.5 is outside [0, 1]"),
        ({"score": [1.0, "high", 0.0, 1.0]}, "row 2, field 'score': expected a number in [0, 1], got 'high'"),
        ({"score": [1.0, -0.1, 0.0, 1.0]}, "outside [0, 1]"),
        ({"llm_id": ["small", "huge", "small", "large"]}, "row 2, field 'llm_id': unknown LLM 'huge'"),
        ({"llm_id": ["small", "small", "small", "large"]}, "row 2, field 'llm_id': duplicate row for query_id 'q1'"),
        (
            {"query": ["what is 2+2", "what is 3+3", "x", "x"]},
            "row 2, field 'query': query_id 'q1' has a different text",
        ),
        ({"query": ["  ", "  ", "x", "x"]}, "row 1, field 'query': empty text"),
        ({"task": ["math", "geo", "geo", "geo"]}, "row 2, field 'task'"),
    ],
)
def test_bad_rows_name_source_row_and_field(overrides, message):
    with pytest.raises(DataError) as err:
        results_from_frame(frame(**overrides), "results.csv", catalog=CATALOG)
    assert str(err.value).startswith("results.csv, ")
    assert message in str(err.value)


def test_row_numbers_are_the_files_own():
    with pytest.raises(DataError, match=r"r.csv, line 3, field 'score'"):
        results_from_frame(frame(score=[1.0, 2.0, 0.0, 1.0]), "r.csv", row_numbers=np.arange(2, 6), row_kind="line")


def test_drop_policy_turns_nan_rows_into_unobserved_cells(caplog):
    res = results_from_frame(frame(score=[1.0, np.nan, 0.0, 1.0]), "r.csv", on_missing="drop")
    assert np.isnan(res.scores[0, 1]) and res.n_observed == 3
    assert "dropped 1 row(s)" in caplog.text


def test_missing_and_unknown_columns():
    with pytest.raises(DataError, match=r"missing column\(s\) \['score'\]"):
        results_from_frame(frame().drop(columns="score"), "r.csv")
    with pytest.raises(DataError, match=r"unknown column\(s\) \['model'\]"):
        results_from_frame(frame(model=["x"] * 4), "r.csv")
    with pytest.raises(DataError, match="no rows"):
        results_from_frame(frame().iloc[:0], "r.csv")


def test_token_and_cost_columns_are_validated_and_kept():
    res = results_from_frame(frame(cost_usd=[0.001, 0.01, 0.002, 0.02], output_tokens=[10, 20, 30, np.nan]), "r.csv")
    assert res.cost_usd is not None and res.cost_usd[1, 1] == pytest.approx(0.02)
    assert np.isnan(res.output_tokens[1, 1])
    with pytest.raises(DataError, match="field 'cost_usd'"):
        results_from_frame(frame(cost_usd=[0.001, -1, 0.002, 0.02]), "r.csv")


def test_matrix_invariants():
    ok = dict(query_ids=("a",), queries=("x",), llm_ids=("m",), scores=np.array([[0.5]]), tasks=("",))
    ResultsMatrix(**ok)
    with pytest.raises(DataError, match="outside"):
        ResultsMatrix(**{**ok, "scores": np.array([[1.2]])})
    with pytest.raises(DataError, match="empty query"):
        ResultsMatrix(**{**ok, "queries": (" ",)})
    with pytest.raises(DataError, match="duplicate query_id"):
        ResultsMatrix(
            **{
                **ok,
                "query_ids": ("a", "a"),
                "queries": ("x", "y"),
                "tasks": ("", ""),
                "scores": np.array([[0.1], [0.2]]),
            }
        )


def test_take_select_concat_round_trip():
    res = results_from_frame(frame(), "r.csv", catalog=CATALOG)
    swapped = res.select_llms(["large", "small"])
    np.testing.assert_array_equal(swapped.scores, res.scores[:, ::-1])
    both = ResultsMatrix.concat([res.take([1]), res.take([0])])
    assert both.query_ids == ("q2", "q1")
    long = res.to_frame()
    again = results_from_frame(long, "again", catalog=CATALOG)
    np.testing.assert_array_equal(again.scores, res.scores)
