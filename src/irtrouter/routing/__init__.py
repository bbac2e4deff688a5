"""Routing: from a query to the LLM that answers it well at the lowest cost, and the servable routers.

``rule`` (the trade-off and the linear / Chebyshev rules, tie-breaks), ``decision`` (the records a
routing call returns), ``cost`` (cost models), ``neighbours`` (warm-up and NIRT's relevance from the
nearest training queries), ``scalarise`` (RADAR's budget mode), ``selection`` (the guard that falls
back to the best single LLM and the kNN blend), ``stacking`` (the per-LLM stacked ensemble of P and
kNN means), ``tuning`` (fitting those on validation queries, the validated choice of
``predictor="auto"``),
``explanation`` (why each decision), ``router`` (:class:`IRTRouter`), ``policy/`` (LLM Bandit's
:class:`PolicyRouter`), ``persistence`` (the saved directory format) and ``saved``
(:func:`load_router`). The evaluation's baselines and adapters are in :mod:`irtrouter.evaluate.routers`.
"""

from irtrouter.routing.cost import COST_MODELS, make_cost_model
from irtrouter.routing.decision import Prediction, RoutingDecision
from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.routing.router import IRTRouter
from irtrouter.routing.rule import RULES, TradeOff, choose, resolve_weights
from irtrouter.routing.saved import load_router

__all__ = [
    "COST_MODELS",
    "RULES",
    "IRTRouter",
    "PolicyRouter",
    "Prediction",
    "RoutingDecision",
    "TradeOff",
    "choose",
    "load_router",
    "make_cost_model",
    "resolve_weights",
]
