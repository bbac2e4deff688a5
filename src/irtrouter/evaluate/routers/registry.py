"""The evaluation's routers by name: one explicit table, and the door for users' own.

``make_router("knn-tuned")`` or ``make_router("routerbench-knn:k=100")`` builds a router by name;
the keys after ``:`` are constructor arguments (values parsed as JSON where they parse, else text),
so a configuration file can name a router with the same keys as the Python call. An unknown name
or argument raises :class:`~irtrouter.errors.ConfigError` listing the valid ones.
:func:`register_router` adds a router of the user's (or replaces a built-in) at run time; the
built-ins are the literal table :data:`BUILTIN_ROUTERS`, so importing anything registers nothing.

Examples
--------
>>> "knn-tuned" in available_routers()
True
>>> make_router("routerbench-knn:k=100").get_params()["k"]
100
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from irtrouter._params import parse_spec
from irtrouter.errors import ConfigError
from irtrouter.evaluate.routers.binary import HybridLLMRouter, MFRouter
from irtrouter.evaluate.routers.contract import Router
from irtrouter.evaluate.routers.irt import BanditRouter, IRTAdapter
from irtrouter.evaluate.routers.predictive import KNNRouter, MLPRouter, TunedKNNRouter
from irtrouter.evaluate.routers.reference import (
    BestSingleRouter,
    OracleRouter,
    RandomRouter,
    SingleLLMRouter,
    TaskOracleRouter,
)


@dataclass(frozen=True)
class RouterEntry:
    """A registered router: its class, the defaults that make this entry, and what it is."""

    cls: type[Router]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


#: Routers registered at run time with :func:`register_router`.
_REGISTRY: dict[str, RouterEntry] = {}


def register_router(name: str, cls: type[Router], description: str = "", **defaults: Any) -> None:
    """Register ``cls`` under ``name`` with constructor ``defaults`` (replacing an entry of that name).

    Examples
    --------
    >>> register_router("knn-5", available_routers()["routerbench-knn"].cls, "kNN, k=5", k=5)
    >>> make_router("knn-5").k
    5
    """
    unknown = set(defaults) - set(cls.param_names())
    if unknown:
        raise ConfigError(f"{cls.__name__} has no parameter(s) {sorted(unknown)}; it takes {cls.param_names()}")
    _REGISTRY[name] = RouterEntry(cls, dict(defaults), description)


def available_routers() -> dict[str, RouterEntry]:
    """Every registered router by name: the built-ins, then the users' (a user's entry of a
    built-in's name replaces it)."""
    return {**BUILTIN_ROUTERS, **_REGISTRY}


def parse_router_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,key=value"`` -> ``(name, params)``; values are JSON where they parse."""
    return parse_spec(spec, "router spec")


def make_router(spec: str, **params: Any) -> Router:
    """A new router from a registry name or spec string, ``params`` overriding its defaults."""
    name, from_spec = parse_router_spec(spec)
    routers = available_routers()
    if name not in routers:
        raise ConfigError(f"unknown router {name!r}; known routers: {', '.join(sorted(routers))}")
    entry = routers[name]
    merged = {**entry.defaults, **from_spec, **params}
    unknown = set(merged) - set(entry.cls.param_names())
    if unknown:
        raise ConfigError(
            f"router {name!r} has no parameter(s) {sorted(unknown)}; "
            f"its parameters: {', '.join(entry.cls.param_names())}"
        )
    return entry.cls(**merged)


# -- the built-in routers ---------------------------------------------------------------------------

BUILTIN_ROUTERS: dict[str, RouterEntry] = {
    "small-llm": RouterEntry(SingleLLMRouter, {"default": "small"}, "always the cheapest LLM"),
    "large-llm": RouterEntry(SingleLLMRouter, {"default": "large"}, "always the most expensive LLM"),
    "random": RouterEntry(RandomRouter, {}, "uniformly at random (exact expectation)"),
    "oracle": RouterEntry(OracleRouter, {}, "best realised score, cheapest on ties (upper limit)"),
    "best-single": RouterEntry(BestSingleRouter, {}, "the LLM with the best Reward on the training split, per alpha"),
    "task-oracle": RouterEntry(
        TaskOracleRouter, {}, "each query to the best LLM of its (known) task on the training split (a reference)"
    ),
    "hybrid-llm": RouterEntry(HybridLLMRouter, {}, "HybridLLM: is the small LLM good enough? (binary)"),
    "routellm-mf": RouterEntry(MFRouter, {}, "RouteLLM matrix factorisation (binary)"),
    "routerbench-knn": RouterEntry(KNNRouter, {"k": 10}, "RouterBench predictive router, kNN (k=10)"),
    "routerbench-mlp": RouterEntry(MLPRouter, {}, "RouterBench predictive router, MLP"),
    "knn-tuned": RouterEntry(TunedKNNRouter, {}, "kNN predictive router, k tuned on validation"),
    "mirt": RouterEntry(IRTAdapter, {"predictor": "mirt"}, "MIRT-Router, warm-up 0.3"),
    "mirt-nowarmup": RouterEntry(IRTAdapter, {"predictor": "mirt", "warmup_lambda": 0.0}, "MIRT-Router, no warm-up"),
    "nirt": RouterEntry(IRTAdapter, {"predictor": "nirt"}, "NIRT-Router, warm-up 0.3"),
    "nirt-nowarmup": RouterEntry(IRTAdapter, {"predictor": "nirt", "warmup_lambda": 0.0}, "NIRT-Router, no warm-up"),
    "llm-bandit": RouterEntry(BanditRouter, {}, "LLM Bandit: preference-conditioned policy (SetTransformer + PPO)"),
    "2pl": RouterEntry(IRTAdapter, {"predictor": "2pl"}, "RADAR 2PL, linear scalarisation"),
    "2pl-chebyshev": RouterEntry(
        IRTAdapter, {"predictor": "2pl", "rule": "chebyshev"}, "RADAR 2PL, Chebyshev scalarisation"
    ),
    "default": RouterEntry(
        IRTAdapter,
        {"predictor": "auto"},
        "what 'irtrouter train' builds: MIRT or 2PL, kNN blend or stack, calibration and guard chosen on validation",
    ),
    "mirt-chebyshev": RouterEntry(
        IRTAdapter, {"predictor": "mirt", "rule": "chebyshev"}, "MIRT-Router's predictor, Chebyshev scalarisation"
    ),
}
