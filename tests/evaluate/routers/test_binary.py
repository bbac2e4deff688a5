"""The binary routers (HybridLLM, RouteLLM's MF): small or large LLM from a strong win rate."""

import numpy as np

from irtrouter.evaluate.routers.binary import HybridLLMRouter
from irtrouter.evaluate.routers.contract import BinaryDecisions


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
