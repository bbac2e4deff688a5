"""How well predicted probabilities match one LLM's realised scores (IRT-Router Table 4).

AUC and ACC compare ``p_hat`` with scores binarised at 0.5 (most scores are 0/1; graded F1/BLEU
scores count as good when >= 0.5); RMSE and MAE compare ``p_hat`` with the raw scores. Used to
judge a new LLM's predictions (from its profile, a quiz, or full retraining) on test queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from irtrouter.errors import DataError


@dataclass(frozen=True)
class PredictionQuality:
    """AUC (NaN when the scores are all one class), ACC, RMSE, MAE over ``n`` queries."""

    auc: float
    acc: float
    rmse: float
    mae: float
    n: int


def prediction_quality(scores: np.ndarray, p_hat: np.ndarray) -> PredictionQuality:
    """Compare predictions with realised scores of one LLM, skipping unobserved (NaN) scores.

    Examples
    --------
    >>> q = prediction_quality(np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.4, 0.6]))
    >>> q.auc, q.acc, round(q.mae, 3)
    (0.75, 0.5, 0.375)
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(scores, dtype=np.float64).ravel()
    p = np.asarray(p_hat, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise DataError(f"{len(y)} scores but {len(p)} predictions")
    keep = ~np.isnan(y)
    y, p = y[keep], p[keep]
    if len(y) == 0:
        raise DataError("no observed scores to compare with")
    label = y >= 0.5
    auc = float(roc_auc_score(label, p)) if 0 < label.sum() < len(label) else float("nan")
    return PredictionQuality(
        auc=auc,
        acc=float(np.mean((p >= 0.5) == label)),
        rmse=float(np.sqrt(np.mean((p - y) ** 2))),
        mae=float(np.mean(np.abs(p - y))),
        n=len(y),
    )
