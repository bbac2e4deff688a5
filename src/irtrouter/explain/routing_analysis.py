"""Where queries go (IRT-Router section 6.2, "Routing Analysis"): across alpha, and by difficulty.

Both work on one :class:`~irtrouter.routing.router.Prediction`, so sweeping alpha costs no
re-embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irtrouter.routing.decision import Prediction
from irtrouter.routing.explanation import DIFFICULTY_BANDS, difficulty_band
from irtrouter.routing.router import IRTRouter

DEFAULT_ALPHAS: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2).tolist())


@dataclass(frozen=True)
class RoutingShares:
    """Share of queries routed to each LLM, one row per alpha.

    Attributes
    ----------
    llm_ids : tuple of str
    alphas : ndarray (n_alphas,)
    shares : ndarray (n_alphas, n_llms)
        Rows sum to 1.
    """

    llm_ids: tuple[str, ...]
    alphas: np.ndarray
    shares: np.ndarray


def routing_shares(
    router: IRTRouter, prediction: Prediction, alphas: Sequence[float] = DEFAULT_ALPHAS
) -> RoutingShares:
    """Share of the queries of ``prediction`` each LLM receives at each alpha (beta = 1 - alpha).

    Examples
    --------
    >>> shares = routing_shares(router, router.predict(queries))  # doctest: +SKIP
    >>> shares.shares[-1]  # alpha = 1: performance only  # doctest: +SKIP
    """
    n_llms = len(prediction.llm_ids)
    rows = []
    for alpha in alphas:
        chosen = router.choose(prediction, alpha)
        rows.append(np.bincount(chosen, minlength=n_llms) / len(chosen))
    return RoutingShares(prediction.llm_ids, np.asarray(alphas, dtype=np.float64), np.vstack(rows))


@dataclass(frozen=True)
class BandRouting:
    """Where each difficulty band goes at one alpha.

    Attributes
    ----------
    alpha : float
    bands : tuple of str
        ``easy``, ``medium``, ``hard`` (terciles of the router's training queries).
    counts : ndarray (n_bands,)
        Queries per band.
    shares : ndarray (n_bands, n_llms)
        Per band, the share of its queries routed to each LLM (rows of empty bands are 0).
    mean_p_hat : ndarray (n_bands,)
        Per band, the mean predicted performance of the chosen LLMs.
    """

    llm_ids: tuple[str, ...]
    alpha: float
    bands: tuple[str, ...]
    counts: np.ndarray
    shares: np.ndarray
    mean_p_hat: np.ndarray


def band_routing(router: IRTRouter, prediction: Prediction, percentile: np.ndarray, alpha: float) -> BandRouting:
    """Routing of each difficulty band at ``alpha``; ``percentile`` ranks each query's difficulty."""
    chosen = router.choose(prediction, alpha)
    bands = tuple(name for name, _ in DIFFICULTY_BANDS)
    labels = np.array([difficulty_band(float(p)) for p in percentile])
    n_llms = len(prediction.llm_ids)
    counts = np.zeros(len(bands), dtype=np.int64)
    shares = np.zeros((len(bands), n_llms))
    mean_p = np.full(len(bands), np.nan)
    picked_p = prediction.p_hat[np.arange(len(chosen)), chosen]
    for b, name in enumerate(bands):
        in_band = labels == name
        counts[b] = int(in_band.sum())
        if counts[b]:
            shares[b] = np.bincount(chosen[in_band], minlength=n_llms) / counts[b]
            mean_p[b] = float(picked_p[in_band].mean())
    return BandRouting(prediction.llm_ids, float(alpha), bands, counts, shares, mean_p)
