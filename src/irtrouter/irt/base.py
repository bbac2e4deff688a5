"""The predictor contract shared by every IRT model in irtrouter.

A predictor maps a query embedding ``e_q`` and an LLM profile embedding ``e_M`` to the probability
that the LLM answers the query well. Subclasses provide the maths as pure functions over an
:class:`~irtrouter.irt.ops.ArrayOps` (so one formula serves numpy inference and torch training);
this base class provides the estimator around them:

* ``fit`` learns the parameters with the one shared training loop of
  :mod:`irtrouter.irt.training`: in numpy where the predictor writes out its gradients
  (:meth:`logits_vjp`), else with torch (imported lazily);
* ``predict_proba`` and friends are numpy only: loading and routing never import torch;
* ``state()`` / ``from_state()`` give plain JSON config plus named arrays for saving;
* each predictor describes itself to the layers above, so that no code outside ``irt/`` switches on
  a predictor class: :meth:`default_n_dims` and :meth:`resolve_n_dims` (its dimensions),
  :meth:`dimension_names`, :meth:`dimension_weights` and :meth:`discrimination_magnitude` (what an
  explanation shows), and the flags ``logit_is_linear``, ``has_named_abilities`` and
  ``labels_dimensions_by_task``.

Learned attributes end in ``_`` (``params_``, ``abilities_``, ``llm_ids_``, ``history_``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from irtrouter._params import Params as EstimatorParams
from irtrouter._params import check_is_fitted
from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps

Params = dict[str, Any]


class IRTPredictor(EstimatorParams, ABC):
    """Base class: subclasses set ``kind`` and implement the four formula methods.

    Parameters
    ----------
    n_dims : int
        Dimension N of the ability space (paper default 25).
    learning_rate, batch_size : float, int
        Adam learning rate and interactions per batch (paper: 0.002 and 512).
    max_epochs, patience : int
        Training stops after ``patience`` epochs without a better validation loss, and at
        ``max_epochs`` at the latest; the best epoch's weights are kept.
    validation_fraction : float
        Share of training queries (per task) held out for early stopping.
    weight_decay : float
        Adam weight decay (L2), 0 by default as in the paper.
    random_state : int
        Seeds initialisation, the validation split and batch order.
    """

    kind: ClassVar[str]
    requires_context: ClassVar[bool] = False
    #: N is set by the model itself (NIRT: its named abilities; 2PL: one scalar), and why.
    fixed_n_dims: ClassVar[tuple[int, str] | None] = None
    #: The logit is ``a_q . theta - (terms without theta)``: logit gaps decompose per dimension.
    logit_is_linear: ClassVar[bool] = False
    #: The dimensions are named abilities (NIRT), not latent axes.
    has_named_abilities: ClassVar[bool] = False
    #: Latent dimensions worth labelling by the training task that loads most on each (MIRT).
    labels_dimensions_by_task: ClassVar[bool] = False

    def __init__(
        self,
        n_dims: int = 25,
        learning_rate: float = 0.002,
        batch_size: int = 512,
        max_epochs: int = 200,
        patience: int = 10,
        validation_fraction: float = 0.1,
        weight_decay: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.n_dims = n_dims
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.weight_decay = weight_decay
        self.random_state = random_state

    # -- the maths, implemented by subclasses ------------------------------------------------------
    @abstractmethod
    def init_params(self, d_query: int, d_llm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameter arrays (float32)."""

    @abstractmethod
    def abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        """Ability vectors ``theta`` (n_llms, n_dims) from profile embeddings."""

    @abstractmethod
    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any) -> Any:
        """Logits of P(good answer), shape (n_queries, n_llms)."""

    @abstractmethod
    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any) -> Any:
        """One difficulty number per query (higher = harder), shape (n_queries,)."""

    def init_from_data(
        self, params: dict[str, np.ndarray], X_queries: np.ndarray, Y: np.ndarray, weights: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Starting values from the training rows (the loop's own validation rows left out);
        :meth:`init_params`' draw unchanged by default."""
        return params

    def constrain(self, params: Params) -> None:
        """Project parameters back into their domain after an optimiser step (torch, in place)."""

    def sample_abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        """Abilities used for a training step (torch). Variational predictors draw them from
        their posterior here; the default is the point estimate :meth:`abilities`."""
        return self.abilities(ops, X_llms, params)

    def penalty(self, ops: ArrayOps, X_queries: Any, X_llms: Any, theta: Any, params: Params, context: Any) -> Any:
        """Extra training loss added to a batch's mean BCE (torch), e.g. a KL term; 0 by default.
        ``theta`` is what :meth:`sample_abilities` drew for the step."""
        return 0.0

    def trains_in_numpy(self) -> bool:
        """Whether this predictor writes out its training gradients (overrides :meth:`logits_vjp`,
        and :meth:`penalty_gradient` where it has a penalty), so that it trains without torch
        (:mod:`irtrouter.irt.training`); only for a predictor that draws no abilities and needs
        no projection in training."""
        return type(self).logits_vjp is not IRTPredictor.logits_vjp

    def penalty_gradient(self, params: Params) -> dict[str, np.ndarray]:
        """The gradient of :meth:`penalty` for a predictor that trains in numpy (none: its
        penalty is 0); only for a penalty of the parameters alone."""
        return {}

    def logits_vjp(
        self, X_queries: np.ndarray, X_llms: np.ndarray, params: Params, context: np.ndarray | None
    ) -> tuple[np.ndarray, Callable[[np.ndarray], dict[str, np.ndarray]]]:
        """A batch's logits (numpy) and the function from their gradient ``dL/dlogits`` to the
        gradient of every parameter (the vector-Jacobian product, written out); see
        :meth:`trains_in_numpy`."""
        raise NotImplementedError(f"{self.kind} trains with torch's autograd")

    def _before_fit(self, Y: np.ndarray, weights: np.ndarray | None) -> None:
        """Hook for what the parameters' shapes or the loss need of the checked data (counts)."""

    def _after_fit(self, X_queries: np.ndarray, context: np.ndarray | None) -> None:
        """Hook for identifiability fixes that leave every prediction unchanged."""

    # -- what the predictor says of itself --------------------------------------------------------
    @classmethod
    def default_n_dims(cls) -> int:
        """N when the caller gives none: the ``n_dims`` default of the constructor."""
        return int(inspect.signature(cls.__init__).parameters["n_dims"].default)

    @classmethod
    def resolve_n_dims(cls, n_dims: int | None) -> int:
        """``n_dims`` validated for this model (None: :meth:`default_n_dims`)."""
        if n_dims is None:
            return cls.default_n_dims()
        if cls.fixed_n_dims is not None and n_dims != cls.fixed_n_dims[0]:
            fixed, why = cls.fixed_n_dims
            raise ConfigError(f"{why}: n_dims must be {fixed}, got {n_dims}")
        if isinstance(n_dims, bool) or not isinstance(n_dims, int) or n_dims < 1:
            raise ConfigError(f"n_dims must be a positive integer, got {n_dims!r}")
        return n_dims

    def dimension_names(self, n_dims: int) -> tuple[str, ...]:
        """Names of the ability dimensions: ``dim 1`` ... ``dim N`` unless the model names them."""
        return tuple(f"dim {k + 1}" for k in range(n_dims))

    def dimension_weights(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray | None:
        """How much each ability dimension weighs for each query, (n_queries, n_dims), or None when
        the model has no per-dimension weights (the default)."""
        return None

    def discrimination_magnitude(self, X_queries: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """One discrimination number per query (how sharply it separates LLMs); NaN by default."""
        return np.full(len(np.atleast_2d(X_queries)), np.nan)

    # -- estimator API ---------------------------------------------------------------------------
    def fit(
        self,
        X_queries: np.ndarray,
        X_llms: np.ndarray,
        Y: np.ndarray,
        *,
        llm_ids: Sequence[str] | None = None,
        context: np.ndarray | None = None,
        groups: Sequence[str] | None = None,
        progress: bool = False,
        weights: np.ndarray | None = None,
    ) -> IRTPredictor:
        """Learn the parameters from a score matrix ``Y`` (NaN = unobserved cell).

        Parameters
        ----------
        X_queries : ndarray (n_queries, d_query)
        X_llms : ndarray (n_llms, d_llm)
            Profile embeddings of the LLMs, in the column order of ``Y``.
        Y : ndarray (n_queries, n_llms)
            Scores in [0, 1]; NaN cells are ignored.
        llm_ids : sequence of str, optional
            Names of the columns (default ``llm-0``...).
        context : ndarray, optional
            Per-query side input (NIRT's relevance vectors).
        groups : sequence of str, optional
            Task of each query, to stratify the validation split.
        progress : bool
            Show a progress bar over epochs.
        weights : ndarray (n_queries, n_llms), optional
            Weight of each cell's loss, e.g. its observation count in an aggregated log
            (:func:`irtrouter.data.aggregate.aggregate_log`); None: every observed cell 1.
        """
        X_queries = np.asarray(X_queries, dtype=np.float32)
        X_llms = np.asarray(X_llms, dtype=np.float32)
        Y = np.asarray(Y, dtype=np.float32)
        self._check_fit_inputs(X_queries, X_llms, Y, context)
        self._before_fit(Y, weights)
        from irtrouter.irt.training import fit_parameters

        result = fit_parameters(
            self, X_queries, X_llms, Y, context=context, groups=groups, progress=progress, weights=weights
        )
        self.params_ = result.params
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.train_seconds_ = result.seconds
        self.train_engine_ = result.engine
        self.llm_ids_ = tuple(llm_ids) if llm_ids is not None else tuple(f"llm-{j}" for j in range(Y.shape[1]))
        self.abilities_ = np.asarray(self.abilities(NUMPY_OPS, X_llms, self.params_), dtype=np.float32)
        self._after_fit(X_queries, context)
        return self

    def _check_fit_inputs(self, Xq: np.ndarray, Xm: np.ndarray, Y: np.ndarray, context: np.ndarray | None) -> None:
        if Xq.ndim != 2 or Xm.ndim != 2 or Y.ndim != 2:
            raise DataError("X_queries, X_llms and Y must be 2-D")
        if Y.shape != (Xq.shape[0], Xm.shape[0]):
            raise DataError(f"Y has shape {Y.shape}, expected ({Xq.shape[0]}, {Xm.shape[0]})")
        observed = ~np.isnan(Y)
        if not observed.any():
            raise DataError("no observed scores to train on")
        if ((Y[observed] < 0) | (Y[observed] > 1)).any():
            raise DataError("scores must lie in [0, 1]")
        if not np.isfinite(Xq).all() or not np.isfinite(Xm).all():
            raise DataError("embeddings contain NaN or infinity")
        if self.requires_context and context is None:
            raise ConfigError(f"{self.kind} needs a per-query context (relevance vectors)")
        if context is not None and len(context) != len(Xq):
            raise DataError(f"context has {len(context)} rows, expected {len(Xq)}")
        if self.n_dims < 1:
            raise ConfigError(f"n_dims must be >= 1, got {self.n_dims}")
        self._check_training_settings()

    def _check_training_settings(self) -> None:
        """The shared loop's settings, named in the error (the CLI passes them from the user)."""

        def whole(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")

        whole("max_epochs", 1)
        whole("batch_size", 1)
        whole("patience", 1)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not np.isfinite(lr) or lr <= 0:
            raise ConfigError(f"learning_rate must be a finite number > 0, got {lr!r}")
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")

    def _check_fitted(self) -> None:
        check_is_fitted(self, "params_", "call fit() or load a saved router")

    def predict_proba(self, X_queries: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """P-hat (n_queries, n_llms) for every known LLM, numpy only."""
        self._check_fitted()
        Xq = np.atleast_2d(np.asarray(X_queries, dtype=np.float32))
        return NUMPY_OPS.sigmoid(self.logits(NUMPY_OPS, Xq, self.abilities_, self.params_, context))

    def query_difficulty(self, X_queries: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """Difficulty of each query (the paper's b_i; NIRT: relevance-weighted mean of b_i)."""
        self._check_fitted()
        Xq = np.atleast_2d(np.asarray(X_queries, dtype=np.float32))
        return np.asarray(self.difficulty(NUMPY_OPS, Xq, self.params_, context))

    def profile_ability(self, X_llm: np.ndarray) -> np.ndarray:
        """Ability vector of an LLM from its profile embedding alone (IRT-Router section 6.3)."""
        self._check_fitted()
        return np.asarray(self.abilities(NUMPY_OPS, np.atleast_2d(X_llm).astype(np.float32), self.params_))

    def add_llm(self, llm_id: str, ability: np.ndarray) -> None:
        """Append an LLM with a given ability vector (from its profile or from a quiz)."""
        self._check_fitted()
        ability = np.asarray(ability, dtype=np.float32).reshape(1, -1)
        if ability.shape[1] != self.abilities_.shape[1]:
            raise DataError(f"ability has {ability.shape[1]} dimensions, expected {self.abilities_.shape[1]}")
        if llm_id in self.llm_ids_:
            raise DataError(f"LLM {llm_id!r} is already known")
        self.abilities_ = np.vstack([self.abilities_, ability])
        self.llm_ids_ = (*self.llm_ids_, llm_id)

    # -- state -----------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able config, named arrays) that :meth:`from_state` turns back into this predictor."""
        self._check_fitted()
        config = {
            "kind": self.kind,
            "params": self.get_params(),
            "llm_ids": list(self.llm_ids_),
            "best_epoch": self.best_epoch_,
            "train_seconds": self.train_seconds_,
            "train_engine": self.train_engine_,
            "history": self.history_,
        }
        arrays = {f"param.{k}": np.asarray(v) for k, v in self.params_.items()}
        arrays["abilities"] = self.abilities_
        return config, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> IRTPredictor:
        self = cls(**config["params"])
        self.params_ = {k.removeprefix("param."): v for k, v in arrays.items() if k.startswith("param.")}
        self.abilities_ = arrays["abilities"]
        self.llm_ids_ = tuple(config["llm_ids"])
        self.best_epoch_ = int(config.get("best_epoch") or 0)
        self.train_seconds_ = float(config.get("train_seconds") or 0.0)
        self.train_engine_ = str(config.get("train_engine") or "")  # saved before the numpy engine: ""
        self.history_ = config.get("history", [])
        return self
