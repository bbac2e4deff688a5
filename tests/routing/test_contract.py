"""The contract every servable router meets: IRTRouter over each registered predictor and over
``predictor="auto"`` (the default: MIRT or 2PL chosen on validation, calibrated, guarded), and
PolicyRouter.

One suite over all of them, on the synthetic topic data with the offline hashing embedder and
short training: save/load round-trips exactly, decisions do not depend on the order of the
queries, allowed-LLM subsets hold under every rule, the same seed gives the same fit, each
predictor brings its own number of dimensions, and a PolicyRouter stands in for an IRTRouter.
"""

import inspect
import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from irtrouter.errors import ConfigError
from irtrouter.irt.registry import PREDICTORS
from irtrouter.routing import IRTRouter, PolicyRouter, load_router
from irtrouter.routing.rule import RULES, choose
from tests.compare import assert_close

EMBEDDER = "hashing:64"
# Settings that train in seconds on two cores; quality is not the point here.
SHORT_EPOCHS = {"mirt": 20, "nirt": 10, "2pl": 20, "identity": 10, "auto": 20}
TINY_POLICY = {
    "hidden_units": 16,
    "pretrain_steps": 40,
    "pretrain_batch": 128,
    "ppo_steps": 20,
    "ppo_batch": 64,
    "eval_every": 10,
}


def make(name):
    """A new, unfitted servable router: ``IRTRouter(predictor=name)`` (no n_dims: the predictor's
    own), or the policy router."""
    if name == "policy":
        return PolicyRouter(
            embedder=EMBEDDER,
            n_dims=4,
            identity_params={"learning_rate": 0.01, "max_epochs": 10},
            policy_params=TINY_POLICY,
        )
    return IRTRouter(
        predictor=name, embedder=EMBEDDER, predictor_params={"max_epochs": SHORT_EPOCHS[name], "learning_rate": 0.01}
    )


SERVABLE = [*sorted(PREDICTORS), "auto", "policy"]


@pytest.fixture(scope="module")
def fits(topic_data):
    """``fits(name)``: (router, the same router fitted a second time with the same random_state),
    fitted once per module."""
    train, _, catalog = topic_data
    done = {}

    def get(name):
        if name not in done:
            done[name] = tuple(make(name).fit(train, catalog, use_cache=False) for _ in range(2))
        return done[name]

    return get


@pytest.fixture(scope="module", params=SERVABLE)
def fitted(request, fits):
    """(name, router, its second fit)."""
    return (request.param, *fits(request.param))


@pytest.fixture(scope="module")
def test_queries(topic_data):
    return list(topic_data[1].queries)


def mid_budget(router):
    """A cap between what the cheapest and the dearest routing spend on the router's reference
    queries (the cheapest spends at least the cheapest LLM's spend on each)."""
    spend = router.budget_reference_.spend
    high = router.calibrate_budget(float(spend.max()), rule="linear").mean_cost  # binds nothing: weight 1
    low = spend.min(axis=1).mean()
    assert low < high
    return float(0.5 * (low + high))


def as_dicts(decisions):
    return [d.to_dict() for d in decisions]


def test_save_load_round_trips_exactly(fitted, test_queries, tmp_path):
    name, router, _ = fitted
    again = load_router(router.save(tmp_path / name))
    assert type(again) is type(router)
    assert again.get_params() == router.get_params()
    np.testing.assert_array_equal(again.predict(test_queries).p_hat, router.predict(test_queries).p_hat)
    for rule in router.rules:
        for alpha in (0.3, 0.8):
            assert as_dicts(again.route_many(test_queries, alpha, rule=rule)) == as_dicts(
                router.route_many(test_queries, alpha, rule=rule)
            ), (rule, alpha)
    cap = mid_budget(router)
    for rule in RULES:  # the budget mode calibrates the linear and Chebyshev rules
        a = router.route_many(test_queries, budget=cap, rule=rule)
        b = again.route_many(test_queries, budget=cap, rule=rule)
        assert as_dicts(a) == as_dicts(b), rule
        assert a[0].extras["budget"] == cap


def test_decisions_do_not_depend_on_the_order_of_the_queries(fitted, test_queries):
    """Each query's decision is a function of that query alone. A batched matrix product may round
    a row differently at another position in the batch, so p-hat is compared to within rounding,
    and the whole decision wherever the prediction came out the same (in practice: everywhere):
    every choice, name and text exactly, the numbers of its explanation to within rounding too
    (a logit contribution has been seen to differ in its sixth decimal)."""
    _, router, _ = fitted
    order = np.random.default_rng(0).permutation(len(test_queries))
    shuffled = [test_queries[i] for i in order]
    for rule in router.rules:
        in_order = router.route_many(test_queries, 0.6, rule=rule)
        permuted = router.route_many(shuffled, 0.6, rule=rule)
        expected = [in_order[i] for i in order]
        assert [d.query for d in permuted] == shuffled
        np.testing.assert_allclose([d.p_hat for d in permuted], [d.p_hat for d in expected], rtol=1e-6, atol=1e-9)
        same = [(e, g) for e, g in zip(expected, permuted, strict=True) if e.p_hat == g.p_hat]
        for e, g in same:
            assert_close(g.to_dict(), e.to_dict(), rule, rel=1e-5, abs=1e-6)


SUBSETS = [
    list(s) for k in (1, 2, 3) for s in itertools.combinations(("math-small", "code-small", "weak-small", "big"), k)
]


def test_the_chosen_llm_is_always_an_allowed_one(fitted, test_queries):
    _, router, _ = fitted
    pred = router.predict(test_queries)
    for rule in router.rules:
        for allowed in SUBSETS:
            positions = {router.llm_ids.index(m) for m in allowed}
            for alpha in (0.0, 0.5, 1.0):
                chosen = router.choose(pred, alpha, allowed_llms=allowed, rule=rule)
                assert set(chosen.tolist()) <= positions, (rule, allowed, alpha)
            chosen = router.choose(pred, allowed_llms=allowed, rule=rule, preference=0.5)
            assert set(chosen.tolist()) <= positions, (rule, allowed)
        for allowed in (["big"], ["weak-small", "code-small"]):
            decisions = router.route_many(test_queries[:20], 0.5, allowed_llms=allowed, rule=rule)
            assert {d.llm_id for d in decisions} <= set(allowed), (rule, allowed)
            assert all(d.allowed == tuple(m in allowed for m in router.llm_ids) for d in decisions)


def test_the_same_random_state_gives_the_same_fit(fitted, test_queries):
    name, first, second = fitted
    a, b = first.predict(test_queries), second.predict(test_queries)
    np.testing.assert_array_equal(a.p_hat, b.p_hat)
    if name == "policy":
        for w in (0.0, 0.7, 2.0):
            np.testing.assert_array_equal(first.probabilities(a, preference=w), second.probabilities(b, preference=w))


def test_without_n_dims_an_irt_router_uses_the_predictors_own(fitted):
    name, router, _ = fitted
    if name == "policy":  # given here: PolicyRouter's n_dims is its own argument
        assert router.predictor_.n_dims == router.n_dims == 4
    else:  # "auto": the chosen predictor's own
        assert router.n_dims is None
        assert router.predictor_.n_dims == PREDICTORS[router.predictor_.kind].default_n_dims()
    assert router.predictor_.abilities_.shape == (len(router.llm_ids), router.predictor_.n_dims)


@pytest.mark.parametrize(("name", "wrong", "fixed"), [("nirt", 3, 25), ("2pl", 25, 1)])
def test_a_wrong_fixed_n_dims_is_a_config_error_naming_the_fixed_value(name, wrong, fixed, topic_data):
    train, _, catalog = topic_data
    with pytest.raises(ConfigError, match=f"n_dims must be {fixed}, got {wrong}"):
        IRTRouter(predictor=name, n_dims=wrong, embedder=EMBEDDER).fit(train, catalog)


def test_building_a_router_needs_no_torch():
    code = textwrap.dedent("""
        import sys
        from irtrouter import IRTRouter
        router = IRTRouter(predictor='2pl')
        assert router.get_params()["predictor"] == "2pl"
        assert "torch" not in sys.modules, "torch was imported"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("method", ["choose", "route", "route_many"])
def test_a_policy_router_takes_the_arguments_of_an_irt_router(method):
    assert issubclass(PolicyRouter, IRTRouter)
    params = inspect.signature(getattr(IRTRouter, method)).parameters
    again = inspect.signature(getattr(PolicyRouter, method)).parameters
    assert [(p.name, p.kind, p.default) for p in again.values()] == [
        (p.name, p.kind, p.default) for p in params.values()
    ]
    assert set(IRTRouter.rules) <= set(PolicyRouter.rules)


def test_a_policy_router_routes_by_the_rules_of_an_irt_router_on_its_own_p_hat(fits, test_queries):
    router, _ = fits("policy")
    pred = router.predict(test_queries)
    for rule in RULES:
        for alpha in (0.2, 0.6, 0.9):
            expected = choose(pred.p_hat, pred.cost, alpha, rule=rule)
            np.testing.assert_array_equal(router.choose(pred, alpha, rule=rule), expected)
            np.testing.assert_array_equal(IRTRouter.choose(router, pred, alpha, rule=rule), expected)
            decisions = router.route_many(test_queries, alpha, rule=rule)
            assert [d.llm_id for d in decisions] == [router.llm_ids[j] for j in expected]
            assert {d.rule for d in decisions} == {rule}
    cap = mid_budget(router)
    assert router.route(test_queries[0], budget=cap, rule="linear").extras["budget"] == cap
    with pytest.raises(ConfigError, match="not the policy"):
        router.route(test_queries[0], budget=cap)
