"""The one training loop every IRT predictor shares.

Binary cross-entropy (IRT-Router eq. 6) on the observed cells of the score matrix, graded scores
used as soft targets. Adam; batches of about ``batch_size`` interactions, formed from whole
queries (``batch_size // n_llms`` queries with all their LLMs) so one call of the predictor's
formula scores a batch; early stopping on the BCE of a held-out share of the training queries,
keeping the best epoch's weights. Seeded: the same inputs and ``random_state`` give the same
parameters. Optional per-cell ``weights`` (the observation counts of an aggregated log,
:mod:`irtrouter.data.aggregate`) weigh each cell's BCE in every sum and mean.

A step is taken by one of two engines, the loop around it (batches, validation, early stopping)
being the same:

* :class:`NumpySteps`, for a predictor whose gradients are written out
  (:meth:`~irtrouter.irt.base.IRTPredictor.logits_vjp`: MIRT, with or without free offsets,
  and RADAR's 2PL). Its
  formula is a few small matrix products, so a torch step was mostly per-op and autograd
  overhead: numpy takes the same step (Adam as torch computes it) in about a fifth of the time,
  and the fit never loads torch;
* :class:`irtrouter.irt.torch_steps.TorchSteps` (autograd) for every other predictor: NIRT, the
  identity model, MF, anything that draws its abilities or projects its parameters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from irtrouter.embed.threads import blas_threads
from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.ops import NUMPY_OPS

if TYPE_CHECKING:
    from irtrouter.irt.base import IRTPredictor

log = logging.getLogger(__name__)

#: The engines :func:`fit_parameters` can take a step with ("auto": numpy where the predictor
#: gives its gradients, else torch).
ENGINES = ("auto", "numpy", "torch")

#: Adam's settings, torch's defaults (both engines).
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


@dataclass
class FitResult:
    params: dict[str, np.ndarray]
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    engine: str = ""


def split_validation(n_queries: int, fraction: float, groups: Sequence[str] | None, seed: int) -> np.ndarray:
    """Boolean mask of validation queries: ``fraction`` of each group, at least one query overall."""
    rng = np.random.default_rng(seed)
    is_val = np.zeros(n_queries, dtype=bool)
    if fraction <= 0 or n_queries < 10:
        return is_val
    labels = np.asarray(groups if groups is not None else [""] * n_queries, dtype=object)
    for g in dict.fromkeys(labels.tolist()):
        members = np.flatnonzero(labels == g)
        k = round(len(members) * fraction)
        is_val[rng.permutation(members)[:k]] = True
    if not is_val.any():
        is_val[rng.integers(n_queries)] = True
    return is_val


@dataclass(frozen=True)
class TrainingData:
    """A fit's inputs as both engines take them: float32, contiguous, each observed cell's weight
    (0 for a hole) and its target (a hole's is 0)."""

    X_queries: np.ndarray
    X_llms: np.ndarray
    context: np.ndarray | None
    cell_weight: np.ndarray  # (n_queries, n_llms)
    targets: np.ndarray  # (n_queries, n_llms)

    @classmethod
    def of(
        cls,
        X_queries: np.ndarray,
        X_llms: np.ndarray,
        Y: np.ndarray,
        context: np.ndarray | None,
        weights: np.ndarray | None,
    ) -> TrainingData:
        def f32(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a, dtype=np.float32)

        return cls(
            X_queries=f32(X_queries),
            X_llms=f32(X_llms),
            context=None if context is None else f32(context),
            cell_weight=f32(np.where(np.isnan(Y), 0.0, 1.0 if weights is None else weights)),
            targets=f32(np.nan_to_num(Y, nan=0.0)),
        )

    @property
    def n_llms(self) -> int:
        return self.targets.shape[1]


class Steps(Protocol):
    """What the loop needs of an engine: a step on some training rows, the loss of some rows,
    and a copy of the parameters."""

    n_llms: int  # columns of the score matrix (a batch holds batch_size // n_llms queries)

    def single_thread(self) -> AbstractContextManager[None]: ...

    def step(self, rows: np.ndarray) -> tuple[float, float]:
        """One optimiser step on these query rows; their summed BCE (before the step) and weight."""
        ...

    def loss(self, rows: np.ndarray) -> tuple[float, float]:
        """Summed BCE and weight of these query rows, no step taken."""
        ...

    def snapshot(self) -> dict[str, np.ndarray]: ...


def fit_parameters(
    predictor: IRTPredictor,
    X_queries: np.ndarray,
    X_llms: np.ndarray,
    Y: np.ndarray,
    *,
    context: np.ndarray | None = None,
    groups: Sequence[str] | None = None,
    progress: bool = False,
    weights: np.ndarray | None = None,
    engine: str = "auto",
) -> FitResult:
    """Train ``predictor``'s parameters; returns them as numpy arrays with the loss history.

    ``weights`` (n_queries, n_llms), finite and >= 0, weigh each observed cell's loss (None: 1).
    ``engine``: one of ``ENGINES`` (module docstring); "numpy" only for a predictor that
    :meth:`~irtrouter.irt.base.IRTPredictor.trains_in_numpy`.

    Runs on one thread (torch's, or BLAS's for numpy): the batches are small matrix products, for
    which intra-op threads only add synchronisation. Ten MIRT epochs on LLMRouter's train split
    took 1.5 s on one thread and 55 s on two, measured back to back on the 2-core machine while
    other jobs ran.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "numpy" and not predictor.trains_in_numpy():
        raise ConfigError(f"{predictor.kind} does not give its gradients in numpy: train it with torch")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float32)
        if weights.shape != Y.shape:
            raise DataError(f"weights have shape {weights.shape}, expected {Y.shape} (one per cell of Y)")
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise DataError("weights must be finite and >= 0")
        if not (weights[~np.isnan(Y)] > 0).any():
            raise DataError("every observed cell has weight 0: nothing to train on")
    started = time.perf_counter()
    seed = predictor.random_state
    rng = np.random.default_rng(seed)
    init = predictor.init_params(X_queries.shape[1], X_llms.shape[1], rng)
    is_val = split_validation(len(X_queries), predictor.validation_fraction, groups, seed)
    train_rows, val_rows = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    init = predictor.init_from_data(
        init, X_queries[train_rows], Y[train_rows], None if weights is None else weights[train_rows]
    )
    data = TrainingData.of(X_queries, X_llms, Y, context, weights)
    steps: Steps
    if engine == "numpy" or (engine == "auto" and predictor.trains_in_numpy()):
        steps, engine = NumpySteps(predictor, init, data), "numpy"
    else:
        from irtrouter.irt.torch_steps import TorchSteps  # torch is loaded only here

        steps, engine = TorchSteps(predictor, init, data), "torch"
    with steps.single_thread():
        history, best_epoch, best_loss, best_params = _train(predictor, steps, train_rows, val_rows, rng, progress)
    seconds = time.perf_counter() - started
    log.info(
        "%s: best validation BCE %.4f at epoch %d of %d (%.1fs, %s)",
        predictor.kind,
        best_loss,
        best_epoch,
        len(history),
        seconds,
        engine,
    )
    return FitResult(params=best_params, history=history, best_epoch=best_epoch, seconds=seconds, engine=engine)


def _train(
    predictor: IRTPredictor,
    steps: Steps,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    rng: np.random.Generator,
    progress: bool,
) -> tuple[list[dict[str, float]], int, float, dict[str, np.ndarray]]:
    """The epochs: ``(history, best epoch, its validation BCE, its parameters)``."""
    from tqdm.auto import tqdm

    queries_per_batch = max(1, predictor.batch_size // steps.n_llms)

    def mean_loss(rows: np.ndarray) -> float:
        if len(rows) == 0:
            return float("nan")
        total, count = 0.0, 0.0
        for start in range(0, len(rows), 4096):
            s, n = steps.loss(rows[start : start + 4096])
            total += s
            count += n
        return total / max(count, 1.0)

    best = (float("inf"), 0, steps.snapshot())
    history: list[dict[str, float]] = []
    stale = 0
    bar = tqdm(
        range(1, predictor.max_epochs + 1),
        desc=f"training {predictor.kind}",
        unit="epoch",
        disable=not progress,
        leave=False,
    )
    for epoch in bar:
        order = train_rows[rng.permutation(len(train_rows))]
        running, seen = 0.0, 0.0
        for start in range(0, len(order), queries_per_batch):
            total, count = steps.step(order[start : start + queries_per_batch])
            running += total
            seen += count
        train_loss = running / max(seen, 1.0)
        val_loss = mean_loss(val_rows) if len(val_rows) else train_loss
        history.append({"epoch": epoch, "train_bce": round(train_loss, 6), "val_bce": round(val_loss, 6)})
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if val_loss < best[0] - 1e-5:
            best = (val_loss, epoch, steps.snapshot())
            stale = 0
        else:
            stale += 1
            if stale >= predictor.patience:
                break
    bar.close()
    return history, best[1], best[0], best[2]


def bce_with_logits(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise binary cross-entropy of logits ``z`` against soft targets ``y``, stable for
    large ``|z|`` (torch's ``binary_cross_entropy_with_logits``)."""
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


#: A batch's logits and the map from their gradient to the parameters' gradients
#: (:meth:`~irtrouter.irt.base.IRTPredictor.logits_vjp`).
LogitsVJP = tuple[np.ndarray, Callable[[np.ndarray], dict[str, np.ndarray]]]


class NumpySteps:
    """Steps taken with the predictor's own gradients (of its logits and of its penalty,
    :meth:`~irtrouter.irt.base.IRTPredictor.penalty_gradient`) and Adam as torch computes it (L2
    ``weight_decay`` added to the gradient, bias-corrected moments), on one flat float32 vector
    of every parameter so the update is a handful of array operations."""

    def __init__(self, predictor: IRTPredictor, init: dict[str, np.ndarray], data: TrainingData) -> None:
        self.predictor, self.n_llms = predictor, data.n_llms
        self.Xq, self.Xm, self.ctx = data.X_queries, data.X_llms, data.context
        self.cell_weight, self.targets = data.cell_weight, data.targets
        self.flat = np.concatenate([np.asarray(v, np.float32).ravel() for v in init.values()])
        self.grad = np.zeros_like(self.flat)
        # Views into the flat vectors: an update of ``flat`` is an update of every parameter.
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        start = 0
        for name, value in init.items():
            shape = np.shape(value)
            end = start + int(np.prod(shape, dtype=np.int64))
            self.params[name] = self.flat[start:end].reshape(shape)
            self.grads[name] = self.grad[start:end].reshape(shape)
            start = end
        self.moment, self.moment2 = np.zeros_like(self.flat), np.zeros_like(self.flat)
        self.t = 0

    def single_thread(self) -> AbstractContextManager[None]:
        return blas_threads(1)

    def _batch(self, rows: np.ndarray) -> tuple[LogitsVJP, np.ndarray, np.ndarray]:
        ctx = None if self.ctx is None else self.ctx.take(rows, axis=0)
        vjp = self.predictor.logits_vjp(self.Xq.take(rows, axis=0), self.Xm, self.params, ctx)
        return vjp, self.targets.take(rows, axis=0), self.cell_weight.take(rows, axis=0)

    def loss(self, rows: np.ndarray) -> tuple[float, float]:
        (z, _), y, m = self._batch(rows)
        return float((bce_with_logits(z, y) * m).sum()), float(m.sum())

    def step(self, rows: np.ndarray) -> tuple[float, float]:
        (z, backward), y, m = self._batch(rows)
        count = float(m.sum())
        if count == 0:
            return 0.0, 0.0
        total = float((bce_with_logits(z, y) * m).sum())
        # d(mean BCE)/dz over the batch's observed cells.
        for name, g in backward((NUMPY_OPS.sigmoid(z) - y) * (m / np.float32(count))).items():
            self.grads[name][...] = g
        for name, g in self.predictor.penalty_gradient(self.params).items():
            self.grads[name] += g
        self._adam()
        return total, count

    def _adam(self) -> None:
        p = self.predictor
        (b1, b2), lr, g = ADAM_BETAS, p.learning_rate, self.grad
        if p.weight_decay:
            g = g + np.float32(p.weight_decay) * self.flat
        self.t += 1
        self.moment *= b1
        self.moment += (1 - b1) * g
        self.moment2 *= b2
        self.moment2 += (1 - b2) * g * g
        denom = np.sqrt(self.moment2) / np.float32(np.sqrt(1 - b2**self.t)) + np.float32(ADAM_EPS)
        self.flat -= np.float32(lr / (1 - b1**self.t)) * self.moment / denom

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}
