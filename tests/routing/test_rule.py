"""The routing rule (routing/rule.py): the trade-off, both rules' properties, and the router using them.

Property tests run over both rules: a dominated LLM is never chosen, more weight on cost never
picks a dearer LLM, scaling alpha and beta together changes nothing, and ties go to the cheaper
LLM. Then the router: ``route(..., rule=)`` is ``choose`` on its own prediction, and the budget
mode keeps its promise on the router's reference queries.
"""

import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irtrouter.errors import ConfigError, UnknownLLMError
from irtrouter.routing import IRTRouter
from irtrouter.routing.rule import RULES, TIE_TOLERANCE, TradeOff, allowed_mask, choose, resolve_weights, rule_scores

# Values on a grid of 1/1000: exact ties happen (and must break the same way), near-ties do not.
grid = st.integers(0, 1000).map(lambda k: k / 1000)
weights = st.floats(0, 1e6, allow_nan=False)
rules = st.sampled_from(RULES)


@st.composite
def pools(draw, min_llms=2, max_llms=8):
    n = draw(st.integers(min_llms, max_llms))
    p = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    c = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    return p, c


# -- the trade-off -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(weights, weights)
def test_alpha_and_beta_are_normalised_keeping_their_ratio(alpha, beta):
    if alpha + beta == 0:
        return
    t = TradeOff.of(alpha, beta)
    assert t.alpha + t.beta == pytest.approx(1.0)
    assert t.alpha * beta == pytest.approx(t.beta * alpha, rel=1e-12, abs=1e-300)
    assert (t.alpha, t.beta) == resolve_weights(alpha, beta)
    assert t.preference is None


@given(grid)
def test_beta_defaults_to_one_minus_alpha(alpha):
    t = TradeOff.of(alpha)
    assert (t.alpha, t.beta) == (alpha, 1.0 - alpha)
    assert t.cost_weight == (math.inf if alpha == 0 else (1.0 - alpha) / alpha)


@settings(max_examples=300)
@given(st.floats(0, 1e300, allow_nan=False), weights, weights)
def test_a_preference_round_trips_exactly_and_replaces_alpha_and_beta(w, alpha, beta):
    t = TradeOff.of(alpha, beta, preference=w)
    assert t.cost_weight == w and t.preference == w
    assert (t.alpha, t.beta) == (1.0 / (1.0 + w), w / (1.0 + w))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, r"alpha must be a number in \[0, 1\] when beta is not given, got 1.5"),
        ({"alpha": -0.1}, r"alpha must be a number in \[0, 1\]"),
        ({"alpha": True}, r"alpha must be a number"),
        ({"alpha": "0.5"}, r"alpha must be a number"),
        ({"alpha": 0.5, "beta": float("nan")}, "beta must be a finite number >= 0, got nan"),
        ({"alpha": float("inf"), "beta": 1.0}, "alpha must be a finite number >= 0, got inf"),
        ({"alpha": 0.5, "beta": -1}, "beta must be a finite number >= 0, got -1"),
        ({"alpha": 0.0, "beta": 0.0}, "alpha and beta cannot both be 0"),
        ({"preference": -1.0}, "preference must be a finite number >= 0, got -1.0"),
        ({"preference": float("nan")}, "preference must be a finite number >= 0"),
        ({"preference": float("inf")}, "preference must be a finite number >= 0"),
        ({"preference": True}, "preference must be a finite number >= 0, got True"),
    ],
)
def test_bad_trade_offs_are_config_errors_naming_the_value(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TradeOff.of(**kwargs)


def test_choose_takes_a_trade_off_as_alpha():
    p, c = np.array([[0.5, 0.7, 1.0]]), np.array([0.01, 0.5, 1.0])
    for rule, w in itertools.product(RULES, (0.0, 0.25, 1.0, 4.0)):
        t = TradeOff.of(preference=w)
        assert choose(p, c, t, rule=rule).tolist() == choose(p, c, t.alpha, t.beta, rule=rule).tolist()


# -- properties of both rules ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(pools(min_llms=1), grid, grid, weights, weights, rules)
def test_a_dominated_llm_is_never_chosen(pool, dp, dc, alpha, beta, rule):
    p, c = pool
    if alpha + beta == 0 or (dp == 0 and dc == 0) or (p[0] - dp < 0):
        return
    # Append an LLM dominated by LLM 0: no better P, no lower cost, strictly worse on one.
    p2, c2 = np.append(p, p[0] - dp), np.append(c, c[0] + dc)
    j = choose(p2[None], c2, alpha, beta, rule=rule)[0]
    assert j != len(p)
    # ...and whatever is chosen, no LLM beats it on one side and matches it on the other.
    beaten = (p2 >= p2[j]) & (c2 <= c2[j]) & ((p2 > p2[j]) | (c2 < c2[j]))
    assert not beaten.any()


@settings(max_examples=300, deadline=None)
@given(pools(), st.lists(st.floats(0, 1), min_size=2, max_size=6), rules)
def test_more_weight_on_cost_never_picks_a_dearer_llm(pool, betas, rule):
    p, c = pool
    picked = [choose(p[None], c, 1.0 - b, b, rule=rule)[0] for b in sorted(betas)]
    costs = [c[j] for j in picked]
    assert all(later <= earlier for earlier, later in itertools.pairwise(costs))
    # ...and what it saves it pays for in P, never the other way round.
    assert all(p[later] <= p[earlier] for earlier, later in itertools.pairwise(picked))


@settings(max_examples=300, deadline=None)
@given(pools(), st.floats(0.01, 1), st.floats(0.01, 1), st.floats(0.001, 1000), rules)
def test_scaling_alpha_and_beta_together_changes_nothing(pool, alpha, beta, k, rule):
    p, c = pool
    assert choose(p[None], c, alpha, beta, rule=rule)[0] == choose(p[None], c, alpha * k, beta * k, rule=rule)[0]


@settings(max_examples=300, deadline=None)
@given(pools(), st.integers(0, 1000), rules)
def test_ties_go_to_the_cheaper_llm(pool, a, rule):
    p, c = pool
    t = TradeOff.of(a / 1000)
    j = choose(p[None], c, t, rule=rule)[0]
    score = rule_scores(p, c, t, rule)
    tied = score >= score.max() - TIE_TOLERANCE
    assert tied[j] and c[j] == c[tied].min()
    assert p[j] == p[tied & (c == c[j])].max()


@pytest.mark.parametrize("rule", RULES)
def test_an_exact_tie_goes_to_the_cheaper_then_the_surer_then_the_first(rule):
    # Equal scores under both rules at alpha = beta = 0.5: (P, C) = (0.6, 0.2) and (0.7, 0.3) tie
    # linearly; under Chebyshev the performance term binds for both LLMs of equal P.
    if rule == "linear":
        assert choose(np.array([[0.7, 0.6]]), np.array([0.3, 0.2]), 0.5, rule=rule)[0] == 1
    else:
        assert choose(np.array([[0.6, 0.6]]), np.array([0.3, 0.2]), 0.5, rule=rule)[0] == 1
    assert choose(np.array([[0.5, 0.5]]), np.array([0.2, 0.1]), 1.0, 0.0, rule=rule)[0] == 1  # cost
    assert choose(np.array([[0.6, 0.4]]), np.array([0.5, 0.5]), 0.0, 1.0, rule=rule)[0] == 0  # then P
    assert choose(np.array([[0.5, 0.5]]), np.array([0.3, 0.3]), 0.5, rule=rule)[0] == 0  # then order


@settings(max_examples=300, deadline=None)
@given(pools())
def test_beta_zero_picks_the_argmax_of_p(pool):
    p, c = pool
    for rule in RULES:
        j = choose(p[None], c, alpha=1.0, beta=0.0, rule=rule)[0]
        assert p[j] == p.max()
        assert c[j] == c[p == p.max()].min()  # among the best, the cheapest


@settings(max_examples=300, deadline=None)
@given(pools())
def test_alpha_zero_picks_the_cheapest(pool):
    p, c = pool
    for rule in RULES:
        j = choose(p[None], c, alpha=0.0, rule=rule)[0]
        assert c[j] == c.min()
        assert p[j] == p[c == c.min()].max()  # among the cheapest, the best


@given(pools())
def test_chebyshev_picks_a_minimiser_of_the_weighted_max(pool):
    p, c = pool
    for w in (0.1, 0.5, 0.9):
        j = choose(p[None], c, w, rule="chebyshev")[0]
        score = np.maximum(w * (1 - p), (1 - w) * c)
        assert score[j] == pytest.approx(score.min(), abs=1e-12)


def test_chebyshev_reaches_a_non_convex_point_that_no_linear_weight_reaches():
    # (cost, p): (0.01, 0.5), (0.5, 0.7), (1, 1): the middle point lies under the chord.
    p, c = np.array([[0.5, 0.7, 1.0]]), np.array([0.01, 0.5, 1.0])
    grid_w = np.linspace(0, 1, 1001)
    linear = {int(choose(p, c, w, rule="linear")[0]) for w in grid_w}
    chebyshev = {int(choose(p, c, w, rule="chebyshev")[0]) for w in grid_w}
    assert linear == {0, 2} and chebyshev == {0, 1, 2}


def test_allowed_subsets_and_bad_arguments():
    p, c = np.array([[0.9, 0.5, 0.1]]), np.array([0.5, 0.2, 0.0])
    mask = allowed_mask(("a", "b", "c"), ["b", "c"])
    for rule in RULES:
        assert choose(p, c, 1.0, 0.0, mask, rule=rule)[0] == 1
    with pytest.raises(UnknownLLMError, match="unknown LLM 'z'"):
        allowed_mask(("a", "b"), ["z"])
    with pytest.raises(ConfigError, match="empty"):
        allowed_mask(("a", "b"), [])
    with pytest.raises(ConfigError, match="unknown routing rule 'pareto'; expected one of linear, chebyshev"):
        choose(p, c, 0.5, rule="pareto")
    with pytest.raises(ConfigError, match="no LLM is allowed"):
        choose(p, c, 0.5, None, np.array([False, False, False]), rule="chebyshev")


# -- the router's use of the rule ------------------------------------------------------------------


@pytest.fixture(scope="module")
def router(topic_data):
    train, _, catalog = topic_data
    return IRTRouter(
        predictor="mirt", embedder="hashing:64", predictor_params={"max_epochs": 20, "learning_rate": 0.01}
    ).fit(train, catalog, use_cache=False)


@pytest.mark.parametrize("rule", RULES)
def test_route_is_choose_on_the_routers_own_prediction(router, topic_data, rule):
    queries = list(topic_data[1].queries)
    pred = router.predict(queries)
    own_rule = copy.copy(router)
    own_rule.rule = rule  # a router made with rule=... routes by it when a call names none
    for alpha in (0.1, 0.5, 0.9):
        expected = [router.llm_ids[j] for j in choose(pred.p_hat, pred.cost, alpha, rule=rule)]
        decisions = router.route_many(queries, alpha, rule=rule)
        assert [d.llm_id for d in decisions] == expected
        assert {d.rule for d in decisions} == {rule}
        np.testing.assert_array_equal(
            [d.score for d in decisions], rule_scores(pred.p_hat, pred.cost, TradeOff.of(alpha), rule)
        )
        assert [d.llm_id for d in own_rule.route_many(queries, alpha)] == expected
        for q in queries[:10]:
            one = router.predict([q])
            assert (
                router.route(q, alpha, rule=rule).llm_id
                == router.llm_ids[choose(one.p_hat, one.cost, alpha, rule=rule)[0]]
            )


def reference_queries(router, train):
    """The router's budget reference: training queries (rows) and what routing each to each LLM spends."""
    ref = router.budget_reference_
    return [train.queries[i] for i in ref.rows], ref.spend


@pytest.mark.parametrize("rule", RULES)
def test_a_budget_keeps_the_mean_spend_on_the_reference_queries_within_the_cap(router, topic_data, rule):
    queries, spend = reference_queries(router, topic_data[0])
    rows = np.arange(len(queries))
    pred = router.predict(queries)
    low = spend[rows, router.choose(pred, 0.0, rule=rule)].mean()  # the cheapest routing
    high = spend[rows, router.choose(pred, 1.0, rule=rule)].mean()  # performance only
    assert low < high
    for cap in np.linspace(low, high, 5)[1:-1]:
        cal = router.calibrate_budget(float(cap), rule=rule)
        assert 0 <= cal.weight < 1 and cal.mean_cost <= cap
        chosen = router.choose(pred, budget=float(cap), rule=rule)
        assert spend[rows, chosen].mean() <= cap
        assert spend[rows, chosen].mean() == pytest.approx(cal.mean_cost)
        decision = router.route(queries[0], budget=float(cap), rule=rule)
        assert decision.extras["budget"] == float(cap) and decision.alpha == pytest.approx(cal.weight)


@pytest.mark.parametrize("rule", RULES)
def test_a_cap_below_the_cheapest_routing_is_a_config_error(router, topic_data, rule):
    queries, spend = reference_queries(router, topic_data[0])
    cheapest = spend[np.arange(len(queries)), router.choose(router.predict(queries), 0.0, rule=rule)].mean()
    with pytest.raises(ConfigError, match="below what the cheapest routing spends"):
        router.calibrate_budget(0.5 * float(cheapest), rule=rule)
    with pytest.raises(ConfigError, match="below what the cheapest routing spends"):
        router.route(queries[0], budget=0.5 * float(cheapest), rule=rule)
