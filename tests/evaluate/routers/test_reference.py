"""The reference points: one LLM always (small or large), random, the oracle and the task oracle."""

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


def test_the_task_oracle_sends_each_query_to_the_best_llm_of_its_task(data, build):
    """On the topic data the specialists are best for their own topic at a cost-heavy weight, so
    math queries go to math-small, code to code-small; history (no cheap specialist) and a task
    it never saw go where best-single goes; without the labels every query does."""
    td, truth, blind, test, _ = data
    router, single = build("task-oracle").fit(td), build("best-single").fit(td)
    tasks = np.asarray(test.tasks)
    relabelled = ["poetry" if t == "history" else t for t in test.tasks]
    unseen = QueryBatch(truth.queries, truth.X, truth.scores, truth.costs, tuple(relabelled))
    labelled = QueryBatch(truth.queries, truth.X, truth.scores, truth.costs, test.tasks)
    for alpha in (0.3, 0.5):
        chosen = np.asarray(router.decide(labelled).choose(alpha))
        ids = np.asarray(router.llm_ids_)[chosen]
        assert set(ids[tasks == "math"]) == {"math-small"} and set(ids[tasks == "code"]) == {"code-small"}, alpha
        np.testing.assert_array_equal(
            np.asarray(router.decide(unseen).choose(alpha))[tasks == "history"], single.llm_at(alpha)
        )
        np.testing.assert_array_equal(router.decide(truth).choose(alpha), single.decide(blind).choose(alpha))
    # At alpha 1 (performance only) every task's best is big, the best single LLM.
    assert set(np.asarray(router.llm_ids_)[np.asarray(router.decide(labelled).choose(1.0))]) == {"big"}
