"""RADAR in the router registry: an IRT predictor (2PL by default) with a scalarisation.

Registered names:

``2pl``
    RADAR's 2PL predictor, routed by the linear scalarisation ``argmax w P - (1 - w) C`` (the
    registry's ``alpha`` is RADAR's ``w``; the same rule as IRT-Router's).
``2pl-chebyshev``
    The same predictor routed by ``argmin max{w (1 - P), (1 - w) C}``.
``mirt-chebyshev``
    MIRT-Router's predictor routed by the Chebyshev scalarisation.

Examples
--------
>>> from irtrouter.routing.registry import make_router
>>> make_router("2pl-chebyshev").get_params()["scalarisation"]
'chebyshev'
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.routing.baselines import IRTPolicyRouter
from irtrouter.routing.registry import Decisions, QueryBatch, ScoredDecisions, register_router
from irtrouter.routing.scalarise import SCALARISATIONS, chebyshev_choice


class ChebyshevDecisions(ScoredDecisions):
    """Predicted performance and normalised cost, routed by the Chebyshev scalarisation at ``alpha``."""

    def choose(self, alpha: float) -> np.ndarray:
        return chebyshev_choice(self.p_hat, self.cost, alpha)


class RADARRouter(IRTPolicyRouter):
    """An :class:`~irtrouter.routing.router.IRTRouter` routed by a RADAR scalarisation.

    Parameters
    ----------
    predictor, n_dims : str, int
        ``"2pl"`` with ``n_dims=1`` (RADAR), or ``"mirt"`` / ``"nirt"`` with their dimensions.
    scalarisation : {"linear", "chebyshev"}
        See :mod:`irtrouter.routing.scalarise`; applied at decision time, so both share one fit.
    **kwargs
        As :class:`~irtrouter.routing.baselines.IRTPolicyRouter`.
    """

    inference_params: ClassVar[frozenset[str]] = frozenset({"warmup_lambda", "scalarisation"})

    def __init__(
        self,
        predictor: str = "2pl",
        n_dims: int = 1,
        scalarisation: str = "linear",
        warmup_lambda: float = 0.3,
        warmup_k: int = 5,
        relevance_k: int = 5,
        relevance: Literal["labelled", "uniform"] = "labelled",
        predictor_params: dict[str, Any] | None = None,
        random_state: int = 0,
        cost_model: str = "auto",
    ) -> None:
        super().__init__(
            predictor=predictor,
            n_dims=n_dims,
            warmup_lambda=warmup_lambda,
            warmup_k=warmup_k,
            relevance_k=relevance_k,
            relevance=relevance,
            predictor_params=predictor_params,
            random_state=random_state,
            cost_model=cost_model,
        )
        self.scalarisation = scalarisation

    def _decide(self, batch: QueryBatch) -> Decisions:
        if self.scalarisation not in SCALARISATIONS:
            raise ConfigError(
                f"unknown scalarisation {self.scalarisation!r}; expected one of {', '.join(SCALARISATIONS)}"
            )
        pred = self.router_.predict_embedded(batch.X, batch.queries, warmup_lambda=self.warmup_lambda)
        kind = ChebyshevDecisions if self.scalarisation == "chebyshev" else ScoredDecisions
        return kind(pred.llm_ids, pred.p_hat, pred.cost)


register_router("2pl", RADARRouter, "RADAR 2PL, linear scalarisation", scalarisation="linear")
register_router("2pl-chebyshev", RADARRouter, "RADAR 2PL, Chebyshev scalarisation", scalarisation="chebyshev")
register_router(
    "mirt-chebyshev",
    RADARRouter,
    "MIRT-Router's predictor, Chebyshev scalarisation",
    predictor="mirt",
    n_dims=25,
    scalarisation="chebyshev",
)
