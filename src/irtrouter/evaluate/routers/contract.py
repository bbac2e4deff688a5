"""The contract every contender of the evaluation meets, so all are trained and scored alike.

A *router* here is anything that, trained on a :class:`TrainingData` (results, catalog and the
query embeddings), decides for a :class:`QueryBatch` which LLM gets each query. Routers differ in
what their decision depends on, so :meth:`Router.decide` returns a :class:`Decisions` object that
yields a routing for any trade-off weight ``alpha``:

:class:`ScoredDecisions`
    A predicted performance ``p_hat`` and a normalised cost per (query, LLM): the routing at
    ``alpha`` is a rule of :mod:`irtrouter.routing.rule` (IRT-Router's ``argmax alpha * P -
    (1 - alpha) * C`` by default, or RADAR's Chebyshev rule). ``p_hat`` is also scored as a predictor.
:class:`FixedDecisions`
    The same routing at every weight (Small LLM, Random, Oracle).
:class:`WeightedDecisions`
    The router's own choice per weight, from a function ``alpha -> routing`` (a policy
    conditioned on a preference, thresholds tuned per weight).
:class:`BinaryDecisions`
    Weighted decisions between a small and a large LLM from a "strong win rate" per query; they
    can also be read at a given share of calls to the large LLM (RouteLLM's APGR curve).

A routing is either chosen indices ``(n_queries,)`` or a distribution ``(n_queries, n_llms)``
(the Random router's exact expectation), as :func:`irtrouter.evaluate.metrics.outcome` takes.
The helpers at the foot (small and large LLM, validation carved from train, realised utility)
serve the routers of :mod:`~irtrouter.evaluate.routers.reference`, ``predictive`` and ``binary``.
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from irtrouter._params import Params, check_is_fitted
from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.data.splits import validation_rows
from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError, DataError, NotFittedError, UnknownLLMError
from irtrouter.routing.cost import CostModel, make_cost_model
from irtrouter.routing.rule import choose, resolve_weights

# -- what routers see -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingData:
    """Training results with the embeddings of their queries.

    Attributes
    ----------
    results : ResultsMatrix
        Training queries x LLMs (NaN = unobserved).
    catalog : LLMCatalog
        Prices and profiles; lists every LLM of ``results``.
    X : ndarray (n_queries, dim)
        Unit-length embeddings of ``results.queries``, computed once and shared by all routers.
    embedder : Embedder, optional
        The embedder that made ``X``; routers that embed more text (LLM profiles) use it.
    progress : bool
        Routers whose fit takes long (epochs, policy training) show progress bars.
    """

    results: ResultsMatrix
    catalog: LLMCatalog
    X: np.ndarray
    embedder: Embedder | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or len(self.X) != self.results.n_queries:
            raise DataError(
                f"X has shape {self.X.shape}, expected ({self.results.n_queries}, dim)", source=self.results.source
            )
        for m in self.results.llm_ids:
            if m not in self.catalog:
                raise UnknownLLMError(m, self.catalog.ids, f"{self.results.source} vs catalog {self.catalog.source}")

    def take(self, rows: np.ndarray) -> TrainingData:
        """The training queries at ``rows`` (a boolean mask or positions)."""
        idx = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return TrainingData(self.results.take(idx), self.catalog, self.X[idx], self.embedder, self.progress)


@dataclass(frozen=True)
class QueryBatch:
    """Queries to route, with their embeddings.

    ``scores`` and ``costs`` (realised, per query and LLM) and ``tasks`` (each query's task label)
    are given only to routers whose ``uses_outcomes`` is True (the Oracle, an upper limit; the
    task oracle); the harness never gives them to a router that claims to predict.
    """

    queries: tuple[str, ...]
    X: np.ndarray
    scores: np.ndarray | None = None
    costs: np.ndarray | None = None
    tasks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or len(self.X) != len(self.queries):
            raise DataError(f"X has shape {self.X.shape}, expected ({len(self.queries)}, dim)")

    def __len__(self) -> int:
        return len(self.queries)


# -- what routers return --------------------------------------------------------------------------


class Decisions(ABC):
    """A router's decisions for one batch, readable at any trade-off weight ``alpha``."""

    llm_ids: tuple[str, ...]

    @abstractmethod
    def choose(self, alpha: float) -> np.ndarray:
        """Routing at weight ``alpha``: indices (n_queries,) or a distribution (n_queries, n_llms)."""

    @property
    def p_hat(self) -> np.ndarray | None:
        """Predicted performance (n_queries, n_llms) when the router predicts it, else None."""
        return None


class ScoredDecisions(Decisions):
    """Predicted performance and normalised cost; the routing is ``rule`` (IRT-Router's alpha rule
    by default) at each weight."""

    def __init__(self, llm_ids: Sequence[str], p_hat: np.ndarray, cost: np.ndarray, rule: str = "linear") -> None:
        self.llm_ids = tuple(llm_ids)
        self.rule = rule
        self._p_hat = np.asarray(p_hat, dtype=np.float64)
        self.cost = np.broadcast_to(np.asarray(cost, dtype=np.float64), self._p_hat.shape)

    @property
    def p_hat(self) -> np.ndarray:
        return self._p_hat

    def choose(self, alpha: float) -> np.ndarray:
        return choose(self._p_hat, self.cost, alpha, rule=self.rule)


class FixedDecisions(Decisions):
    """The same routing whatever the weight."""

    def __init__(self, llm_ids: Sequence[str], routing: np.ndarray) -> None:
        self.llm_ids = tuple(llm_ids)
        self.routing = np.asarray(routing)

    def choose(self, alpha: float) -> np.ndarray:
        resolve_weights(alpha)
        return self.routing


class WeightedDecisions(Decisions):
    """The router's own choice per weight: ``route(alpha) -> routing``, computed once per alpha
    (the harness asks for the same alphas in its tables, top-k and curves; a policy's ``route``
    runs a network over every query)."""

    def __init__(self, llm_ids: Sequence[str], route: Callable[[float], np.ndarray]) -> None:
        self.llm_ids = tuple(llm_ids)
        self._route = route
        self._routed: dict[float, np.ndarray] = {}

    def choose(self, alpha: float) -> np.ndarray:
        resolve_weights(alpha)
        if alpha not in self._routed:
            self._routed[alpha] = np.asarray(self._route(alpha))
        return self._routed[alpha].copy()


class BinaryDecisions(WeightedDecisions):
    """Small-or-large decisions from a per-query strong win rate and a threshold per weight.

    Parameters
    ----------
    llm_ids : sequence of str
    small, large : int
        Column indices of the two LLMs.
    win_rate : ndarray (n_queries,)
        The router's estimate that the large LLM is needed (higher = route to large).
    threshold : callable
        ``alpha -> t``: queries with ``win_rate >= t`` go to the large LLM.
    p_hat : ndarray (n_queries, n_llms), optional
        Predicted scores, when the binary router predicts them (RouteLLM's MF does).
    """

    def __init__(
        self,
        llm_ids: Sequence[str],
        small: int,
        large: int,
        win_rate: np.ndarray,
        threshold: Callable[[float], float],
        p_hat: np.ndarray | None = None,
    ) -> None:
        self.small = small
        self.large = large
        self.win_rate = np.asarray(win_rate, dtype=np.float64)
        self._threshold = threshold
        self._p_hat = p_hat
        super().__init__(llm_ids, lambda alpha: self._to_indices(self.win_rate >= self._threshold(alpha)))

    @property
    def p_hat(self) -> np.ndarray | None:
        return self._p_hat

    def _to_indices(self, strong: np.ndarray) -> np.ndarray:
        return np.where(strong, self.large, self.small).astype(np.int64)

    def at_share(self, share: float) -> np.ndarray:
        """Routing that sends the ``share`` of queries with the highest win rate to the large LLM."""
        if not 0 <= share <= 1:
            raise ConfigError(f"share must be in [0, 1], got {share}")
        n_strong = round(share * len(self.win_rate))
        order = np.argsort(-self.win_rate, kind="stable")
        strong = np.zeros(len(self.win_rate), dtype=bool)
        strong[order[:n_strong]] = True
        return self._to_indices(strong)


# -- the router contract --------------------------------------------------------------------------


class Router(Params, ABC):
    """Base class of every router in the registry (scikit-learn estimator conventions).

    ``__init__`` only stores parameters (keyword arguments with defaults; they are the config
    keys); :meth:`fit` learns, stores learned state in attributes ending in ``_`` and returns
    ``self``; :meth:`decide` routes a batch. Subclasses implement :meth:`_decide` and usually
    :meth:`_fit`.

    Class attributes
    ----------------
    uses_outcomes : bool
        True for upper limits that read the realised scores and costs of the batch (Oracle).
    inference_params : frozenset of str
        Parameters that do not change what :meth:`fit` learns (e.g. the warm-up weight): a harness
        may fit once and derive variants with :meth:`with_params`.
    """

    uses_outcomes: ClassVar[bool] = False
    inference_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, cost_model: str = "auto") -> None:
        self.cost_model = cost_model

    # -- parameters (get_params, repr: irtrouter._params) --------------------------------------------
    def with_params(self, **params: Any) -> Router:
        """A copy with inference-only parameters changed, sharing what was learned."""
        unknown = set(params) - self.inference_params
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}: {sorted(unknown)} change what fit() learns; only "
                f"{sorted(self.inference_params) or 'nothing'} can change after fit"
            )
        out = copy.copy(self)
        for k, v in params.items():
            setattr(out, k, v)
        return out

    def fit_key(self) -> tuple[str, str]:
        """What identifies the fitted state: the class whose ``_fit`` learns it and the parameters
        that are not inference-only. Routers with equal keys learn the same state."""
        params = {k: v for k, v in self.get_params().items() if k not in self.inference_params}
        learner = next(c for c in type(self).__mro__ if "_fit" in c.__dict__)
        return f"{learner.__module__}.{learner.__qualname__}", json.dumps(params, sort_keys=True, default=str)

    def share_fit(self, fitted: Router) -> Router:
        """Take the learned state (attributes ending in ``_``) of a fitted router with the same
        :meth:`fit_key` instead of fitting again; returns ``self``.

        A subclass that only decides differently (another scalarisation, another warm-up weight)
        thus reuses its parent's fit.
        """
        if fitted.fit_key() != self.fit_key():
            raise ConfigError(f"{self!r} cannot share the fit of {fitted!r}: they learn different things")
        if not hasattr(fitted, "llm_ids_"):
            raise NotFittedError(f"{fitted!r} is not fitted")
        self.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_") and not k.startswith("__")})
        return self

    # -- learning and deciding ---------------------------------------------------------------------
    def fit(self, data: TrainingData) -> Router:
        """Learn from training data; returns ``self``."""
        if data.results.n_queries < 2:
            raise DataError("need at least 2 training queries", source=data.results.source)
        self.llm_ids_ = data.results.llm_ids
        self.cost_model_: CostModel = make_cost_model(self.cost_model, data.results).fit(
            data.results, data.catalog.subset(data.results.llm_ids)
        )
        self._fit(data)
        return self

    def _fit(self, data: TrainingData) -> None:
        """Learn the router-specific state (called by :meth:`fit` after the common part)."""

    def decide(self, batch: QueryBatch) -> Decisions:
        """Decisions for ``batch`` (see :class:`Decisions`)."""
        check_is_fitted(self, "llm_ids_")
        if self.uses_outcomes and (batch.scores is None or batch.costs is None):
            raise ConfigError(f"{type(self).__name__} is an upper limit: it needs the batch's realised scores, costs")
        return self._decide(batch)

    @abstractmethod
    def _decide(self, batch: QueryBatch) -> Decisions:
        """The routing decisions for a validated batch."""

    # -- helpers for subclasses --------------------------------------------------------------------
    def normalised_cost(self, queries: Sequence[str]) -> np.ndarray:
        """C of the routing rule for each query and LLM (the router's cost model)."""
        return self.cost_model_.normalised(list(queries))


# -- helpers for the routers ---------------------------------------------------------------------


def realised_utility(Y: np.ndarray, C: np.ndarray, alpha: float) -> np.ndarray:
    """Per (query, LLM) value of the routing objective with realised scores: ``alpha * Y - beta * C``."""
    a, b = resolve_weights(alpha)
    return a * Y - b * C


def small_and_large(results: ResultsMatrix, mean_cost: np.ndarray) -> tuple[int, int]:
    """Default (small, large) column indices: cheapest and dearest, ties broken by training score.

    Examples
    --------
    >>> scores = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    >>> results = ResultsMatrix(("q1", "q2"), ("a", "b"), ("x", "y", "z"), scores, ("", ""))
    >>> small_and_large(results, np.array([0.1, 0.1, 5.0]))  # x and y tie on cost: y is weaker
    (1, 2)
    """
    with np.errstate(invalid="ignore"):
        mean_score = np.nan_to_num(np.nanmean(results.scores, axis=0), nan=0.0)
    tol = 1e-9 * max(float(np.abs(mean_cost).max()), 1e-12)
    cheapest = np.flatnonzero(mean_cost <= mean_cost.min() + tol)
    dearest = np.flatnonzero(mean_cost >= mean_cost.max() - tol)
    small = int(cheapest[np.argmin(mean_score[cheapest])])
    large = int(dearest[np.argmax(mean_score[dearest])])
    return small, large


def carve_validation(data: TrainingData, fraction: float, seed: int) -> tuple[TrainingData, TrainingData]:
    """Split training data per task into (fit part, validation part); the test set is never touched."""
    fit_rows, val_rows = validation_rows(data.results, fraction=fraction, seed=seed)
    return data.take(fit_rows), data.take(val_rows)


def llm_index(results: ResultsMatrix, llm_id: str) -> int:
    try:
        return results.llm_ids.index(llm_id)
    except ValueError:
        raise UnknownLLMError(llm_id, results.llm_ids, results.source) from None
