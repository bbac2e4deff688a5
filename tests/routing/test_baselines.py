"""Every registered router on synthetic topic data (hashing embeddings), and hand-made cases."""

import numpy as np
import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed import make_embedder
from irtrouter.errors import ConfigError, UnknownLLMError
from irtrouter.evaluate.metrics import outcome, realised_costs
from irtrouter.evaluate.routers.binary import HybridLLMRouter
from irtrouter.evaluate.routers.contract import BinaryDecisions, QueryBatch, TrainingData, small_and_large
from irtrouter.evaluate.routers.predictive import TunedKNNRouter
from irtrouter.evaluate.routers.registry import available_routers, make_router

SHORT = {"predictor_params": {"max_epochs": 8}, "max_epochs": 8, "max_iter": 40}


def build(name, **params):
    router = make_router(name)
    short = {k: v for k, v in SHORT.items() if k in router.get_params()}
    return make_router(name, **{**short, **params})


@pytest.fixture(scope="module")
def embedder():
    return make_embedder("hashing:128")


@pytest.fixture(scope="module")
def data(topic_data, embedder):
    train, test, catalog = topic_data
    td = TrainingData(train, catalog, embedder.encode(list(train.queries)), embedder)
    costs, _ = realised_costs(test, catalog)
    truth = QueryBatch(test.queries, embedder.encode(list(test.queries)), test.scores, costs)
    blind = QueryBatch(test.queries, truth.X)
    return td, truth, blind, test, costs


def valid_routing(routing, n, m):
    if routing.ndim == 1:
        return routing.shape == (n,) and routing.min() >= 0 and routing.max() < m
    return routing.shape == (n, m) and np.allclose(routing.sum(axis=1), 1) and (routing >= 0).all()


@pytest.mark.parametrize("name", sorted(available_routers()))
def test_router_contract(name, data):
    td, truth, blind, test, _ = data
    router = build(name)
    assert router.fit(td) is router
    batch = truth if router.uses_outcomes else blind
    first = router.decide(batch)
    assert first.llm_ids == test.llm_ids
    for alpha in (0.0, 0.5, 1.0):
        assert valid_routing(np.asarray(first.choose(alpha)), test.n_queries, test.n_llms)
    if first.p_hat is not None:
        assert first.p_hat.shape == test.scores.shape
        assert ((first.p_hat >= 0) & (first.p_hat <= 1)).all()
    # Same parameters and seed: the same decisions.
    again = build(name).fit(td).decide(batch)
    for alpha in (0.2, 0.8):
        np.testing.assert_array_equal(first.choose(alpha), again.choose(alpha))


def test_only_the_oracle_needs_outcomes(data):
    td, _, blind, _, _ = data
    oracle = build("oracle").fit(td)
    with pytest.raises(ConfigError, match="upper limit"):
        oracle.decide(blind)
    assert [n for n, e in available_routers().items() if e.cls.uses_outcomes] == ["oracle"]


def test_small_and_large_defaults_follow_cost_then_training_score(data):
    td = data[0]
    assert build("small-llm").fit(td).chosen_llm_ == "weak-small"  # $0.1/M, the cheapest
    assert build("large-llm").fit(td).chosen_llm_ == "big"
    assert build("small-llm", llm_id="math-small").fit(td).chosen_llm_ == "math-small"
    with pytest.raises(UnknownLLMError, match="gpt-9"):
        build("large-llm", llm_id="gpt-9").fit(td)
    # Priced alike: the small LLM is the weakest on train, the large one the strongest.
    means = np.nanmean(td.results.scores, axis=0)
    assert small_and_large(td.results, np.ones(4)) == (int(np.argmin(means)), int(np.argmax(means)))


def test_permuting_the_llms_permutes_the_decisions(data, topic_llms):
    td, truth, blind, _, costs = data
    order = [2, 0, 3, 1]
    ids = [topic_llms[j] for j in order]
    td_perm = TrainingData(td.results.select_llms(ids), td.catalog, td.X, td.embedder)
    blind_perm = blind
    truth_perm = QueryBatch(truth.queries, truth.X, truth.scores[:, order], costs[:, order])
    for name in ("small-llm", "large-llm", "oracle", "routerbench-knn", "knn-tuned"):
        router, permuted = build(name).fit(td), build(name).fit(td_perm)
        d = router.decide(truth if router.uses_outcomes else blind)
        dp = permuted.decide(truth_perm if router.uses_outcomes else blind_perm)
        if d.p_hat is not None:
            np.testing.assert_allclose(dp.p_hat, d.p_hat[:, order])
        for alpha in (0.3, 0.9):
            chosen = [topic_llms[j] for j in d.choose(alpha)]
            assert [ids[j] for j in dp.choose(alpha)] == chosen, name


def test_random_is_the_uniform_distribution(data):
    td, _, blind, test, _ = data
    routing = build("random").fit(td).decide(blind).choose(0.5)
    np.testing.assert_allclose(routing, np.full(test.scores.shape, 0.25))


def test_oracle_takes_the_best_score_and_the_cheapest_among_ties():
    cat = LLMCatalog([LLMSpec("a", 1, 1), LLMSpec("b", 2, 2), LLMSpec("c", 3, 3)])
    scores = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    costs = np.array([[3.0, 1.0, 0.5], [1.0, 1.0, 9.0], [2.0, 1.0, 3.0]])
    results = ResultsMatrix(("1", "2", "3"), ("x", "y", "z"), cat.ids, scores, ("", "", ""))
    td = TrainingData(results, cat, np.eye(3, dtype=np.float32))
    routing = build("oracle").fit(td).decide(QueryBatch(("x", "y", "z"), np.eye(3, dtype=np.float32), scores, costs))
    assert routing.choose(0.5).tolist() == [1, 2, 1]


def test_knn_averages_the_observed_scores_of_the_nearest_queries():
    cat = LLMCatalog([LLMSpec("a", 1, 1), LLMSpec("b", 1, 1)])
    X = np.array([[1, 0], [0.96, 0.28], [0, 1], [0.6, 0.8]], dtype=np.float32)
    scores = np.array([[1.0, 0.0], [0.0, np.nan], [0.0, 1.0], [1.0, 1.0]])
    results = ResultsMatrix(tuple("abcd"), ("q1", "q2", "q3", "q4"), cat.ids, scores, ("",) * 4)
    router = build("routerbench-knn", k=2).fit(TrainingData(results, cat, X))
    p_hat = router.decide(QueryBatch(("new",), np.array([[1.0, 0.0]], np.float32))).p_hat
    # Nearest two: q1 (1, 0) and q2 (0, NaN): LLM a -> 0.5; LLM b -> q1 only (q2 unobserved) -> 0.
    np.testing.assert_allclose(p_hat, [[0.5, 0.0]])


def test_tuned_knn_picks_k_on_validation_queries_only(data):
    td, *_ = data
    router = TunedKNNRouter(k_grid=(1, 5, 40)).fit(td)
    assert set(router.validation_utility_) == {1, 5, 40}
    assert router.k_ == max(router.validation_utility_, key=lambda k: (router.validation_utility_[k], -k))
    assert len(router.index_) == td.results.n_queries  # neighbours: every training query after tuning


def test_binary_thresholds_trade_calls_to_the_large_llm_for_cost(data):
    td, _, blind, test, _ = data
    router = HybridLLMRouter().fit(td)
    d = router.decide(blind)
    assert isinstance(d, BinaryDecisions)
    assert {test.llm_ids[d.small], test.llm_ids[d.large]} == {"weak-small", "big"}
    shares = [float((d.choose(a) == d.large).mean()) for a in (0.0, 0.3, 0.6, 0.9, 1.0)]
    assert shares == sorted(shares)  # a higher weight on performance never sends fewer to the large LLM
    assert shares[0] == 0.0  # cost only: never the large LLM
    assert router.threshold(0.0) == np.inf


def test_predictive_routers_beat_random_in_realised_objective(data):
    td, _, blind, test, costs = data
    random = outcome(test.scores, costs, np.full(test.scores.shape, 0.25)).performance
    for name in ("routerbench-knn", "knn-tuned", "routerbench-mlp"):
        d = build(name).fit(td).decide(blind)
        assert outcome(test.scores, costs, d.choose(1.0)).performance > random + 0.2, name
