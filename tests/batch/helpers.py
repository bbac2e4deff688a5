"""What the batch tests compare."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from irtrouter.routing.decision import RoutingDecision


def assert_same_decisions(table: pa.Table, expected: list[RoutingDecision]) -> None:
    """``table``'s decision columns are ``expected``'s: P-hat and cost to float32 precision (the
    batch a query was embedded in changes the last bit), the chosen LLM and the reason wherever
    the best two scores are not within that precision of each other (there the last bit decides)."""
    assert table.num_rows == len(expected)
    llm_ids = expected[0].llm_ids
    for j, m in enumerate(llm_ids):
        np.testing.assert_allclose(table.column(f"p_hat_{m}").to_numpy(), [d.p_hat[j] for d in expected], rtol=1e-5)
    chosen_cost = [d.cost[d.llm_ids.index(d.llm_id)] for d in expected]
    np.testing.assert_allclose(table.column("cost").to_numpy(), chosen_cost, rtol=1e-5)
    clear = [i for i, d in enumerate(expected) if _margin(d) > 1e-4]
    assert len(clear) > 0.9 * len(expected)  # the comparison below is not vacuous
    got_llm, got_reason = table.column("llm_id").to_pylist(), table.column("reason").to_pylist()
    assert [got_llm[i] for i in clear] == [expected[i].llm_id for i in clear]
    assert [got_reason[i] for i in clear] == [expected[i].explanation.reason for i in clear]  # type: ignore[union-attr]


def _margin(decision: RoutingDecision) -> float:
    scores = sorted((s for s, ok in zip(decision.score, decision.allowed, strict=True) if ok), reverse=True)
    return scores[0] - scores[1] if len(scores) > 1 else float("inf")
