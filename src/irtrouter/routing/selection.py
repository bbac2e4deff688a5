"""Routing that pays for itself: a fallback to the best single LLM, validated on held-out queries.

A user without a router sends everything to the one LLM that is best for the money on their
data. A router earns its place only by beating that, and its predictions are noisy: between two
LLMs whose scores differ by less than the noise, switching away from the best single LLM costs in
expectation. The :class:`Guard` makes that explicit. For a trade-off ``t`` and the LLMs allowed,

* the **default LLM** ``d`` is the one with the best mean ``alpha * score - beta * C`` on the
  training queries (the best single LLM; unobserved training cells are filled with the model's
  calibrated P, so an LLM that skipped a hard task is not favoured);
* the rule's choice ``k`` replaces ``d`` only when its predicted gain ``S(k) - S(d)`` exceeds a
  **margin** plus a multiple of the gain's **spread**, ``m(t) + z(t) * s(k, d)``, both tuned per
  trade-off (a grid of 21 alphas) and per rule on validation queries carved from the training
  data (:mod:`~irtrouter.routing.tuning`): first the margin of ``MARGINS`` whose guarded routing earns the most realised
  ``alpha * score - beta * C`` there (the evidence of neighbouring trade-offs, +-0.1 in alpha,
  pooled), kept only if that gain clears ``CONFIDENCE`` standard errors (else ``inf``: switching
  on validation luck is what left the best single LLM below it), then, that margin held, the
  multiple of ``SPREADS`` that earns the most. ``m = inf``
  (always ``d``) is on the grid and earns exactly the default's value, so on the validation
  queries, summed over each such neighbourhood, the guarded router is never below the best single
  LLM (at one alpha alone it can dip); where the predictions carry no signal it becomes it, up to
  that pooling, whatever the spread (which can only raise the bar).
* the spread ``s(k, d) = alpha * sqrt(P_k (1 - P_k) + P_d (1 - P_d))`` is the standard deviation of
  the predicted gain when each P is read as the mean of a Beta posterior of fixed strength ``n``
  (its standard deviation ``sqrt(P (1 - P) / (n + 1))``; the unknown ``1 / sqrt(n + 1)`` is folded
  into ``z``, which validation tunes): a switch between two LLMs predicted near 0.5 needs a larger
  predicted gain than one between confident predictions. ``z = 0`` is the plain margin. This is a
  posterior of P, not an ensemble; an ensemble's standard deviation per query and LLM can take its
  place (``sd``), and measured out of fold it did no better (benchmarks/guard_spread.py).

This module is what routing reads (the guard and the kNN blend); :mod:`irtrouter.routing.tuning`
fits them, and the margins and spread multiples, on validation queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from irtrouter.routing.neighbours import neighbour_mean
from irtrouter.routing.rule import TIE_TOLERANCE, TradeOff, choose, rule_scores

#: Trade-offs (normalised alpha) at which margins are tuned; a call uses the nearest.
ALPHA_GRID: tuple[float, ...] = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 21))


#: Call settings whose default LLM, margin and spread multiple a guard keeps.
_SETTINGS_KEPT = 1024


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
    spreads : dict of rule -> ndarray (len(ALPHA_GRID),)
        The tuned multiple ``z`` of the gain's spread at each grid alpha (absent: 0).
    """

    mean_score: np.ndarray
    mean_cost: np.ndarray
    margins: dict[str, np.ndarray]
    validation: dict[str, Any]
    spreads: dict[str, np.ndarray] = field(default_factory=dict)
    # (alpha, beta, rule, allowed) -> (default, margin, multiple): they depend on the call's
    # settings only, and computing them is most of the guard's time on one query.
    _settings: dict[tuple[Any, ...], tuple[int | None, float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def default_llm(self, trade_off: TradeOff, allowed: np.ndarray) -> int | None:
        """The best single allowed LLM at ``trade_off`` among those the guard knows (None when none
        of them is allowed: LLMs added after training are routed to, never defaulted to)."""
        known = np.asarray(allowed, dtype=bool)[: len(self.mean_score)]
        if not known.any():
            return None
        return best_single(self.mean_score, self.mean_cost, trade_off, known)

    def margin(self, trade_off: TradeOff, rule: str) -> float:
        return float(self.margins[rule][_grid_index(trade_off)])

    def spread(self, trade_off: TradeOff, rule: str) -> float:
        """The tuned multiple ``z`` of the gain's spread at ``trade_off`` (0 when none was tuned)."""
        z = self.spreads.get(rule)
        return 0.0 if z is None else float(z[_grid_index(trade_off)])

    def apply(
        self,
        p_hat: np.ndarray,
        cost: np.ndarray,
        chosen: np.ndarray,
        trade_off: TradeOff,
        rule: str,
        allowed: np.ndarray,
        scores: np.ndarray | None = None,
        sd: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int | None, float, np.ndarray]:
        """``(chosen', stayed, default, margin, by_spread)``: each query keeps the rule's choice only
        where its predicted gain over the default LLM exceeds the margin (plus the tuned multiple of
        the gain's spread); ``stayed`` marks the queries the guard sent back to the default,
        ``by_spread`` those of them whose gain beat the margin alone, kept by the spread term.
        ``scores``: the rule's scores of ``p_hat`` and ``cost`` at ``trade_off`` when the caller has
        them (they are computed otherwise)."""
        d, m, z = self._settings_of(trade_off, rule, allowed)
        if d is None:
            none = np.zeros(len(chosen), dtype=bool)
            return chosen, none, None, m, none
        p = np.atleast_2d(p_hat)
        if scores is None:
            scores = rule_scores(p, np.broadcast_to(cost, p.shape), trade_off, rule)
        rows = np.arange(len(chosen))
        gain = scores[rows, chosen] - scores[:, d]
        bar = m + z * gain_spread(p, chosen, d, trade_off, sd) if z > 0 else m
        stayed = (chosen != d) & ~(gain > bar + TIE_TOLERANCE)  # a gain equal to the bar does not switch
        return np.where(stayed, d, chosen), stayed, d, m, stayed & (gain > m + TIE_TOLERANCE)

    def _settings_of(self, trade_off: TradeOff, rule: str, allowed: np.ndarray) -> tuple[int | None, float, float]:
        """``(default LLM, margin, spread multiple)`` of a call, cached per call settings (at most
        ``_SETTINGS_KEPT``: a service's clients may send any alpha)."""
        allowed = np.asarray(allowed, dtype=bool)
        key = (trade_off.alpha, trade_off.beta, rule, allowed.shape, allowed.tobytes())
        found = self._settings.get(key)
        if found is None:
            found = (self.default_llm(trade_off, allowed), self.margin(trade_off, rule), self.spread(trade_off, rule))
            if len(self._settings) >= _SETTINGS_KEPT:
                self._settings.clear()
            self._settings[key] = found
        return found

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        config = {"rules": list(self.margins), "validation": self.validation}
        arrays = {"mean_score": self.mean_score, "mean_cost": self.mean_cost}
        arrays |= {f"margins.{r}": m for r, m in self.margins.items()}
        arrays |= {f"spreads.{r}": z for r, z in self.spreads.items()}
        return config, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Guard:
        margins = {r: arrays[f"margins.{r}"] for r in config["rules"]}
        spreads = {r: arrays[f"spreads.{r}"] for r in config["rules"] if f"spreads.{r}" in arrays}  # older: none
        return cls(arrays["mean_score"], arrays["mean_cost"], margins, config.get("validation", {}), spreads)

    def with_llm(self, mean_score: float, mean_cost: float) -> Guard:
        """A copy that knows one more LLM (added after training, from its predicted mean score)."""
        scores, costs = np.append(self.mean_score, mean_score), np.append(self.mean_cost, mean_cost)
        return replace(self, mean_score=scores, mean_cost=costs)


def _grid_index(trade_off: TradeOff) -> int:
    return int(np.argmin(np.abs(np.asarray(ALPHA_GRID) - trade_off.alpha)))


def gain_spread(
    p_hat: np.ndarray, chosen: np.ndarray, default: int, trade_off: TradeOff, sd: np.ndarray | None = None
) -> np.ndarray:
    """Per query, ``alpha * sqrt(P_k (1 - P_k) + P_d (1 - P_d))`` for the chosen ``k`` and the default
    ``d``: the spread of the predicted gain up to the posterior strength (module docstring); with
    ``sd`` (per query and LLM, e.g. an ensemble's standard deviation of P) ``alpha * sqrt(sd_k^2 +
    sd_d^2)`` instead."""
    rows = np.arange(len(chosen))
    if sd is not None:
        var = np.square(np.atleast_2d(sd))
    else:
        p = np.clip(np.atleast_2d(p_hat), 0.0, 1.0)
        var = p * (1.0 - p)
    return trade_off.alpha * np.sqrt(var[rows, chosen] + var[:, default])


def best_single(mean_score: np.ndarray, mean_cost: np.ndarray, trade_off: TradeOff, allowed: np.ndarray) -> int:
    """The allowed LLM of best mean ``alpha * score - beta * C`` (ties: the cheaper, then the first)."""
    value = trade_off.alpha * mean_score - trade_off.beta * mean_cost
    return int(choose(value[None, :], mean_cost, 1.0, 0.0, np.asarray(allowed, dtype=bool)[None, :], "linear")[0])
