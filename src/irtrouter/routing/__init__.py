"""Routing: cost models, the alpha/beta rule, warm-up, the IRTRouter and its on-disk format."""

from irtrouter.routing.cost import COST_MODELS, make_cost_model
from irtrouter.routing.decision import RoutingDecision, choose, resolve_weights
from irtrouter.routing.persistence import load_router, save_router
from irtrouter.routing.router import PREDICTORS, IRTRouter, Prediction

__all__ = [
    "COST_MODELS",
    "PREDICTORS",
    "IRTRouter",
    "Prediction",
    "RoutingDecision",
    "choose",
    "load_router",
    "make_cost_model",
    "resolve_weights",
    "save_router",
]
