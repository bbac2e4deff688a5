"""Per-LLM calibration of predicted P: Platt scaling or isotonic regression, numpy at route time.

An IRT model fitted on BCE ranks queries well but its probabilities can be off by LLM (too sure for
one, too shy for another), and the routing rule compares probabilities *across* LLMs, so a
miscalibrated LLM is chosen too often or too rarely. :class:`Calibrator` maps each LLM's P through
its own monotone function, fitted on validation queries carved from the training data (never the
test split):

``platt``
    ``P' = sigmoid(a_j * logit(P) + b_j)``, two numbers per LLM, fitted by Newton's method on the
    log-loss with a weak ridge towards the identity (a = 1, b = 0).
``isotonic``
    A non-decreasing step function per LLM (pool-adjacent-violators), interpolated linearly and
    clipped to [0.001, 0.999] so no P is certain.
``identity``
    No change.

:func:`fit_calibrator` picks among them per LLM by cross-fitted validation log-loss (each method
is fitted on one half of the validation queries and scored on the other, both ways), then refits
the chosen method on every validation query. All three are monotone in P, so calibration never
changes the order of one LLM's queries, only how LLMs compare.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(0.05, 0.95, (400, 2))
>>> y = (rng.random((400, 2)) < p ** 3).astype(float)          # the model is over-confident
>>> cal = fit_calibrator(p, y, methods=("platt",))
>>> bool(log_loss(cal.transform(p), y) < log_loss(p, y))
True
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError, DataError

CALIBRATION_METHODS = ("identity", "platt", "isotonic")
_EPS = 1e-3  # calibrated P stays in [_EPS, 1 - _EPS]
_RIDGE = 1e-2  # Platt's pull towards the identity map, per validation query


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))  # no overflow at extreme logits


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean binary log-loss over the observed (non-NaN) cells of ``y``; graded scores count as soft labels."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    seen = ~np.isnan(y)
    q = np.clip(p[seen], 1e-6, 1 - 1e-6)
    return float(-np.mean(y[seen] * np.log(q) + (1 - y[seen]) * np.log1p(-q)))


def _fit_platt(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising log-loss + ridge * ((a - 1)^2 + b^2) * n."""
    z = _logit(p)
    a, b = 1.0, 0.0
    n = len(z)
    for _ in range(50):
        q = _sigmoid(a * z + b)
        r = q - y
        w = q * (1 - q)
        grad = np.array([r @ z + _RIDGE * n * (a - 1.0), r.sum() + _RIDGE * n * b])
        hess = np.array([[w @ (z * z), w @ z], [w @ z, w.sum()]]) + _RIDGE * n * np.eye(2)
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints (x, f(x)) of the pool-adjacent-violators fit of y on p, f non-decreasing."""
    order = np.argsort(p, kind="stable")
    xs, ys = p[order], y[order]
    values: list[float] = []
    weights: list[float] = []
    lefts: list[float] = []
    rights: list[float] = []
    for x, v in zip(xs.tolist(), ys.tolist(), strict=True):
        values.append(v)
        weights.append(1.0)
        lefts.append(x)
        rights.append(x)
        while len(values) > 1 and values[-2] > values[-1]:
            w = weights[-2] + weights[-1]
            values[-2] = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
            weights[-2], rights[-2] = w, rights[-1]
            del values[-1], weights[-1], lefts[-1], rights[-1]
    knots_x = np.array([(lo + hi) / 2 for lo, hi in zip(lefts, rights, strict=True)])
    return knots_x, np.clip(np.array(values), _EPS, 1 - _EPS)


@dataclass(frozen=True)
class LLMCalibration:
    """One LLM's calibration map."""

    method: str
    platt: tuple[float, float] = (1.0, 0.0)
    knots_x: np.ndarray | None = None
    knots_y: np.ndarray | None = None

    def __call__(self, p: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            a, b = self.platt
            return np.clip(_sigmoid(a * _logit(p) + b), _EPS, 1 - _EPS)
        if self.method == "isotonic":
            assert self.knots_x is not None and self.knots_y is not None
            if len(self.knots_x) == 1:
                return np.full_like(np.asarray(p, dtype=np.float64), float(self.knots_y[0]))
            return np.interp(p, self.knots_x, self.knots_y)
        return np.asarray(p, dtype=np.float64)


def _fit_one(method: str, p: np.ndarray, y: np.ndarray) -> LLMCalibration:
    if method == "platt":
        return LLMCalibration("platt", platt=_fit_platt(p, y))
    if method == "isotonic":
        kx, ky = _fit_isotonic(p, y)
        return LLMCalibration("isotonic", knots_x=kx, knots_y=ky)
    return LLMCalibration("identity")


@dataclass(frozen=True)
class _Plan:
    """A :class:`Calibrator`'s maps grouped by method for a vectorised transform: the Platt
    columns with their ``a`` and ``b`` as rows, and ``(column, knots_x, knots_y)`` per isotonic
    LLM (``knots_x`` None: a single knot, a constant)."""

    platt_cols: np.ndarray | None
    platt_a: np.ndarray
    platt_b: np.ndarray
    isotonic: tuple[tuple[int, np.ndarray | None, np.ndarray], ...]

    @classmethod
    def of(cls, maps: Sequence[LLMCalibration]) -> _Plan:
        platt = [j for j, m in enumerate(maps) if m.method == "platt"]
        isotonic = []
        for j, m in enumerate(maps):
            if m.method == "isotonic":
                assert m.knots_x is not None and m.knots_y is not None
                kx, ky = np.asarray(m.knots_x, dtype=np.float64), np.asarray(m.knots_y, dtype=np.float64)
                isotonic.append((j, None if len(kx) == 1 else kx, ky))
        return cls(
            np.array(platt, dtype=np.intp) if platt else None,
            np.array([maps[j].platt[0] for j in platt], dtype=np.float64),
            np.array([maps[j].platt[1] for j in platt], dtype=np.float64),
            tuple(isotonic),
        )


@dataclass(frozen=True)
class Calibrator:
    """Per-LLM calibration maps, in the router's LLM order, with the validation log-loss of each
    method that was tried (``report``: LLM -> method -> cross-fitted log-loss)."""

    maps: tuple[LLMCalibration, ...]
    report: dict[str, dict[str, float]]
    llm_ids: tuple[str, ...]
    _plan: _Plan = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The route-time plan, built once here (fit, load, add_llm) rather than per call.
        object.__setattr__(self, "_plan", _Plan.of(self.maps))

    def transform(self, p_hat: np.ndarray) -> np.ndarray:
        """Calibrated P-hat, same shape (n_queries, n_llms).

        Every Platt LLM is mapped in one affine + sigmoid pass over its columns, each isotonic LLM
        by one ``np.interp``; the floats are those of applying each LLM's map to its own column.
        """
        p = np.atleast_2d(np.asarray(p_hat, dtype=np.float64))
        if p.shape[1] != len(self.maps):
            raise DataError(f"p_hat has {p.shape[1]} LLMs, the calibration {len(self.maps)}")
        plan = self._plan
        out = p.copy()  # identity columns stay as they are
        if plan.platt_cols is not None:
            z = plan.platt_a * _logit(p[:, plan.platt_cols]) + plan.platt_b
            out[:, plan.platt_cols] = np.clip(_sigmoid(z), _EPS, 1 - _EPS)
        for j, kx, ky in plan.isotonic:
            out[:, j] = ky[0] if kx is None else np.interp(p[:, j], kx, ky)
        return out

    def with_identity(self, llm_id: str) -> Calibrator:
        """A copy with one more LLM mapped by the identity (an LLM added after training)."""
        return Calibrator((*self.maps, LLMCalibration("identity")), self.report, (*self.llm_ids, llm_id))

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        config = {
            "llm_ids": list(self.llm_ids),
            "methods": [m.method for m in self.maps],
            "platt": [list(m.platt) for m in self.maps],
            "report": self.report,
        }
        arrays: dict[str, np.ndarray] = {}
        for j, m in enumerate(self.maps):
            if m.knots_x is not None and m.knots_y is not None:
                arrays[f"{j}.x"], arrays[f"{j}.y"] = m.knots_x, m.knots_y
        return config, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Calibrator:
        maps = tuple(
            LLMCalibration(method, tuple(platt), arrays.get(f"{j}.x"), arrays.get(f"{j}.y"))
            for j, (method, platt) in enumerate(zip(config["methods"], config["platt"], strict=True))
        )
        return cls(maps, config.get("report", {}), tuple(config["llm_ids"]))


def fit_calibrator(
    p_hat: np.ndarray,
    Y: np.ndarray,
    llm_ids: Sequence[str] | None = None,
    methods: Sequence[str] = CALIBRATION_METHODS,
    random_state: int = 0,
) -> Calibrator:
    """Per LLM, the method of ``methods`` with the lowest cross-fitted log-loss on these validation
    cells (``Y`` NaN = unobserved), refitted on all of them.

    Parameters
    ----------
    p_hat : ndarray (n_queries, n_llms)
        Uncalibrated predictions for validation queries the model was not fitted on.
    Y : ndarray (n_queries, n_llms)
        Their realised scores in [0, 1].
    """
    for m in methods:
        if m not in CALIBRATION_METHODS:
            raise ConfigError(f"unknown calibration {m!r}; expected one of {', '.join(CALIBRATION_METHODS)}")
    p_hat, Y = np.asarray(p_hat, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if p_hat.shape != Y.shape or p_hat.ndim != 2:
        raise DataError(f"p_hat {p_hat.shape} and Y {Y.shape} must be the same (n_queries, n_llms)")
    ids = tuple(llm_ids) if llm_ids is not None else tuple(f"llm-{j}" for j in range(Y.shape[1]))
    maps: list[LLMCalibration] = []
    report: dict[str, dict[str, float]] = {}
    for j, llm in enumerate(ids):
        seen = np.flatnonzero(~np.isnan(Y[:, j]))
        p, y = p_hat[seen, j], Y[seen, j]
        if len(seen) < 20 or np.ptp(y) == 0:  # too few cells, or one outcome only: leave P alone
            maps.append(LLMCalibration("identity"))
            report[llm] = {}
            continue
        # Each LLM's halves are seeded by its name, so reordering the LLMs reorders the maps exactly.
        rng = np.random.default_rng([random_state, zlib.crc32(llm.encode("utf-8"))])
        half = rng.permutation(len(seen)) < len(seen) // 2
        scores = {}
        for m in methods:
            loss = 0.0
            for fit_rows in (half, ~half):
                loss += log_loss(_fit_one(m, p[fit_rows], y[fit_rows])(p[~fit_rows]), y[~fit_rows]) * (~fit_rows).sum()
            scores[m] = round(float(loss / len(seen)), 6)
        best = min(methods, key=lambda m: (scores[m], CALIBRATION_METHODS.index(m)))
        maps.append(_fit_one(best, p, y))
        report[llm] = scores
    return Calibrator(tuple(maps), report, ids)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Expected calibration error (equal-width bins) and Brier score over the observed cells."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    seen = ~np.isnan(y)
    p, y = p[seen], y[seen]
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return {"ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "log_loss": log_loss(p, y)}
