"""The predictive routers (RouterBench's kNN and MLP, kNN with k tuned on validation)."""

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.evaluate.metrics import outcome
from irtrouter.evaluate.routers.contract import QueryBatch, TrainingData
from irtrouter.evaluate.routers.predictive import TunedKNNRouter


def test_knn_averages_the_observed_scores_of_the_nearest_queries(build):
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


def test_predictive_routers_beat_random_in_realised_objective(data, build):
    td, _, blind, test, costs = data
    random = outcome(test.scores, costs, np.full(test.scores.shape, 0.25)).performance
    for name in ("routerbench-knn", "knn-tuned", "routerbench-mlp"):
        d = build(name).fit(td).decide(blind)
        assert outcome(test.scores, costs, d.choose(1.0)).performance > random + 0.2, name
