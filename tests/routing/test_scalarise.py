"""RADAR's hard budget mode over the linear and Chebyshev rules (their properties: test_rule.py)."""

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


def test_bad_arguments_are_named():
    p, c = np.array([[0.5, 0.7]]), np.array([0.1, 0.5])
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
