"""Every decision's explanation: numbers recomputed from the router's parameters, the reason line,
runner-up rules, JSON form, and persistence (including routers saved before explanations)."""

import json

import numpy as np
import pytest

from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.routing import load_router
from irtrouter.routing.explanation import difficulty_band, difficulty_percentile
from tests.helpers import TOPIC_LLMS

QUERIES = [
    "x math integral derivative equation solve the of",
    "x code python function loop return a please",
    "x history ancient empire war king what about",
    "x math fraction sum prime number tell me",
]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_mirt_explanation_equals_recomputation_from_parameters(mirt_router):
    router = mirt_router
    params = router.predictor_.params_
    theta = router.predictor_.abilities_.astype(np.float64)
    X = router.embedder_.encode(QUERIES).astype(np.float64)
    a = X @ params["W_a"].T + params["c_a"]
    b = X @ params["w_b"] + params["c_b"]
    logits = a @ theta.T - b[:, None]
    P = sigmoid(logits)
    prices = np.array([router.catalog_[m].output_price for m in TOPIC_LLMS])
    C = prices / prices.max()  # the price cost model (the topic data has no tokens or USD)
    S = 0.7 * P - 0.3 * C
    train_b = np.sort(router.neighbours_.embeddings.astype(np.float64) @ params["w_b"] + params["c_b"])
    n_train = len(train_b)

    for i, decision in enumerate(router.route_many(QUERIES, alpha=0.7)):
        e = decision.explanation
        j, k = np.argsort(-S[i])[:2]
        assert S[i, j] - S[i, k] > 1e-6  # no tie, so the order is unambiguous
        assert (e.llm_id, e.runner_up) == (TOPIC_LLMS[j], TOPIC_LLMS[k]) == (decision.llm_id, e.runner_up)
        assert e.p_hat == pytest.approx(P[i, j], abs=1e-5)
        assert e.runner_up_p_hat == pytest.approx(P[i, k], abs=1e-5)
        assert e.p_margin == pytest.approx(P[i, j] - P[i, k], abs=1e-5)
        assert (e.cost, e.runner_up_cost) == pytest.approx((C[j], C[k]))
        assert e.cost_ratio == pytest.approx(C[j] / C[k])
        assert e.score_margin == pytest.approx(S[i, j] - S[i, k], abs=1e-5)
        assert e.difficulty == pytest.approx(b[i], abs=1e-5)
        pct = 100 * ((train_b < b[i]).sum() + 0.5 * (train_b == b[i]).sum()) / n_train
        assert e.difficulty_percentile == pytest.approx(pct, abs=100 / n_train)  # float32 vs float64 rounding
        assert e.difficulty_band == difficulty_band(e.difficulty_percentile)
        top = np.argsort(-np.abs(a[i]))[:3]
        assert [d.dimension for d in e.top_dimensions] == [f"dim {t + 1}" for t in top]
        for d, t in zip(e.top_dimensions, top, strict=True):
            assert d.weight == pytest.approx(a[i, t], abs=1e-4)
            assert (d.ability_chosen, d.ability_runner_up) == pytest.approx((theta[j, t], theta[k, t]), abs=1e-6)
            assert d.logit_contribution == pytest.approx(a[i, t] * (theta[j, t] - theta[k, t]), abs=1e-4)
        # The per-dimension shares decompose the logit gap exactly (b_q cancels).
        assert (a[i] * (theta[j] - theta[k])).sum() == pytest.approx(logits[i, j] - logits[i, k], abs=1e-6)


def test_reason_names_chosen_runner_up_difficulty_and_cost(mirt_warm_router):
    for decision in mirt_warm_router.route_many(QUERIES, alpha=0.8):
        e = decision.explanation
        pct = min(int(e.difficulty_percentile), 99)
        assert e.reason.startswith(f"{e.difficulty_band} ({pct}")
        assert f"{e.llm_id} P={e.p_hat:.2f} vs {e.runner_up} {e.runner_up_p_hat:.2f}" in e.reason
        assert "cost" in e.reason


def test_similar_task_comes_from_the_nearest_training_queries(mirt_warm_router):
    expected = ["math", "code", "history", "math"]
    for decision, task in zip(mirt_warm_router.route_many(QUERIES), expected, strict=True):
        assert decision.explanation.similar_task == task
        assert decision.explanation.similar_task_share >= 0.6
        assert f"{task}-like" in decision.explanation.reason


def test_runner_up_is_the_best_other_allowed_llm(mirt_warm_router):
    allowed = ["math-small", "code-small", "weak-small"]
    for alpha in (0.2, 0.5, 0.9):
        for d in mirt_warm_router.route_many(QUERIES, alpha=alpha, allowed_llms=allowed):
            e = d.explanation
            assert e.runner_up in allowed and e.runner_up != e.llm_id
            others = [d.score[j] for j, m in enumerate(d.llm_ids) if m in allowed and m != d.llm_id]
            assert d.score[d.llm_ids.index(e.runner_up)] == pytest.approx(max(others))
            assert e.score_margin >= 0


def test_a_single_allowed_llm_has_no_runner_up(mirt_warm_router):
    e = mirt_warm_router.route(QUERIES[0], allowed_llms=["big"]).explanation
    assert e.runner_up is None and e.p_margin is None and e.cost_ratio is None
    assert e.reason.endswith(f"big P={e.p_hat:.2f}, the only allowed LLM")


def test_nirt_explanation_weighs_the_named_abilities_of_the_query(nirt_router):
    router = nirt_router
    X = router.embedder_.encode(QUERIES)
    for i, decision in enumerate(router.route_many(QUERIES)):
        e = decision.explanation
        # Relevance of an unseen query: mean over its nearest training queries (cosine).
        near = np.argsort(-(router.neighbours_.embeddings @ X[i]), kind="stable")[: router.relevance_k]
        r = router.train_relevance_[near].mean(axis=0)
        w = np.exp(r / router.predictor_.relevance_temperature)
        w /= w.sum()
        top = np.argsort(-w, kind="stable")[:3]
        assert [d.weight for d in e.top_dimensions] == pytest.approx(w[top], abs=1e-6)
        assert [d.dimension for d in e.top_dimensions] == [ABILITY_NAMES[t] for t in top]
        j, k = TOPIC_LLMS.index(e.llm_id), TOPIC_LLMS.index(e.runner_up)
        theta = router.predictor_.abilities_
        assert [d.ability_chosen for d in e.top_dimensions] == pytest.approx(theta[j, top])
        assert [d.ability_runner_up for d in e.top_dimensions] == pytest.approx(theta[k, top])
        assert all(d.logit_contribution is None for d in e.top_dimensions)  # NIRT is not linear
    # The labeller gave math queries "Mathematical calculation" and code "Programming and algorithms".
    decisions = router.route_many(QUERIES[:2])
    assert decisions[0].explanation.top_dimensions[0].dimension == "Mathematical calculation"
    assert decisions[1].explanation.top_dimensions[0].dimension == "Programming and algorithms"
    assert decisions[0].explanation.reason.split(" query")[0].endswith("Mathematical calculation")


def test_decision_json_carries_the_explanation(mirt_warm_router):
    body = json.loads(json.dumps(mirt_warm_router.route(QUERIES[1], alpha=0.6).to_dict()))
    e = body["explanation"]
    assert e["llm_id"] == body["llm_id"] and e["runner_up"] in TOPIC_LLMS
    assert e["reason"] and 0 <= e["difficulty_percentile"] <= 100
    assert len(e["top_dimensions"]) == 3 and {"dimension", "weight", "logit_contribution"} <= set(
        e["top_dimensions"][0]
    )


def test_saved_router_gives_the_same_explanations(nirt_router, tmp_path):
    nirt_router.save(tmp_path / "r")
    loaded = load_router(tmp_path / "r")
    np.testing.assert_array_equal(loaded.train_difficulty_sorted_, nirt_router.train_difficulty_sorted_)
    assert loaded.train_tasks_ == nirt_router.train_tasks_
    before = [d.to_dict() for d in nirt_router.route_many(QUERIES)]
    assert [d.to_dict() for d in loaded.route_many(QUERIES)] == before


def test_router_saved_before_explanations_still_loads(mirt_warm_router, tmp_path):
    path = mirt_warm_router.save(tmp_path / "r")
    with np.load(path / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k not in ("train_difficulty_sorted", "train_tasks")}
    np.savez(path / "weights.npz", **arrays)
    old = load_router(path)
    # Difficulties are recomputed exactly from the stored training embeddings; tasks are unknown.
    np.testing.assert_allclose(old.train_difficulty_sorted_, mirt_warm_router.train_difficulty_sorted_, atol=1e-6)
    assert old.train_tasks_ is None
    e_old = old.route(QUERIES[0]).explanation
    e_new = mirt_warm_router.route(QUERIES[0]).explanation
    assert e_old.difficulty_percentile == pytest.approx(e_new.difficulty_percentile)
    assert e_old.similar_task is None and "-like" not in e_old.reason


def test_percentile_counts_ties_half():
    ref = np.array([1.0, 2.0, 2.0, 3.0])
    assert difficulty_percentile(np.array([2.0, 0.5, 3.5]), ref).tolist() == [50.0, 0.0, 100.0]


def test_2pl_explanation_splits_the_whole_logit_gap_on_its_one_ability(twopl_router):
    router = twopl_router
    X = router.embedder_.encode(QUERIES)
    features = router.predict_embedded(X, QUERIES).features
    logits = router.predictor_.logits(NUMPY_OPS, features, router.predictor_.abilities_, router.predictor_.params_)
    for i, decision in enumerate(router.route_many(QUERIES, alpha=0.9)):
        e = decision.explanation
        (dim,) = e.top_dimensions
        j, k = TOPIC_LLMS.index(e.llm_id), TOPIC_LLMS.index(e.runner_up)
        assert dim.dimension == "ability"
        assert dim.logit_contribution == pytest.approx(logits[i, j] - logits[i, k], abs=1e-5)
