"""The contenders of the evaluation as the harness sees them.

``contract`` (what a router is given and returns: :class:`TrainingData`, :class:`QueryBatch`,
:class:`Decisions`, :class:`Router`), ``reference`` (small / large LLM, random, oracle),
``predictive`` (kNN, tuned kNN, MLP), ``binary`` (HybridLLM, RouteLLM-MF), ``irt`` (adapters of
irtrouter's IRTRouter, RADAR and LLM Bandit) and ``registry`` (every router by name;
:func:`register_router` adds yours).
"""

from irtrouter.evaluate.routers.contract import Decisions, QueryBatch, Router, TrainingData
from irtrouter.evaluate.routers.registry import available_routers, make_router, register_router

__all__ = ["Decisions", "QueryBatch", "Router", "TrainingData", "available_routers", "make_router", "register_router"]
