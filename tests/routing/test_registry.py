"""The router registry: names, parameters, the estimator contract and the decision objects."""

import numpy as np
import pytest

from irtrouter.errors import ConfigError, NotFittedError
from irtrouter.evaluate.routers.contract import BinaryDecisions, FixedDecisions, QueryBatch, ScoredDecisions
from irtrouter.evaluate.routers.predictive import KNNRouter
from irtrouter.evaluate.routers.registry import available_routers, make_router, parse_router_spec, register_router

BUILTIN = (
    "small-llm", "large-llm", "random", "oracle", "hybrid-llm", "routellm-mf", "routerbench-knn",
    "routerbench-mlp", "knn-tuned", "mirt", "mirt-nowarmup", "nirt", "nirt-nowarmup",
)  # fmt: skip


def test_every_paper_baseline_is_registered():
    assert set(BUILTIN) <= set(available_routers())


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown router 'knn-tunde'") as err:
        make_router("knn-tunde")
    for name in BUILTIN:
        assert name in str(err.value)


def test_unknown_parameter_lists_the_router_parameters():
    with pytest.raises(ConfigError, match=r"no parameter\(s\) \['kk'\].*k, cost_model"):
        make_router("routerbench-knn:kk=3")


def test_spec_values_parse_as_json_else_text():
    assert parse_router_spec("nirt:relevance=uniform, n_dims=25") == ("nirt", {"relevance": "uniform", "n_dims": 25})
    assert make_router("routerbench-knn:k=100").k == 100
    assert make_router("mirt", warmup_lambda=0.1).warmup_lambda == 0.1  # keyword arguments win over defaults
    with pytest.raises(ConfigError, match="key=value"):
        parse_router_spec("mirt:oops")


@pytest.mark.parametrize("name", BUILTIN)
def test_config_keys_are_constructor_arguments(name):
    router = make_router(name)
    params = router.get_params()
    assert list(params) == type(router).param_names()
    again = make_router(name, **params)
    assert again.get_params() == params
    assert type(again) is type(router)


def test_registering_checks_the_defaults():
    with pytest.raises(ConfigError, match="no parameter"):
        register_router("bad-knn", KNNRouter, k=5, neighbours=3)
    assert "bad-knn" not in available_routers()


def test_deciding_before_fit_is_an_error():
    with pytest.raises(NotFittedError, match="not fitted"):
        make_router("small-llm").decide(QueryBatch(("q",), np.zeros((1, 4), np.float32)))


def test_only_inference_parameters_change_after_fit():
    router = make_router("mirt")
    assert router.with_params(warmup_lambda=0.0).warmup_lambda == 0.0
    with pytest.raises(ConfigError, match="change what fit"):
        router.with_params(n_dims=5)
    # Variants that differ only in the warm-up share their fitted state.
    assert make_router("mirt").fit_key() == make_router("mirt-nowarmup").fit_key()
    assert make_router("mirt").fit_key() != make_router("nirt").fit_key()
    # A subclass that only decides differently (RADAR's Chebyshev rule) learns what its parent learns.
    assert make_router("mirt").fit_key() == make_router("mirt-chebyshev").fit_key()
    with pytest.raises(ConfigError, match="cannot share the fit"):
        make_router("mirt").share_fit(make_router("nirt"))
    with pytest.raises(NotFittedError):
        make_router("mirt").share_fit(make_router("mirt-nowarmup"))


def test_scored_decisions_apply_the_alpha_rule():
    d = ScoredDecisions(("cheap", "dear"), np.array([[0.6, 0.9]]), np.array([0.1, 1.0]))
    assert d.choose(1.0).tolist() == [1]  # performance only
    assert d.choose(0.5).tolist() == [0]  # 0.5*0.6-0.5*0.1 > 0.5*0.9-0.5*1.0
    assert d.p_hat is not None


def test_fixed_decisions_ignore_alpha_but_check_it():
    d = FixedDecisions(("a", "b"), np.array([1, 0]))
    assert d.choose(0.2).tolist() == d.choose(0.9).tolist() == [1, 0]
    assert d.p_hat is None
    with pytest.raises(ConfigError):
        d.choose(1.5)


def test_binary_decisions_threshold_and_share():
    win = np.array([0.9, 0.1, 0.5, 0.7])
    d = BinaryDecisions(("small", "big"), 0, 1, win, threshold=lambda alpha: 0.6 if alpha > 0.5 else 2.0)
    assert d.choose(0.8).tolist() == [1, 0, 0, 1]
    assert d.choose(0.2).tolist() == [0, 0, 0, 0]
    assert d.at_share(0.5).tolist() == [1, 0, 0, 1]  # the two highest win rates
    assert d.at_share(0.0).tolist() == [0, 0, 0, 0]
    assert d.at_share(1.0).tolist() == [1, 1, 1, 1]
    with pytest.raises(ConfigError):
        d.at_share(1.2)
