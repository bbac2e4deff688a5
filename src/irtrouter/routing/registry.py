"""One registry of routers, so every router is trained and scored the same way.

A *router* here is anything that, trained on a :class:`TrainingData` (results, catalog and the
query embeddings), decides for a :class:`QueryBatch` which LLM gets each query. Routers differ in
what their decision depends on, so :meth:`Router.decide` returns a :class:`Decisions` object that
yields a routing for any trade-off weight ``alpha``:

:class:`ScoredDecisions`
    A predicted performance ``p_hat`` and a normalised cost per (query, LLM): the routing at
    ``alpha`` is IRT-Router's rule ``argmax alpha * P - (1 - alpha) * C``
    (:func:`irtrouter.routing.decision.choose`). ``p_hat`` is also scored as a predictor.
:class:`FixedDecisions`
    The same routing at every weight (Small LLM, Random, Oracle).
:class:`WeightedDecisions`
    The router's own choice per weight, from a function ``alpha -> routing`` (a policy
    conditioned on a preference, a Chebyshev scalarisation, thresholds tuned per weight).
:class:`BinaryDecisions`
    Weighted decisions between a small and a large LLM from a "strong win rate" per query; they
    can also be read at a given share of calls to the large LLM (RouteLLM's APGR curve).

A routing is either chosen indices ``(n_queries,)`` or a distribution ``(n_queries, n_llms)``
(the Random router's exact expectation), as :func:`irtrouter.evaluate.metrics.outcome` takes.

Registry
--------
``make_router("knn-tuned")`` or ``make_router("routerbench-knn:k=100")`` builds a router by name;
the keys after ``:`` are constructor arguments (values parsed as JSON where they parse, else text),
so a configuration file can name a router with the same keys as the Python call. An unknown name
or argument raises :class:`~irtrouter.errors.ConfigError` listing the valid ones.
:func:`register_router` adds a router (other modules register theirs at import).

Examples
--------
>>> "knn-tuned" in available_routers()
True
>>> make_router("routerbench-knn:k=100").get_params()["k"]
100
"""

from __future__ import annotations

import copy
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError, DataError, NotFittedError, UnknownLLMError
from irtrouter.routing.cost import CostModel, make_cost_model
from irtrouter.routing.decision import choose, resolve_weights

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
    """

    results: ResultsMatrix
    catalog: LLMCatalog
    X: np.ndarray
    embedder: Embedder | None = None

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
        return TrainingData(self.results.take(idx), self.catalog, self.X[idx], self.embedder)


@dataclass(frozen=True)
class QueryBatch:
    """Queries to route, with their embeddings.

    ``scores`` and ``costs`` (realised, per query and LLM) are given only to routers whose
    ``uses_outcomes`` is True (the Oracle, an upper limit); the harness never gives them to a router
    that claims to predict.
    """

    queries: tuple[str, ...]
    X: np.ndarray
    scores: np.ndarray | None = None
    costs: np.ndarray | None = None

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
    """Predicted performance and normalised cost; the routing is IRT-Router's alpha rule."""

    def __init__(self, llm_ids: Sequence[str], p_hat: np.ndarray, cost: np.ndarray) -> None:
        self.llm_ids = tuple(llm_ids)
        self._p_hat = np.asarray(p_hat, dtype=np.float64)
        self.cost = np.broadcast_to(np.asarray(cost, dtype=np.float64), self._p_hat.shape)

    @property
    def p_hat(self) -> np.ndarray:
        return self._p_hat

    def choose(self, alpha: float) -> np.ndarray:
        return choose(self._p_hat, self.cost, alpha)


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


class Router(ABC):
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

    # -- parameters ------------------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (the config keys)."""
        return {name: getattr(self, name) for name in self.param_names()}

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

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

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

    def _fit(self, data: TrainingData) -> None:  # noqa: B027 - optional hook: routers that learn nothing skip it
        """Learn the router-specific state (called by :meth:`fit` after the common part)."""

    def decide(self, batch: QueryBatch) -> Decisions:
        """Decisions for ``batch`` (see :class:`Decisions`)."""
        if not hasattr(self, "llm_ids_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit()")
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


# -- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterEntry:
    """A registered router: its class, the defaults that make this entry, and what it is."""

    cls: type[Router]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


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


def _load_builtins() -> None:
    import irtrouter.routing.baselines  # noqa: F401 - registers the built-in routers at import
    from irtrouter.routing import (
        bandit,  # noqa: F401 - registers the LLM Bandit policy
        radar,  # noqa: F401 - registers RADAR's 2PL and scalarisations
    )


def available_routers() -> dict[str, RouterEntry]:
    """Every registered router by name."""
    _load_builtins()
    return dict(_REGISTRY)


def parse_router_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,key=value"`` -> ``(name, params)``; values are JSON where they parse."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = part.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"router spec {spec!r}: expected key=value after ':', got {part!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw.strip()
    return name.strip(), params


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
