"""The one training loop every IRT predictor shares (torch; imported only to train).

Binary cross-entropy (IRT-Router eq. 6) on the observed cells of the score matrix, graded scores
used as soft targets. Adam; batches of about ``batch_size`` interactions, formed from whole
queries (``batch_size // n_llms`` queries with all their LLMs) so one call of the predictor's
formula scores a batch; early stopping on the BCE of a held-out share of the training queries,
keeping the best epoch's weights. Seeded: the same inputs and ``random_state`` give the same
parameters. Optional per-cell ``weights`` (the observation counts of an aggregated log,
:mod:`irtrouter.data.aggregate`) weigh each cell's BCE in every sum and mean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from irtrouter.errors import DataError
from irtrouter.irt.torch_ops import TORCH_OPS, single_thread

if TYPE_CHECKING:
    from irtrouter.irt.base import IRTPredictor

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    params: dict[str, np.ndarray]
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


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
) -> FitResult:
    """Train ``predictor``'s parameters; returns them as numpy arrays with the loss history.

    ``weights`` (n_queries, n_llms), finite and >= 0, weigh each observed cell's loss (None: 1).

    Runs torch on one thread: the batches are small matrix products, for which intra-op threads
    only add synchronisation. Ten MIRT epochs on LLMRouter's train split took 1.5 s on one thread
    and 55 s on two, measured back to back on the 2-core machine while other jobs ran.
    """
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float32)
        if weights.shape != Y.shape:
            raise DataError(f"weights have shape {weights.shape}, expected {Y.shape} (one per cell of Y)")
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise DataError("weights must be finite and >= 0")
        if not (weights[~np.isnan(Y)] > 0).any():
            raise DataError("every observed cell has weight 0: nothing to train on")
    with single_thread():
        return _fit_parameters(predictor, X_queries, X_llms, Y, context, groups, progress, weights)


def _fit_parameters(
    predictor: IRTPredictor,
    X_queries: np.ndarray,
    X_llms: np.ndarray,
    Y: np.ndarray,
    context: np.ndarray | None,
    groups: Sequence[str] | None,
    progress: bool,
    weights: np.ndarray | None = None,
) -> FitResult:
    from tqdm.auto import tqdm

    started = time.perf_counter()
    seed = predictor.random_state
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    init = predictor.init_params(X_queries.shape[1], X_llms.shape[1], rng)
    is_val = split_validation(len(X_queries), predictor.validation_fraction, groups, seed)
    train_rows, val_rows = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    init = predictor.init_from_data(
        init, X_queries[train_rows], Y[train_rows], None if weights is None else weights[train_rows]
    )
    params = {k: torch.nn.Parameter(torch.from_numpy(np.array(v, dtype=np.float32))) for k, v in init.items()}
    predictor.constrain(params)
    # fused: one kernel per step for all parameters instead of about ten ops per tensor (Adam was
    # over a quarter of a small predictor's step); the same update up to float rounding.
    optimiser = torch.optim.Adam(
        params.values(), lr=predictor.learning_rate, weight_decay=predictor.weight_decay, fused=True
    )
    Xq = torch.from_numpy(X_queries)
    Xm = torch.from_numpy(X_llms)
    mask = torch.from_numpy(~np.isnan(Y))
    # Weighted: the mask becomes the weight of each observed cell (the bool mask kept otherwise,
    # so an unweighted fit runs exactly as before).
    cell_weight = mask if weights is None else torch.from_numpy(np.where(np.isnan(Y), 0.0, weights).astype(np.float32))
    targets = torch.from_numpy(np.nan_to_num(Y, nan=0.0))
    ctx = torch.from_numpy(np.asarray(context, dtype=np.float32)) if context is not None else None
    queries_per_batch = max(1, predictor.batch_size // Y.shape[1])

    def gather(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # index_select, not Xq[rows]: the same rows in a third of the time; a batch is a few
        # microseconds of arithmetic, so gathers and per-op overheads are most of a step.
        return Xq.index_select(0, rows), None if ctx is None else ctx.index_select(0, rows)

    def batch_loss(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = predictor.abilities(TORCH_OPS, Xm, params)
        return masked_bce(rows, *gather(rows), theta)

    def masked_bce(
        rows: torch.Tensor, x_rows: torch.Tensor, ctx_rows: torch.Tensor | None, theta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = predictor.logits(TORCH_OPS, x_rows, theta, params, ctx_rows)
        m = cell_weight.index_select(0, rows)
        losses = F.binary_cross_entropy_with_logits(logits, targets.index_select(0, rows), reduction="none")
        return (losses * m).sum(), m.sum()

    def mean_loss(rows: np.ndarray) -> float:
        if len(rows) == 0:
            return float("nan")
        total, count = 0.0, 0.0
        with torch.no_grad():
            for start in range(0, len(rows), 4096):
                s, n = batch_loss(torch.from_numpy(rows[start : start + 4096]))
                total += float(s)
                count += float(n)
        return total / max(count, 1.0)

    best = (float("inf"), 0, {k: v.detach().clone() for k, v in params.items()})
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
            rows = torch.from_numpy(order[start : start + queries_per_batch])
            # Validation scores the point estimate; a training step may draw abilities and add a penalty.
            theta = predictor.sample_abilities(TORCH_OPS, Xm, params)
            x_rows, ctx_rows = gather(rows)
            total, count = masked_bce(rows, x_rows, ctx_rows, theta)
            if count == 0:
                continue
            loss = total / count + predictor.penalty(TORCH_OPS, x_rows, Xm, theta, params, ctx_rows)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            predictor.constrain(params)
            running += float(total.detach())
            seen += float(count)
        train_loss = running / max(seen, 1.0)
        val_loss = mean_loss(val_rows) if len(val_rows) else train_loss
        history.append({"epoch": epoch, "train_bce": round(train_loss, 6), "val_bce": round(val_loss, 6)})
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if val_loss < best[0] - 1e-5:
            best = (val_loss, epoch, {k: v.detach().clone() for k, v in params.items()})
            stale = 0
        else:
            stale += 1
            if stale >= predictor.patience:
                break
    bar.close()
    best_loss, best_epoch, best_params = best
    seconds = time.perf_counter() - started
    log.info(
        "%s: best validation BCE %.4f at epoch %d of %d (%.1fs)",
        predictor.kind,
        best_loss,
        best_epoch,
        len(history),
        seconds,
    )
    out: dict[str, Any] = {k: v.numpy().copy() for k, v in best_params.items()}
    return FitResult(params=out, history=history, best_epoch=best_epoch, seconds=seconds)
