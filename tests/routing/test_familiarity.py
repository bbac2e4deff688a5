"""The novelty gate: queries unlike every training query are routed by the model alone, unguarded."""

import numpy as np
import pytest

from irtrouter.routing import IRTRouter, load_router
from irtrouter.routing.familiarity import FAMILIAR_K, FAMILIAR_QUANTILE, Familiarity, familiarity
from irtrouter.routing.index import NeighbourIndex
from irtrouter.routing.rule import TradeOff, choose
from tests.helpers import topic_catalog, topic_results

# Words of none of the training topics: with the hashing embedder they share no feature with them.
STRANGERS = [
    "zebra violin glacier tango saffron quartz",
    "opera lantern meadow falcon velvet canyon",
    "harbour pepper comet ballet walnut fjord",
]


def unit_rows(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_familiarity_is_the_mean_similarity_to_the_nearest_rows():
    rng = np.random.default_rng(0)
    E, X = unit_rows(rng, 200, 16), unit_rows(rng, 30, 16)
    near = NeighbourIndex(E).search(X, 25)
    expected = np.sort(X @ E.T, axis=1)[:, ::-1][:, :FAMILIAR_K].mean(axis=1)
    np.testing.assert_allclose(familiarity(X, E, near), expected, rtol=0, atol=1e-6)
    # The training rows themselves are the most familiar queries there are.
    assert familiarity(E[:5], E, NeighbourIndex(E).search(E[:5], FAMILIAR_K), k=1).min() > 0.999


def test_the_threshold_is_the_validation_quantile_and_the_state_round_trips():
    f = np.random.default_rng(1).uniform(0.2, 0.9, 500)
    gate = Familiarity.fit(f)
    assert gate.threshold == pytest.approx(np.quantile(f, FAMILIAR_QUANTILE))
    assert (f < gate.threshold).mean() == pytest.approx(FAMILIAR_QUANTILE, abs=0.005)
    assert gate.report()["validation_familiarity"]["median"] == pytest.approx(np.median(f), abs=1e-6)
    back = Familiarity.from_state(*gate.state())
    assert back == gate


@pytest.fixture(scope="module")
def gated():
    results, catalog = topic_results(n_per_topic=60, seed=3), topic_catalog()
    router = IRTRouter(
        predictor="auto", embedder="hashing:256", candidates=("mirt",), predictor_params={"max_epochs": 30}
    ).fit(results, catalog)
    return router, results


def test_unfamiliar_queries_are_routed_by_the_model_alone_and_unguarded(gated, tmp_path):
    router, results = gated
    assert router.familiarity_ is not None
    record = router.training_["selection"]["novelty_gate"]
    assert record["threshold"] == pytest.approx(router.familiarity_.threshold, abs=1e-6)
    familiar = list(results.queries[:40])
    queries = familiar + STRANGERS
    pred = router.predict(queries)
    assert pred.unfamiliar is not None
    assert pred.unfamiliar[len(familiar) :].all()
    assert pred.unfamiliar[: len(familiar)].mean() <= 0.1  # training queries are familiar
    own = router.predictor_.predict_proba(pred.features)  # the model alone: no stage, no calibration
    np.testing.assert_allclose(pred.p_hat[pred.unfamiliar], own[pred.unfamiliar], rtol=0, atol=1e-12)
    # The stack (or blend) routes the familiar ones: their P is not the model's own.
    assert not np.allclose(pred.p_hat[~pred.unfamiliar], own[~pred.unfamiliar])
    for alpha in (0.2, 0.5, 0.8):
        decisions = router.route_many(queries, alpha)
        by_rule = choose(pred.p_hat, pred.cost, TradeOff.of(alpha))
        for d, new, rule_pick in zip(decisions, pred.unfamiliar.tolist(), by_rule.tolist(), strict=True):
            assert d.extras["unfamiliar"] is new
            if new:
                assert d.index == rule_pick and not d.extras["stayed_on_default"]
                assert "unlike every training query" in d.explanation.reason
    # Saved and loaded, the gate routes alike.
    loaded = load_router(router.save(tmp_path / "gated"))
    assert loaded.familiarity_.threshold == router.familiarity_.threshold
    np.testing.assert_array_equal(loaded.predict(queries).p_hat, pred.p_hat)
    assert [d.llm_id for d in loaded.route_many(queries, 0.8)] == [d.llm_id for d in router.route_many(queries, 0.8)]


def test_the_gate_can_be_turned_off():
    results, catalog = topic_results(n_per_topic=30, seed=4), topic_catalog()
    router = IRTRouter(
        predictor="auto", embedder="hashing:64", candidates=("mirt",), novelty_gate=False,
        predictor_params={"max_epochs": 5},
    ).fit(results, catalog)  # fmt: skip
    assert router.familiarity_ is None and router.training_["selection"]["novelty_gate"] is None
    decision = router.route(STRANGERS[0])
    assert "unfamiliar" not in decision.extras and router.predict(STRANGERS).unfamiliar is None
