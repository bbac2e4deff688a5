"""irtrouter: send each LLM query to the model that will answer it well at the lowest cost.

Item Response Theory routers (MIRT-Router, NIRT-Router, RADAR's 2PL, LLM Bandit's policy) over
query and LLM-profile embeddings, with a numpy hot path. Importing this package is cheap: torch
and pandas load only when training or reading data needs them.

Examples
--------
>>> from irtrouter import IRTRouter, load_benchmark, load_router  # doctest: +SKIP
>>> bench = load_benchmark("llmrouter", "../shared/data/llmrouter")  # doctest: +SKIP
>>> router = IRTRouter(predictor="mirt").fit(bench.train, bench.catalog)  # doctest: +SKIP
>>> router.route("Integrate x^2 from 0 to 3", alpha=0.8).llm_id  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "IRTRouter": "irtrouter.routing.router",
    "PolicyRouter": "irtrouter.routing.policy.router",
    "RoutingDecision": "irtrouter.routing.decision",
    "TradeOff": "irtrouter.routing.rule",
    "load_router": "irtrouter.routing.saved",
    "load_benchmark": "irtrouter.data.benchmarks",
    "load_catalog": "irtrouter.data.catalog",
    "read_results": "irtrouter.data.readers",
    "LLMCatalog": "irtrouter.data.catalog",
    "LLMSpec": "irtrouter.data.catalog",
    "ResultsMatrix": "irtrouter.data.results",
    "make_embedder": "irtrouter.embed.registry",
    # irtrouter.evaluate is the subpackage (its evaluate() is the entry point); the result type is here too
    "Evaluation": "irtrouter.evaluate.api",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'irtrouter' has no attribute {name!r}")
