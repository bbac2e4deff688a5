"""Routing that pays for itself: a fallback to the best single LLM, validated on held-out queries.

A user without a router sends everything to the one LLM that is best for the money on their
data. A router earns its place only by beating that, and its predictions are noisy: between two
LLMs whose scores differ by less than the noise, switching away from the best single LLM costs in
expectation. The :class:`Guard` makes that explicit. For a trade-off ``t`` and the LLMs allowed,

* the **default LLM** ``d`` is the one with the best mean ``alpha * score - beta * C`` on the
  training queries (the best single LLM; unobserved training cells are filled with the model's
  calibrated P, so an LLM that skipped a hard task is not favoured);
* the rule's choice ``k`` replaces ``d`` only when its predicted gain ``S(k) - S(d)`` exceeds a
  **margin** ``m(t)``, tuned per trade-off (a grid of 21 alphas) and per rule on validation
  queries carved from the training data: the margin of the grid ``MARGINS`` whose guarded routing
  earns the most realised ``alpha * score - beta * C`` there, the evidence of neighbouring
  trade-offs (+-0.1 in alpha) pooled. ``m = inf`` (always ``d``) is on the grid and earns exactly
  the default's value, so on the validation queries, summed over each such neighbourhood, the
  guarded router is never below the best single LLM (at one alpha alone it can dip); where the
  predictions carry no signal it becomes it, up to that pooling.

:func:`select_by_validation` compares candidate predictors the same way (validation value of their
guarded, calibrated routing averaged over the trade-offs the router will serve) and records the
table. Nothing here reads a test split: the caller carves the validation queries from train.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from irtrouter.irt.calibration import log_loss
from irtrouter.routing.neighbours import neighbour_mean
from irtrouter.routing.rule import RULES, TIE_TOLERANCE, TradeOff, choose, rule_scores

#: Trade-offs (normalised alpha) at which margins are tuned; a call uses the nearest.
ALPHA_GRID: tuple[float, ...] = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 21))
#: Candidate margins, in units of the rule's score (alpha + beta = 1); inf: always the default.
MARGINS: tuple[float, ...] = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, np.inf)
#: Grid points on each side whose validation evidence a margin pools.
SMOOTHING = 2
#: Trade-offs over which ``predictor="auto"`` compares its candidates by default.
SELECTION_ALPHAS: tuple[float, ...] = (0.2, 0.5, 0.8)


#: Neighbours and IRT weights tried by the kNN blend.
KNN_GRID: tuple[int, ...] = (5, 10, 20, 50, 100, 200)
BLEND_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def mix(
    p_irt: np.ndarray,
    train_scores: np.ndarray,
    near: np.ndarray,
    blend: tuple[int, float],
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """``w * P_irt + (1 - w) * P_knn`` with ``(k, w) = blend``; P_knn is the mean score of the ``k``
    nearest training queries (``prior``, default P_irt's mean, where they observed none)."""
    k, w = blend
    if w >= 1.0:
        return p_irt
    fallback = p_irt.mean(axis=0) if prior is None else prior
    return w * p_irt + (1.0 - w) * neighbour_mean(train_scores, near, k, fallback)


def choose_blend(
    p_irt: np.ndarray,
    train_scores: np.ndarray,
    near: np.ndarray,
    Y_val: np.ndarray,
    C_val: np.ndarray,
    mean_score: np.ndarray,
    mean_cost: np.ndarray,
    alphas: Sequence[float],
) -> tuple[int, float]:
    """The ``(k, w)`` of ``KNN_GRID`` x ``BLEND_WEIGHTS`` whose linear routing earns the most on the
    validation queries over ``alphas`` (as tuned kNN chooses its k), ties broken by log-loss, then
    by the IRT model's larger weight and the smaller k."""
    best: tuple[float, float, float, int] | None = None
    for k in KNN_GRID:
        for w in BLEND_WEIGHTS:
            p = mix(p_irt, train_scores, near, (k, w))
            value = round(validation_value(p, C_val, Y_val, mean_score, mean_cost, alphas), 9)
            key = (-value, round(log_loss(p, Y_val), 9), -w, k)
            if best is None or key < best:
                best = key
    assert best is not None
    return best[3], -best[2]


def filled_scores(Y: np.ndarray, p_hat: np.ndarray) -> np.ndarray:
    """Realised scores where observed, the model's (calibrated) P elsewhere."""
    return np.where(np.isnan(Y), p_hat, Y)


@dataclass(frozen=True)
class Guard:
    """The validated fallback of a router (module docstring).

    Attributes
    ----------
    mean_score, mean_cost : ndarray (n_llms,)
        Each LLM's mean score (filled) and mean normalised cost C over the training queries.
    margins : dict of rule -> ndarray (len(ALPHA_GRID),)
        The tuned margin at each grid alpha.
    validation : dict
        What tuning saw: queries, and per rule and grid alpha the validation gain over the default.
    """

    mean_score: np.ndarray
    mean_cost: np.ndarray
    margins: dict[str, np.ndarray]
    validation: dict[str, Any]

    def default_llm(self, trade_off: TradeOff, allowed: np.ndarray) -> int | None:
        """The best single allowed LLM at ``trade_off`` among those the guard knows (None when none
        of them is allowed: LLMs added after training are routed to, never defaulted to)."""
        known = np.asarray(allowed, dtype=bool)[: len(self.mean_score)]
        if not known.any():
            return None
        return best_single(self.mean_score, self.mean_cost, trade_off, known)

    def margin(self, trade_off: TradeOff, rule: str) -> float:
        grid = np.asarray(ALPHA_GRID)
        return float(self.margins[rule][int(np.argmin(np.abs(grid - trade_off.alpha)))])

    def apply(
        self,
        p_hat: np.ndarray,
        cost: np.ndarray,
        chosen: np.ndarray,
        trade_off: TradeOff,
        rule: str,
        allowed: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, int | None, float]:
        """``(chosen', stayed, default, margin)``: each query keeps the rule's choice only where its
        predicted gain over the default LLM exceeds the margin; ``stayed`` marks the queries the
        guard sent back to the default."""
        d = self.default_llm(trade_off, allowed)
        m = self.margin(trade_off, rule)
        if d is None:
            return chosen, np.zeros(len(chosen), dtype=bool), None, m
        p = np.atleast_2d(p_hat)
        scores = rule_scores(p, np.broadcast_to(cost, p.shape), trade_off, rule)
        rows = np.arange(len(chosen))
        gain = scores[rows, chosen] - scores[:, d]
        stayed = (chosen != d) & ~(gain > m + TIE_TOLERANCE)  # a gain equal to the margin does not switch
        return np.where(stayed, d, chosen), stayed, d, m

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        config = {"rules": list(self.margins), "validation": self.validation}
        arrays = {"mean_score": self.mean_score, "mean_cost": self.mean_cost}
        arrays |= {f"margins.{r}": m for r, m in self.margins.items()}
        return config, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Guard:
        margins = {r: arrays[f"margins.{r}"] for r in config["rules"]}
        return cls(arrays["mean_score"], arrays["mean_cost"], margins, config.get("validation", {}))

    def with_llm(self, mean_score: float, mean_cost: float) -> Guard:
        """A copy that knows one more LLM (added after training, from its predicted mean score)."""
        return Guard(
            np.append(self.mean_score, mean_score), np.append(self.mean_cost, mean_cost), self.margins, self.validation
        )


def best_single(mean_score: np.ndarray, mean_cost: np.ndarray, trade_off: TradeOff, allowed: np.ndarray) -> int:
    """The allowed LLM of best mean ``alpha * score - beta * C`` (ties: the cheaper, then the first)."""
    value = trade_off.alpha * mean_score - trade_off.beta * mean_cost
    return int(choose(value[None, :], mean_cost, 1.0, 0.0, np.asarray(allowed, dtype=bool)[None, :], "linear")[0])


def _realised_gain(Y: np.ndarray, C: np.ndarray, t: TradeOff, chosen: np.ndarray, d: int) -> np.ndarray:
    """Per validation query, realised ``alpha * Y - beta * C`` of ``chosen`` minus that of the
    default; 0 where either score is unobserved (nothing is known either way)."""
    rows = np.arange(len(chosen))
    u_chosen = t.alpha * Y[rows, chosen] - t.beta * C[rows, chosen]
    u_default = t.alpha * Y[:, d] - t.beta * C[:, d]
    return np.nan_to_num(u_chosen - u_default, nan=0.0)


def _best_margin(values: np.ndarray) -> int:
    """Index of the best value, ties to the larger margin (later in ``MARGINS``)."""
    rounded = np.round(values, 12)
    return int(np.flatnonzero(rounded == rounded.max())[-1])


def fit_guard(
    p_val: np.ndarray,
    C_val: np.ndarray,
    Y_val: np.ndarray,
    mean_score: np.ndarray,
    mean_cost: np.ndarray,
    rules: Sequence[str] = RULES,
) -> Guard:
    """Tune the margins on validation predictions ``p_val`` (calibrated), costs ``C_val`` and
    realised scores ``Y_val`` (NaN = unobserved) of queries the model was not fitted on."""
    allowed = np.ones(len(mean_score), dtype=bool)
    margins: dict[str, np.ndarray] = {}
    gains: dict[str, list[float]] = {}
    for rule in rules:
        values = np.zeros((len(ALPHA_GRID), len(MARGINS)))
        for i, a in enumerate(ALPHA_GRID):
            t = TradeOff.of(a)
            d = best_single(mean_score, mean_cost, t, allowed)
            chosen = choose(p_val, C_val, t, None, None, rule)
            scores = rule_scores(p_val, C_val, t, rule)
            predicted = scores[np.arange(len(chosen)), chosen] - scores[:, d]
            realised = _realised_gain(Y_val, C_val, t, chosen, d)
            # Value of each margin: the realised gain of the switches it lets through.
            values[i] = [float(realised[predicted > m + TIE_TOLERANCE].sum()) / max(len(chosen), 1) for m in MARGINS]
        # Neighbouring trade-offs pool their evidence (+-0.1 in alpha), so one noisy grid point does
        # not set its margin alone; ties go to the larger margin (fewer switches), so inf wins
        # unless switching earned something.
        pooled = [values[max(i - SMOOTHING, 0) : i + SMOOTHING + 1].sum(axis=0) for i in range(len(ALPHA_GRID))]
        best = [_best_margin(row) for row in pooled]
        margins[rule] = np.asarray([MARGINS[j] for j in best], dtype=np.float64)
        gains[rule] = [round(float(values[i, j]), 6) for i, j in enumerate(best)]
    validation = {"n_queries": len(Y_val), "alphas": list(ALPHA_GRID), "gain_over_default": gains}
    return Guard(np.asarray(mean_score, np.float64), np.asarray(mean_cost, np.float64), margins, validation)


def validation_value(
    p_val: np.ndarray,
    C_val: np.ndarray,
    Y_val: np.ndarray,
    mean_score: np.ndarray,
    mean_cost: np.ndarray,
    alphas: Sequence[float],
    guard: Guard | None = None,
) -> float:
    """Mean over ``alphas`` of the validation value per query of the linear routing (guarded when
    ``guard`` is given): the best single LLM's mean ``alpha * score - beta * C`` plus the realised
    gain of the routing over it (what :func:`select_by_validation` compares)."""
    allowed = np.ones(len(mean_score), dtype=bool)
    total = 0.0
    for a in alphas:
        t = TradeOff.of(a)
        d = best_single(mean_score, mean_cost, t, allowed)
        routed = choose(p_val, C_val, t, None, None, "linear")
        if guard is not None:
            routed = guard.apply(p_val, C_val, routed, t, "linear", allowed)[0]
        base = t.alpha * filled_scores(Y_val, p_val)[:, d].mean() - t.beta * C_val[:, d].mean()
        total += float(_realised_gain(Y_val, C_val, t, routed, d).mean()) + float(base)
    return total / len(alphas)


def select_by_validation(values: dict[str, float]) -> tuple[str, list[dict[str, Any]]]:
    """The candidate of highest validation value (ties: the one listed first) and the table."""
    best = max(values, key=lambda name: (round(values[name], 12), -list(values).index(name)))
    table = [{"candidate": name, "validation_value": round(v, 6), "chosen": name == best} for name, v in values.items()]
    return best, table
