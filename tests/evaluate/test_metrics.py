"""The paper's metrics on cases worked out by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import DataError
from irtrouter.evaluate.metrics import (
    Outcome,
    gap_closed,
    outcome,
    realised_costs,
    reward_contributions,
    reward_oracle,
    single_llm_cost_scale,
    top_k_accuracy,
)
from irtrouter.evaluate.prediction import prediction_quality

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
    # Answer lengths without prompt tokens (zeroeval): estimated input, each answer's own output.
    lengths = ResultsMatrix(**base, output_tokens=np.array([[10.0, 20.0]]))
    costs, kind = realised_costs(lengths, cat, assumed_output_tokens=100)
    assert kind == "modelled"
    np.testing.assert_allclose(costs, [[(2 * 1 + 10 * 2) / 1e6, (2 * 10 + 20 * 30) / 1e6]])


# -- reward shares, top-k, predictor quality, gap closed -------------------------------------------


def test_reward_is_the_sum_of_the_chosen_cells():
    scale = single_llm_cost_scale(COSTS)
    shares = reward_contributions(SCORES, COSTS, 0.8, 0.2, scale)
    # Hand-worked: query 0 to LLM 0 adds 100 * (0.8 * 1 / 3 - 0.2 * 1 / 10) = 24.6667
    assert shares[0, 0] == pytest.approx(100 * (0.8 / 3 - 0.02))
    routing = np.array([0, 1, 0])
    assert shares[np.arange(3), routing].sum() == pytest.approx(outcome(SCORES, COSTS, routing).reward(0.8, 0.2, scale))
    uniform = np.full((3, 2), 0.5)
    assert (uniform * shares).sum() == pytest.approx(outcome(SCORES, COSTS, uniform).reward(0.8, 0.2, scale))


def test_reward_oracle_by_hand():
    # alpha 0.2: query 2 scores 1 on both; LLM 0 is cheaper. Query 0: LLM 0 scores and is cheaper.
    # Query 1: LLM 1 scores 1 for cost 3: 100*(0.2/3 - 0.8*3/10) < 0 = LLM 0's 100*(0 - 0.8/10)? -17.3 < -8
    assert reward_oracle(SCORES, COSTS, 0.2, 0.8, 10.0).tolist() == [0, 0, 0]
    assert reward_oracle(SCORES, COSTS, 0.9, 0.1, 10.0).tolist() == [0, 1, 0]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_reward_oracle_beats_every_routing(seed, alpha):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 2, (12, 4)).astype(float)
    costs = rng.random((12, 4))
    scale = single_llm_cost_scale(costs)
    best = outcome(scores, costs, reward_oracle(scores, costs, alpha, 1 - alpha, scale)).reward(alpha, 1 - alpha, scale)
    for _ in range(20):
        other = outcome(scores, costs, rng.integers(0, 4, 12)).reward(alpha, 1 - alpha, scale)
        assert best >= other - 1e-9


def test_top_k_accuracy_by_hand():
    utility = np.array([[5.0, 4.0, 1.0], [2.0, 2.0, 3.0], [0.0, 1.0, 2.0]])
    routing = np.array([1, 0, 0])
    assert top_k_accuracy(routing, utility, 1) == pytest.approx(0.0)
    # k=2: query 0 -> LLM 1 is second best; query 1 -> LLM 0 ties LLM 1 for second; query 2 -> LLM 0 is last.
    assert top_k_accuracy(routing, utility, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(routing, utility, 3) == pytest.approx(1.0)
    # A distribution counts the probability mass on the top-k LLMs.
    dist = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.25, 0.25, 0.5]])
    assert top_k_accuracy(dist, utility, 1) == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    with pytest.raises(DataError):
        top_k_accuracy(routing, utility, 0)


def test_predictor_quality_by_hand():
    p_hat = np.array([[0.9, 0.2], [0.4, 0.6]])
    scores = np.array([[1.0, 0.0], [1.0, 0.0]])
    q = prediction_quality(scores, p_hat)
    assert q.auc == pytest.approx(3 / 4)  # of the 4 (positive, negative) pairs, (0.4, 0.6) is misordered
    assert q.acc == pytest.approx(2 / 4)
    assert q.rmse == pytest.approx(np.sqrt((0.01 + 0.04 + 0.36 + 0.36) / 4))
    assert q.mae == pytest.approx((0.1 + 0.2 + 0.6 + 0.6) / 4)
    assert np.isnan(prediction_quality(np.array([1.0, 1.0]), np.array([0.3, 0.7])).auc)  # one class only


def test_gap_closed_by_hand():
    assert gap_closed(45.0, 40.0, 60.0) == pytest.approx(0.25)
    assert gap_closed(60.0, 40.0, 60.0) == pytest.approx(1.0)
    assert gap_closed(30.0, 40.0, 60.0) == pytest.approx(-0.5)
    assert np.isnan(gap_closed(30.0, 40.0, 40.0))
    assert np.isnan(gap_closed(30.0, 40.0, 40.3, min_gap=0.5))  # a share of almost nothing is not reported
