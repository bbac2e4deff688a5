"""Nearest training queries: the query warm-up (IRT-Router eq. 10) and NIRT's unseen-query relevance.

Both look up the k most similar training queries (cosine similarity of unit-length embeddings)
at route time, once per query, from a :mod:`~irtrouter.routing.index` (exact or approximate):

    e_q <- (1 - lambda) * e_q + lambda * mean(e of the k nearest training queries)
    r_q <- mean(r of the 5 nearest training queries)          (NIRT only)
"""

from __future__ import annotations

import numpy as np

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.base import IRTPredictor
from irtrouter.routing.index import NeighbourIndex

__all__ = ["NeighbourIndex", "neighbour_mean", "predict_near", "warm_up"]  # the index lives in routing.index


_WARM_UP_BLOCK = 256  # queries per gather: (256, k, dim) stays in cache; 2x faster than one gather at 20k


def warm_up(X: np.ndarray, embeddings: np.ndarray, near: np.ndarray, lam: float) -> np.ndarray:
    """Eq. 10: mix each query embedding with the mean of its neighbours' (rows ``near`` (n, k) of
    ``embeddings``), a block of queries at a time (the same floats as one gather, less memory)."""
    if not 0 <= lam <= 1:
        raise ConfigError(f"warm-up lambda must be in [0, 1], got {lam}")
    if lam == 0:
        return np.asarray(X, dtype=np.float32)
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, len(X), _WARM_UP_BLOCK):
        rows = slice(start, start + _WARM_UP_BLOCK)
        out[rows] = (1 - lam) * X[rows] + lam * embeddings[near[rows]].mean(axis=1)
    return out


def neighbour_mean(scores: np.ndarray, near: np.ndarray, k: int, prior: np.ndarray) -> np.ndarray:
    """Per query and LLM, the mean observed score of the ``k`` nearest training queries (RouterBench's
    kNN predictor); ``prior`` (n_llms,) where none of them observed that LLM."""
    cells = scores[near[:, :k]]  # (n, k, n_llms)
    seen = ~np.isnan(cells)
    total = np.where(seen, cells, 0.0).sum(axis=1)
    count = seen.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), prior)


def predict_near(
    predictor: IRTPredictor,
    index: NeighbourIndex,
    train_relevance: np.ndarray | None,
    X: np.ndarray,
    warmup_lambda: float,
    warmup_k: int,
    relevance_k: int,
    extra_k: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(p_hat, features, context, neighbours)`` of embedded queries ``X``: the warm-up and NIRT's
    relevance from the nearest rows of ``index``, then the predictor (raw, uncalibrated P).
    ``neighbours`` holds at least ``extra_k`` columns when asked (one search serves a kNN blend)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float32))
    if X.shape[1] != index.embeddings.shape[1]:
        raise DataError(f"embeddings have {X.shape[1]} dimensions, the router expects {index.embeddings.shape[1]}")
    k = max(warmup_k if warmup_lambda > 0 else 0, relevance_k if train_relevance is not None else 0, extra_k)
    near = index.search(X, k) if k else None
    context = None
    if train_relevance is not None and near is not None:
        context = train_relevance[near[:, :relevance_k]].mean(axis=1)
    if warmup_lambda > 0 and near is not None:
        X = warm_up(X, index.embeddings, near[:, :warmup_k], warmup_lambda)
    return predictor.predict_proba(X, context).astype(np.float64), X, context, near
