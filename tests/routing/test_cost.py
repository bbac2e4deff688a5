import numpy as np
import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.data.tokens import estimate_tokens
from irtrouter.errors import DataError
from irtrouter.routing.cost import ObservedCost, PriceCost, TokenCost, cost_model_from_state, make_cost_model

CAT = LLMCatalog([LLMSpec("cheap", 0.1, 0.2), LLMSpec("dear", 2.5, 10.0)])


def results(**cells):
    return ResultsMatrix(
        query_ids=("a", "b"),
        queries=("short question", "x " * 400),
        llm_ids=CAT.ids,
        scores=np.array([[1.0, 1.0], [0.0, 1.0]]),
        tasks=("", ""),
        **cells,
    )


def test_price_cost_is_the_papers_linear_map():
    model = PriceCost().fit(results(), CAT)
    np.testing.assert_allclose(model.normalised(["q"]), [[0.02, 1.0]])
    assert model.expected_usd(["q"]) is None


def test_token_cost_is_per_query_and_scaled_by_a_mean_query():
    res = results(output_tokens=np.array([[100.0, 300.0], [200.0, 500.0]]))
    model = TokenCost().fit(res, CAT)
    usd = model.expected_usd(["hi", "x " * 400])
    np.testing.assert_allclose(
        usd[0], (estimate_tokens("hi") * np.array([0.1, 2.5]) + np.array([150, 400]) * np.array([0.2, 10])) / 1e6
    )
    assert (usd[1] > usd[0]).all()  # the long query costs more
    mean_in = np.mean([estimate_tokens(q) for q in res.queries])
    assert model.reference_ == pytest.approx((mean_in * 2.5 + 400 * 10) / 1e6)


def test_observed_cost_uses_real_usd_and_auto_picks_by_data():
    res = results(cost_usd=np.array([[0.001, 0.02], [0.003, np.nan]]))
    model = make_cost_model("auto", res).fit(res, CAT)
    assert isinstance(model, ObservedCost)
    np.testing.assert_allclose(model.normalised(["q"]), [[0.1, 1.0]])
    assert isinstance(make_cost_model("auto", results()), PriceCost)
    assert isinstance(make_cost_model("auto", results(output_tokens=np.ones((2, 2)))), TokenCost)


def test_state_round_trip_and_missing_data_errors():
    res = results(cost_usd=np.array([[0.001, 0.02], [0.003, 0.01]]))
    model = ObservedCost().fit(res, CAT)
    again = cost_model_from_state(*model.state())
    np.testing.assert_array_equal(again.normalised(["q"]), model.normalised(["q"]))
    with pytest.raises(DataError, match="needs output_tokens"):
        TokenCost().fit(results(), CAT)
    with pytest.raises(DataError, match="needs cost_usd"):
        ObservedCost().fit(results(), CAT)


def test_added_llm_keeps_the_reference():
    model = PriceCost().fit(results(), CAT)
    model.add_llm(LLMSpec("dearer", 5, 20.0))
    np.testing.assert_allclose(model.normalised(["q"])[0], [0.02, 1.0, 2.0])
