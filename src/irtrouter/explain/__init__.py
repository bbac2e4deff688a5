"""Interpretability: ability tables, query difficulties, per-decision explanations, the report.

* :func:`ability_table`: LLMs x ability dimensions with two per-LLM summaries.
* :func:`training_difficulties`, :func:`prediction_difficulties`, :func:`known_levels` and the
  correlation helpers: how hard each query is, and whether that agrees with outside evidence.
* :class:`Explanation`: why a query went where it went (computed by the router for every
  decision; defined in :mod:`irtrouter.routing.explanation` so the routing hot path never imports
  this package).
* :func:`routing_shares`, :func:`band_routing`: where queries go across alpha and by difficulty.
* :func:`write_report`: the self-contained HTML report (imports matplotlib only when called).
"""

from irtrouter.explain.abilities import AbilityTable, ability_table
from irtrouter.explain.difficulty import (
    Correlation,
    KnownLevels,
    QueryDifficulties,
    item_accuracy_correlation,
    known_levels,
    level_correlations,
    prediction_difficulties,
    spearman,
    task_accuracy_correlation,
    training_difficulties,
)
from irtrouter.explain.report import ExplainReport, write_report
from irtrouter.explain.routing_analysis import BandRouting, RoutingShares, band_routing, routing_shares
from irtrouter.routing.decision import DimensionWeight, Explanation
from irtrouter.routing.explanation import explain_decisions

__all__ = [
    "AbilityTable",
    "BandRouting",
    "Correlation",
    "DimensionWeight",
    "ExplainReport",
    "Explanation",
    "KnownLevels",
    "QueryDifficulties",
    "RoutingShares",
    "ability_table",
    "band_routing",
    "explain_decisions",
    "item_accuracy_correlation",
    "known_levels",
    "level_correlations",
    "prediction_difficulties",
    "routing_shares",
    "spearman",
    "task_accuracy_correlation",
    "training_difficulties",
    "write_report",
]
