"""The reference points: one LLM always (small or large), random, and the oracle."""

import numpy as np
import pytest

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import UnknownLLMError
from irtrouter.evaluate.routers.contract import QueryBatch, TrainingData, small_and_large


def test_small_and_large_defaults_follow_cost_then_training_score(data, build):
    td = data[0]
    assert build("small-llm").fit(td).chosen_llm_ == "weak-small"  # $0.1/M, the cheapest
    assert build("large-llm").fit(td).chosen_llm_ == "big"
    assert build("small-llm", llm_id="math-small").fit(td).chosen_llm_ == "math-small"
    with pytest.raises(UnknownLLMError, match="gpt-9"):
        build("large-llm", llm_id="gpt-9").fit(td)
    # Priced alike: the small LLM is the weakest on train, the large one the strongest.
    means = np.nanmean(td.results.scores, axis=0)
    assert small_and_large(td.results, np.ones(4)) == (int(np.argmin(means)), int(np.argmax(means)))


def test_random_is_the_uniform_distribution(data, build):
    td, _, blind, test, _ = data
    routing = build("random").fit(td).decide(blind).choose(0.5)
    np.testing.assert_allclose(routing, np.full(test.scores.shape, 0.25))


def test_oracle_takes_the_best_score_and_the_cheapest_among_ties(build):
    cat = LLMCatalog([LLMSpec("a", 1, 1), LLMSpec("b", 2, 2), LLMSpec("c", 3, 3)])
    scores = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    costs = np.array([[3.0, 1.0, 0.5], [1.0, 1.0, 9.0], [2.0, 1.0, 3.0]])
    results = ResultsMatrix(("1", "2", "3"), ("x", "y", "z"), cat.ids, scores, ("", "", ""))
    td = TrainingData(results, cat, np.eye(3, dtype=np.float32))
    routing = build("oracle").fit(td).decide(QueryBatch(("x", "y", "z"), np.eye(3, dtype=np.float32), scores, costs))
    assert routing.choose(0.5).tolist() == [1, 2, 1]
