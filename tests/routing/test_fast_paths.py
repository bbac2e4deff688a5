"""The vectorised decision path (issue 16) decides as a slow reference computed here does.

The reference calibrates with each LLM's own map (``LLMCalibration.__call__``, one column at a
time), scores every LLM in a Python loop and picks the best with the rule's tie-breaks written
out (cheapest, then surest, then first), and finds the runner-up the same way. The router under
test carries every kind of calibration map (isotonic, Platt, identity, a single-knot isotonic),
the guard and the kNN blend, so each vectorised branch is on the path.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from irtrouter.irt.calibration import Calibrator, LLMCalibration
from irtrouter.routing import IRTRouter
from irtrouter.routing.rule import TIE_TOLERANCE, TradeOff
from tests.explain.conftest import fit

N_QUERIES = 15


@pytest.fixture(scope="module")
def router(topic_data) -> IRTRouter:
    # The novelty gate is off: it routes unfamiliar queries by the model alone, which the reference
    # below does not write out (tests/routing/test_familiarity.py checks it).
    fitted = fit("auto", topic_data, guard=True, calibration="isotonic", knn_blend=True, novelty_gate=False)
    iso = fitted.calibrator_.maps
    assert len(iso) >= 4 and all(m.method == "isotonic" for m in iso)
    maps = (
        iso[0],
        LLMCalibration("platt", platt=(1.4, -0.3)),
        LLMCalibration("identity"),
        LLMCalibration("isotonic", knots_x=np.array([0.5]), knots_y=np.array([0.6])),
        *iso[4:],
    )
    fitted.calibrator_ = Calibrator(maps, {}, fitted.llm_ids)
    return fitted


def _calls(router: IRTRouter) -> list[dict]:
    llms = router.llm_ids
    return [
        {"alpha": 0.8},
        {"alpha": 0.3, "rule": "chebyshev"},
        {"alpha": 0.5, "allowed_llms": list(llms[1:3])},
        {"alpha": 0.9, "allowed_llms": [llms[0]]},
        {"preference": 2.0},
        {"alpha": 0.0},  # cost alone: ties between equally priced LLMs
        {"alpha": 1.0, "rule": "chebyshev"},
    ]


def _reference_p_hat(router: IRTRouter, X: np.ndarray, queries: list[str]) -> np.ndarray:
    """P-hat calibrated one LLM (one column) at a time by each LLM's own map."""
    raw = copy.copy(router)
    raw.calibrator_ = None
    p = raw.predict_embedded(X, queries).p_hat
    return np.stack([m(p[:, j]) for j, m in enumerate(router.calibrator_.maps)], axis=1)


def _score(p: float, c: float, t: TradeOff, rule: str) -> float:
    return -max(t.alpha * (1 - p), t.beta * c) if rule == "chebyshev" else t.alpha * p - t.beta * c


def _best(p: np.ndarray, c: np.ndarray, t: TradeOff, rule: str, candidates: list[int]) -> int:
    """The rule written out for one query: best score, ties to the cheapest, the surest, the first."""
    scores = {j: _score(float(p[j]), float(c[j]), t, rule) for j in candidates}
    top = max(scores.values())
    tied = [j for j in candidates if scores[j] >= top - TIE_TOLERANCE]
    tied = [j for j in tied if c[j] <= min(c[k] for k in tied)]
    tied = [j for j in tied if p[j] >= max(p[k] for k in tied)]
    return tied[0]


def _reference(router: IRTRouter, X: np.ndarray, queries: list[str], call: dict) -> tuple[list[str], np.ndarray, list]:
    """(chosen ids, P-hat, runner-up ids) of the slow path; the guard (selection.py, not under
    test here) is applied to the reference's own choices."""
    rule = call.get("rule", "linear")
    t = TradeOff.of(call.get("alpha", 0.8), None, call.get("preference"))
    allowed = call.get("allowed_llms", list(router.llm_ids))
    candidates = [j for j, m in enumerate(router.llm_ids) if m in allowed]
    p = _reference_p_hat(router, X, queries)
    c = router.cost_model_.normalised(queries)
    chosen = np.array([_best(p[i], c[i], t, rule, candidates) for i in range(len(queries))])
    mask = np.isin(np.arange(len(router.llm_ids)), candidates)
    chosen = router.guard_.apply(p, c, chosen, t, rule, mask)[0]
    runners = [
        _best(p[i], c[i], t, rule, [j for j in candidates if j != k]) if len(candidates) > 1 else None
        for i, k in enumerate(chosen.tolist())
    ]
    ids = router.llm_ids
    return [ids[j] for j in chosen.tolist()], p, [None if r is None else ids[r] for r in runners]


def _check(decisions, ids, p, runners, explained=True):
    assert [d.llm_id for d in decisions] == ids
    np.testing.assert_allclose([d.p_hat for d in decisions], p, rtol=0, atol=1e-12)
    if explained:
        assert [d.explanation.runner_up for d in decisions] == runners
        for d in decisions:
            e = d.explanation
            j = d.llm_ids.index(d.llm_id)
            assert e.p_hat == d.p_hat[j] and e.cost == d.cost[j]
            if e.runner_up is not None:
                r = d.llm_ids.index(e.runner_up)
                assert e.score_margin == pytest.approx(d.score[j] - d.score[r], abs=1e-12)
    else:
        assert all(d.explanation is None for d in decisions)


def test_the_batch_paths_choose_and_predict_as_the_slow_reference(router, topic_data):
    queries = list(topic_data[1].queries[:N_QUERIES])
    X = router.embed(queries)
    for call in _calls(router):
        ids, p, runners = _reference(router, X, queries, call)
        _check(router.route_many_embedded(X, queries, **call), ids, p, runners)
        _check(router.route_many_embedded(X, queries, explain=False, **call), ids, p, runners, explained=False)
        _check(router.route_many(queries, **call), ids, p, runners)


def test_one_query_routes_as_the_slow_reference_of_that_query(router, topic_data):
    # One query alone goes through other BLAS kernels than a batch: its reference is computed alone.
    for q in topic_data[1].queries[:5]:
        X = router.embed([q])
        for call in _calls(router):
            ids, p, runners = _reference(router, X, [q], call)
            _check([router.route(q, **call)], ids, p, runners)


def test_records_filled_in_bulk_equal_the_constructors(router, topic_data):
    queries = list(topic_data[1].queries[:4])
    for d in router.route_many(queries, alpha=0.6) + router.route_many(queries, budget=0.3):
        rebuilt = dataclasses.replace(d)  # through __init__: every field, in order
        assert rebuilt == d and vars(rebuilt) == vars(d)
        assert d.to_dict() == rebuilt.to_dict()
