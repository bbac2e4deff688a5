"""The router registry: names, spec strings, parameters, and which parameters may change after fit."""

import pytest

from irtrouter.errors import ConfigError, NotFittedError
from irtrouter.evaluate.routers.predictive import KNNRouter
from irtrouter.evaluate.routers.registry import (
    BUILTIN_ROUTERS,
    available_routers,
    make_router,
    parse_router_spec,
    register_router,
)

# The IRT-Router paper's baselines and variants (the registry also holds RADAR's and LLM Bandit's).
PAPER = (
    "small-llm", "large-llm", "random", "oracle", "hybrid-llm", "routellm-mf", "routerbench-knn",
    "routerbench-mlp", "knn-tuned", "mirt", "mirt-nowarmup", "nirt", "nirt-nowarmup",
)  # fmt: skip


def test_every_paper_baseline_is_registered():
    assert set(PAPER) <= set(available_routers())


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown router 'knn-tunde'") as err:
        make_router("knn-tunde")
    for name in sorted(BUILTIN_ROUTERS):
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
    # A JSON list or object keeps its commas, and a comma inside a quoted string is text.
    assert parse_router_spec('default:candidates=["mirt","2pl:init=data"], guard=false') == (
        "default",
        {"candidates": ["mirt", "2pl:init=data"], "guard": False},
    )
    assert parse_router_spec('x:a={"b": [1, 2], "c": "d,e"},f="g,\\"h"') == (
        "x",
        {"a": {"b": [1, 2], "c": "d,e"}, "f": 'g,"h'},
    )


@pytest.mark.parametrize("name", sorted(BUILTIN_ROUTERS))
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
