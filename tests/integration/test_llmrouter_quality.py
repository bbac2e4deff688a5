"""MIRT and NIRT trained on LLMRouter's train split beat random routing on its test split.

Reads ../shared/data (IRTROUTER_SHARED_DATA). The test split is the published one minus the 119
questions that repeat train questions; costs are modelled from prices (the data has no tokens).
"""

import numpy as np
import pytest

from irtrouter.data import load_benchmark
from irtrouter.evaluate.metrics import outcome, realised_costs, single_llm_cost_scale
from irtrouter.routing import IRTRouter

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench(shared_data):
    return load_benchmark("llmrouter", shared_data / "llmrouter")


@pytest.mark.parametrize("predictor", ["mirt", "nirt"])
def test_beats_random_routing_in_reward(bench, predictor):
    router = IRTRouter(predictor=predictor, random_state=0).fit(bench.train, bench.catalog)
    test = bench.test.complete()
    costs, kind = realised_costs(test, bench.catalog)
    assert kind == "modelled"
    scale = single_llm_cost_scale(costs)
    prediction = router.predict(test.queries)
    uniform = np.full(test.scores.shape, 1 / test.n_llms)
    for alpha in (0.8, 0.5):
        ours = outcome(test.scores, costs, router.choose(prediction, alpha)).reward(alpha, 1 - alpha, scale)
        random = outcome(test.scores, costs, uniform).reward(alpha, 1 - alpha, scale)
        assert ours > random, (predictor, alpha, ours, random)
