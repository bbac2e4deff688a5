"""Calibration drift: does an LLM still score as the router predicts? (``irtrouter drift``, ``/metrics``)

Pure functions of predicted P (the answering LLM's ``p_hat`` at routing time) and feedback scores
``y`` in [0, 1], so the CLI and the service compute the same numbers.

* **Windowed Brier and log loss** over the last ``window`` scored requests, each against its
  *expected level if calibrated*: when ``y ~ Bernoulli(p)``, ``E[(p - y)^2] = p (1 - p)`` and
  ``E[-log-lik] = H(p)`` (the entropy), so the reference needs no training data and adapts to the
  queries actually routed. ``excess = observed - expected``; positive means worse than predicted.
  (Graded scores have less variance than 0/1 ones, which only lowers the observed level.)
* **CUSUM** (Page's two-sided test, Bernoulli likelihood ratio): against the alternative that the
  LLM's logit moved by ``+shift`` (better than predicted) or ``-shift`` (worse), each row adds
  ``y log(p1/p) + (1 - y) log((1 - p1)/(1 - p))`` with ``p1 = sigmoid(logit p +- shift)``, and the
  statistic is reset at 0. It alarms when either side exceeds ``threshold`` (log-likelihood-ratio
  units): the default ``log(1000)`` keeps the in-control run between false alarms in the thousands
  of rows (Wald's bound ``ARL0 >= e^h``), and a provider swapping the model behind a name (a logit
  shift of 1) trips it within some tens of rows. An alarmed LLM is flagged for a re-quiz
  (``irtrouter onboard``).

:func:`cusum_update` is the one-row step (the service keeps a :class:`CusumState` per LLM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from irtrouter.online.feedback import scored_requests

EPS = 1e-6
DEFAULT_SHIFT = 1.0
DEFAULT_THRESHOLD = math.log(1000.0)
DEFAULT_WINDOW = 200


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of P against scores.

    >>> brier(np.array([0.8, 0.2]), np.array([1.0, 0.0]))
    0.04
    """
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return round(float(np.mean((p - y) ** 2)), 12) if len(p) else float("nan")


def expected_brier(p: np.ndarray) -> float:
    """The Brier score calibrated predictions ``p`` would get on 0/1 outcomes: mean p (1 - p).

    >>> expected_brier(np.array([0.5, 0.5]))
    0.25
    """
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean(p * (1 - p))) if len(p) else float("nan")


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of scores ``y`` under P (P clipped to [1e-6, 1 - 1e-6])."""
    p, y = _clip(p), np.asarray(y, dtype=np.float64)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))) if len(p) else float("nan")


def expected_log_loss(p: np.ndarray) -> float:
    """The log loss calibrated predictions would get: the mean entropy of P."""
    p = _clip(p)
    return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p)))) if len(p) else float("nan")


@dataclass(frozen=True)
class CusumState:
    """Two-sided CUSUM after ``n`` rows: ``up`` (better than predicted), ``down`` (worse), and the
    row (1-based) at which it first alarmed (None: never)."""

    up: float = 0.0
    down: float = 0.0
    n: int = 0
    alarm_at: int | None = None
    alarm_side: str | None = None

    @property
    def statistic(self) -> float:
        return max(self.up, self.down)


def _llr(p: float, y: float, shift: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    z = math.log(p / (1 - p)) + shift
    p1 = 1.0 / (1.0 + math.exp(-z))
    return y * math.log(p1 / p) + (1 - y) * math.log((1 - p1) / (1 - p))


def cusum_update(
    state: CusumState, p: float, y: float, shift: float = DEFAULT_SHIFT, threshold: float = DEFAULT_THRESHOLD
) -> CusumState:
    """The CUSUM after one more scored row (module docstring); pure.

    Examples
    --------
    >>> s = CusumState()
    >>> for _ in range(20):
    ...     s = cusum_update(s, 0.9, 0.0)  # predicted 0.9, scored 0: much worse than predicted
    >>> s.alarm_side, s.alarm_at is not None, s.up
    ('down', True, 0.0)
    """
    up = max(0.0, state.up + _llr(p, y, shift))
    down = max(0.0, state.down + _llr(p, y, -shift))
    n = state.n + 1
    alarm_at, side = state.alarm_at, state.alarm_side
    if alarm_at is None and max(up, down) > threshold:
        alarm_at, side = n, ("down" if down >= up else "up")
    return replace(state, up=up, down=down, n=n, alarm_at=alarm_at, alarm_side=side)


def cusum(
    p: np.ndarray, y: np.ndarray, shift: float = DEFAULT_SHIFT, threshold: float = DEFAULT_THRESHOLD
) -> CusumState:
    """The CUSUM over a whole sequence (in the order given: oldest first)."""
    state = CusumState()
    for pi, yi in zip(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64), strict=True):
        state = cusum_update(state, float(pi), float(yi), shift, threshold)
    return state


@dataclass(frozen=True)
class DriftStats:
    """One LLM's calibration check (module docstring); ``drifted`` when the CUSUM alarmed."""

    llm_id: str
    n: int
    window: int
    brier: float
    expected_brier: float
    log_loss: float
    expected_log_loss: float
    mean_p: float
    mean_score: float
    cusum: CusumState

    @property
    def brier_excess(self) -> float:
        return self.brier - self.expected_brier

    @property
    def drifted(self) -> bool:
        return self.cusum.alarm_at is not None

    def to_json(self) -> dict[str, object]:
        return {
            "llm_id": self.llm_id,
            "n": self.n,
            "window": self.window,
            "brier": self.brier,
            "expected_brier": self.expected_brier,
            "brier_excess": self.brier_excess,
            "log_loss": self.log_loss,
            "expected_log_loss": self.expected_log_loss,
            "mean_p": self.mean_p,
            "mean_score": self.mean_score,
            "cusum_up": self.cusum.up,
            "cusum_down": self.cusum.down,
            "alarm_at": self.cusum.alarm_at,
            "alarm_side": self.cusum.alarm_side,
            "drifted": self.drifted,
        }


def drift_stats(
    llm_id: str,
    p: np.ndarray,
    y: np.ndarray,
    window: int = DEFAULT_WINDOW,
    shift: float = DEFAULT_SHIFT,
    threshold: float = DEFAULT_THRESHOLD,
) -> DriftStats:
    """:class:`DriftStats` of one LLM's predictions ``p`` and scores ``y`` (oldest first): the
    windowed levels over the last ``window`` rows, the CUSUM over all of them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.2, 0.9, 400)
    >>> drift_stats("m", p, (rng.random(400) < p).astype(float)).drifted  # calibrated
    False
    >>> drift_stats("m", p, (rng.random(400) < p - 0.3).astype(float)).drifted  # got worse
    True
    """
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    wp, wy = p[-window:], y[-window:]
    return DriftStats(
        llm_id=llm_id,
        n=len(p),
        window=len(wp),
        brier=brier(wp, wy),
        expected_brier=expected_brier(wp),
        log_loss=log_loss(wp, wy),
        expected_log_loss=expected_log_loss(wp),
        mean_p=float(np.mean(wp)) if len(wp) else float("nan"),
        mean_score=float(np.mean(wy)) if len(wy) else float("nan"),
        cusum=cusum(p, y, shift, threshold),
    )


def drift_by_llm(
    log: pd.DataFrame,
    router_version: str | None = None,
    window: int = DEFAULT_WINDOW,
    shift: float = DEFAULT_SHIFT,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[DriftStats]:
    """:func:`drift_stats` of every answering LLM in :func:`~irtrouter.store.reading.read_log` rows
    (one score per request, the last; P is the answering LLM's logged ``p_hat``; oldest decision
    first), optionally only the decisions made by ``router_version``."""
    frame = scored_requests(log).frame.sort_values(["created_at", "request_id"], kind="stable")
    if router_version is not None:
        frame = frame[frame["router_version"] == router_version]
    out = []
    for llm_id, rows in frame.groupby("answered_by", sort=True):
        p = np.array([d.get(str(llm_id), np.nan) for d in rows["p_hat"]], dtype=np.float64)
        y = rows["score"].to_numpy(dtype=np.float64)
        keep = np.isfinite(p) & np.isfinite(y)
        if keep.any():
            out.append(drift_stats(str(llm_id), p[keep], y[keep], window, shift, threshold))
    return out
