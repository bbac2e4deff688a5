"""The paper's metrics on cases worked out by hand."""

import numpy as np
import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import DataError
from irtrouter.evaluate.metrics import Outcome, outcome, realised_costs, single_llm_cost_scale

SCORES = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
COSTS = np.array([[1.0, 3.0], [1.0, 3.0], [2.0, 4.0]])


def test_performance_and_total_cost_of_a_deterministic_routing():
    got = outcome(SCORES, COSTS, np.array([0, 1, 0]))
    assert got.performance == pytest.approx(1.0)  # every pick answered well
    assert got.total_cost == pytest.approx(1 + 3 + 2)


def test_random_routing_is_the_exact_expectation():
    got = outcome(SCORES, COSTS, np.full((3, 2), 0.5))
    assert got.performance == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert got.total_cost == pytest.approx(2 + 2 + 3)


def test_reward_is_eq_12_times_100():
    scale = single_llm_cost_scale(COSTS)
    assert scale == 10.0  # routing all to LLM 1 costs 3 + 3 + 4
    assert Outcome(0.75, 5.0).reward(0.8, 0.2, scale) == pytest.approx(100 * (0.8 * 0.75 - 0.2 * 0.5))


def test_unobserved_scores_are_refused():
    with pytest.raises(DataError, match="complete"):
        outcome(np.array([[np.nan, 1.0]]), np.ones((1, 2)), np.array([1]))


def test_cost_sources_in_order_of_preference():
    cat = LLMCatalog([LLMSpec("a", 1.0, 2.0), LLMSpec("b", 10.0, 30.0)])
    base = dict(query_ids=("q",), queries=("abcdefgh",), llm_ids=("a", "b"), scores=np.ones((1, 2)), tasks=("",))
    real = ResultsMatrix(**base, cost_usd=np.array([[0.5, 0.7]]))
    assert realised_costs(real, cat)[1] == "real"
    tokens = ResultsMatrix(**base, input_tokens=np.array([[100.0, 100.0]]), output_tokens=np.array([[10.0, 20.0]]))
    costs, kind = realised_costs(tokens, cat)
    assert kind == "tokens"
    np.testing.assert_allclose(costs, [[(100 * 1 + 10 * 2) / 1e6, (100 * 10 + 20 * 30) / 1e6]])
    costs, kind = realised_costs(ResultsMatrix(**base), cat, assumed_output_tokens=100)
    assert kind == "modelled"
    np.testing.assert_allclose(costs, [[(2 * 1 + 100 * 2) / 1e6, (2 * 10 + 100 * 30) / 1e6]])
