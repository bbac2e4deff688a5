"""RADAR's linear and Chebyshev scalarisations (the rules of routing.rule) and the hard budget mode."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from irtrouter.errors import ConfigError
from irtrouter.routing import IRTRouter
from irtrouter.routing.rule import choose
from irtrouter.routing.scalarise import calibrate_budget
from tests.radar_data import configuration_catalog, configuration_results

unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def predictions(draw, max_queries=6, max_llms=5):
    n, m = draw(st.integers(1, max_queries)), draw(st.integers(1, max_llms))
    p = draw(arrays(np.float64, (n, m), elements=unit))
    c = draw(arrays(np.float64, (m,), elements=unit))
    return p, c


@given(predictions(), unit)
def test_linear_is_the_routers_rule_with_alpha_equal_to_the_weight(pc, w):
    p, c = pc
    np.testing.assert_array_equal(choose(p, c, w, rule="linear"), choose(p, c, alpha=w))


@given(predictions(), unit)
def test_chebyshev_picks_a_minimiser_of_the_weighted_max(pc, w):
    p, c = pc
    chosen = choose(p, c, w, rule="chebyshev")
    score = np.maximum(w * (1 - p), (1 - w) * c)
    np.testing.assert_allclose(score[np.arange(len(p)), chosen], score.min(axis=1), atol=1e-12)


@pytest.mark.parametrize("scalarisation", ["linear", "chebyshev"])
@given(pc=predictions(), w=unit)
def test_dominated_candidates_are_never_chosen(scalarisation, pc, w):
    p, c = pc
    chosen = choose(p, c, w, rule=scalarisation)
    for i, j in enumerate(chosen):
        beaten = (p[i] >= p[i, j]) & (c <= c[j]) & ((p[i] > p[i, j]) | (c < c[j]))
        assert not beaten.any()


@pytest.mark.parametrize("scalarisation", ["linear", "chebyshev"])
@given(pc=predictions(max_queries=1), w1=unit, w2=unit)
def test_more_weight_never_buys_a_cheaper_worse_candidate(scalarisation, pc, w1, w2):
    p, c = pc
    lo, hi = sorted((w1, w2))
    a, b = choose(p, c, lo, rule=scalarisation)[0], choose(p, c, hi, rule=scalarisation)[0]
    assert p[0, b] >= p[0, a] - 1e-12 and c[b] >= c[a] - 1e-12


@pytest.mark.parametrize("scalarisation", ["linear", "chebyshev"])
def test_the_extreme_weights_pick_cheapest_and_best(scalarisation):
    p, c = np.array([[0.4, 0.9, 0.7]]), np.array([0.2, 0.9, 0.05])
    assert choose(p, c, 0.0, rule=scalarisation)[0] == 2
    assert choose(p, c, 1.0, rule=scalarisation)[0] == 1


def test_chebyshev_reaches_a_non_convex_point_that_no_linear_weight_reaches():
    # (cost, p): (0.01, 0.5), (0.5, 0.7), (1, 1): the middle point lies under the chord.
    p, c = np.array([[0.5, 0.7, 1.0]]), np.array([0.01, 0.5, 1.0])
    weights = np.linspace(0, 1, 1001)
    linear = {int(choose(p, c, w, rule="linear")[0]) for w in weights}
    chebyshev = {int(choose(p, c, w, rule="chebyshev")[0]) for w in weights}
    assert linear == {0, 2} and chebyshev == {0, 1, 2}


def test_bad_arguments_are_named():
    p, c = np.array([[0.5, 0.7]]), np.array([0.1, 0.5])
    with pytest.raises(ConfigError, match=r"alpha must be a number in \[0, 1\] when beta is not given, got 1.5"):
        choose(p, c, 1.5, rule="chebyshev")
    with pytest.raises(ConfigError, match="unknown routing rule 'pareto'; expected one of linear, chebyshev"):
        choose(p, c, 0.5, rule="pareto")
    with pytest.raises(ConfigError, match="no LLM is allowed"):
        choose(p, c, 0.5, None, np.array([False, False]), rule="chebyshev")
    with pytest.raises(ConfigError, match="cap must be a finite number >= 0"):
        calibrate_budget(p, c, cap=-1)
    with pytest.raises(ConfigError, match="spend has shape"):
        calibrate_budget(p, c, cap=1, spend=np.ones((2, 2)))


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 30),
    m=st.integers(1, 6),
    scalarisation=st.sampled_from(["linear", "chebyshev"]),
)
def test_budget_mode_never_exceeds_its_cap_on_its_calibration_data(data, n, m, scalarisation):
    p = data.draw(arrays(np.float64, (n, m), elements=unit))
    c = data.draw(arrays(np.float64, (m,), elements=unit))
    # Spend in another unit (USD) that need not follow the normalised cost exactly.
    spend = data.draw(arrays(np.float64, (n, m), elements=st.floats(0, 5)))
    floor = spend[np.arange(n), choose(p, c, 0.0, rule=scalarisation)].mean()
    cap = data.draw(st.floats(0, 5))
    try:
        cal = calibrate_budget(p, c, cap, scalarisation, spend=spend)
    except ConfigError as exc:
        assert "below what the cheapest routing spends" in str(exc)
        assert floor > cap
        return
    chosen = cal.choose(p, c)
    assert spend[np.arange(n), chosen].mean() <= cap + 1e-12
    assert cal.mean_cost == pytest.approx(spend[np.arange(n), chosen].mean())


def test_budget_mode_buys_performance_with_a_larger_cap():
    rng = np.random.default_rng(0)
    p = np.sort(rng.random((500, 5)), axis=1)  # dearer candidates are better
    c = np.array([0.05, 0.1, 0.3, 0.6, 1.0])
    perf = [calibrate_budget(p, c, cap, "chebyshev").expected_performance for cap in (0.1, 0.3, 0.6, 1.0)]
    assert perf == sorted(perf) and perf[-1] > perf[0] + 0.1
    assert calibrate_budget(p, c, 1.0).weight == 1.0  # a cap above the dearest routing binds nothing


def test_budget_mode_on_a_router_over_configurations():
    """Calibrate on validation queries of a 2PL router over (llm, effort) configurations: the cap
    holds there, and the router spends about the cap on new queries."""
    catalog = configuration_catalog()
    train, val = configuration_results(500, seed=0), configuration_results(300, seed=1, prefix="v")
    test = configuration_results(300, seed=2, prefix="t")
    router = IRTRouter(
        predictor="2pl",
        n_dims=1,
        embedder="hashing:256",
        cost_model="configuration",
        predictor_params={"learning_rate": 0.02},
    ).fit(train, catalog)
    usd = {"val": None, "test": None}
    prices = np.array([catalog[g].output_price for g in router.llm_ids]) / 1e6
    for name, part in (("val", val), ("test", test)):
        usd[name] = part.output_tokens * prices  # realised USD of each (query, configuration)
    pv = router.predict(val.queries)
    top = usd["val"][np.arange(val.n_queries), pv.p_hat.argmax(axis=1)].mean()
    cap = 0.3 * top
    for scalarisation in ("linear", "chebyshev"):
        cal = calibrate_budget(pv.p_hat, pv.cost, cap, scalarisation, spend=usd["val"])
        assert 0 < cal.weight < 1
        rows = np.arange(val.n_queries)
        assert usd["val"][rows, cal.choose(pv.p_hat, pv.cost)].mean() <= cap
        pt = router.predict(test.queries)
        chosen = router.choose(pt, cal.weight, rule=scalarisation)
        spent = usd["test"][np.arange(test.n_queries), chosen].mean()
        assert spent < 1.25 * cap
        # Under the cap, the router beats the cheapest configuration on realised accuracy.
        assert test.scores[np.arange(test.n_queries), chosen].mean() > test.scores[:, 0].mean() + 0.1


def test_registered_radar_routers_route_by_their_scalarisation():
    from irtrouter.evaluate.routers.contract import ScoredDecisions
    from irtrouter.evaluate.routers.registry import available_routers, make_router

    assert {"2pl", "2pl-chebyshev", "mirt-chebyshev"} <= set(available_routers())
    p, c = np.array([[0.5, 0.7, 1.0]]), np.array([0.01, 0.5, 1.0])
    decisions = ScoredDecisions(("a", "b", "c"), p, c, rule="chebyshev")
    assert decisions.choose(0.6).tolist() == [1] == choose(p, c, 0.6, rule="chebyshev").tolist()
    # The scalarisation is applied at decision time: switching it needs no new fit.
    assert make_router("2pl").with_params(rule="chebyshev").rule == "chebyshev"
    with pytest.raises(ConfigError, match="change what fit"):
        make_router("2pl").with_params(n_dims=2)
