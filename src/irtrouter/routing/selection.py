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
  data: first the margin of ``MARGINS`` whose guarded routing earns the most realised
  ``alpha * score - beta * C`` there (the evidence of neighbouring trade-offs, +-0.1 in alpha,
  pooled), then, that margin held, the multiple of ``SPREADS`` that earns the most. ``m = inf``
  (always ``d``) is on the grid and earns exactly the default's value, so on the validation
  queries, summed over each such neighbourhood, the guarded router is never below the best single
  LLM (at one alpha alone it can dip); where the predictions carry no signal it becomes it, up to
  that pooling, whatever the spread (which can only raise the bar).
* the spread ``s(k, d) = alpha * sqrt(P_k (1 - P_k) + P_d (1 - P_d))`` is the standard deviation of
  the predicted gain when each P is read as the mean of a Beta posterior of fixed strength ``n``
  (its standard deviation ``sqrt(P (1 - P) / (n + 1))``; the unknown ``1 / sqrt(n + 1)`` is folded
  into ``z``, which validation tunes): a switch between two LLMs predicted near 0.5 needs a larger
  predicted gain than one between confident predictions. ``z = 0`` is the plain margin. This is a
  posterior of P, not an ensemble: two fits' disagreement is not computed.

:func:`cross_validate_stages` judges each configuration of the stages fitted on validation queries
(calibration or none, guard or none) out of fold, and :func:`select_by_validation` compares
candidate predictors by that value (averaged over the trade-offs the router will serve) and
records the table. Nothing here reads a test split: the caller carves the validation queries from
train.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from irtrouter.irt.calibration import log_loss
from irtrouter.routing.neighbours import neighbour_mean
from irtrouter.routing.rule import RULES, TIE_TOLERANCE, TradeOff, choose, rule_scores

#: Trade-offs (normalised alpha) at which margins are tuned; a call uses the nearest.
ALPHA_GRID: tuple[float, ...] = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 21))
#: Candidate margins, in units of the rule's score (alpha + beta = 1); inf: always the default.
MARGINS: tuple[float, ...] = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, np.inf)
#: Candidate multiples ``z`` of the predicted gain's spread a switch must also beat (0: margin only).
SPREADS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4)
#: Grid points on each side whose validation evidence a margin pools.
SMOOTHING = 2
#: Call settings whose default LLM, margin and spread multiple a guard keeps.
_SETTINGS_KEPT = 1024
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
    means = neighbour_means(train_scores, near, p_irt.mean(axis=0))
    return _blend_of(p_irt, means, Y_val, C_val, mean_score, mean_cost, alphas)


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
    ) -> tuple[np.ndarray, np.ndarray, int | None, float]:
        """``(chosen', stayed, default, margin)``: each query keeps the rule's choice only where its
        predicted gain over the default LLM exceeds the margin; ``stayed`` marks the queries the
        guard sent back to the default. ``scores``: the rule's scores of ``p_hat`` and ``cost`` at
        ``trade_off`` when the caller has them (they are computed otherwise)."""
        d, m, z = self._settings_of(trade_off, rule, allowed)
        if d is None:
            return chosen, np.zeros(len(chosen), dtype=bool), None, m
        p = np.atleast_2d(p_hat)
        if scores is None:
            scores = rule_scores(p, np.broadcast_to(cost, p.shape), trade_off, rule)
        rows = np.arange(len(chosen))
        gain = scores[rows, chosen] - scores[:, d]
        bar = m + z * gain_spread(p, chosen, d, trade_off) if z > 0 else m
        stayed = (chosen != d) & ~(gain > bar + TIE_TOLERANCE)  # a gain equal to the bar does not switch
        return np.where(stayed, d, chosen), stayed, d, m

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


def gain_spread(p_hat: np.ndarray, chosen: np.ndarray, default: int, trade_off: TradeOff) -> np.ndarray:
    """Per query, ``alpha * sqrt(P_k (1 - P_k) + P_d (1 - P_d))`` for the chosen ``k`` and the default
    ``d``: the spread of the predicted gain up to the posterior strength (module docstring)."""
    p = np.clip(np.atleast_2d(p_hat), 0.0, 1.0)
    var = p * (1.0 - p)
    rows = np.arange(len(chosen))
    return trade_off.alpha * np.sqrt(var[rows, chosen] + var[:, default])


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


def _best_index(values: np.ndarray) -> int:
    """Index of the best value, ties to the later entry (larger margin, or larger spread multiple)."""
    rounded = np.round(values, 12)
    return int(np.flatnonzero(rounded == rounded.max())[-1])


def fit_guard(
    p_val: np.ndarray,
    C_val: np.ndarray,
    Y_val: np.ndarray,
    mean_score: np.ndarray,
    mean_cost: np.ndarray,
    rules: Sequence[str] = RULES,
    spreads: bool = True,
) -> Guard:
    """Tune the margins, then (with ``spreads``) the spread multiples, on validation predictions
    ``p_val`` (calibrated), costs ``C_val`` and realised scores ``Y_val`` (NaN = unobserved) of
    queries the model was not fitted on.

    The margin comes first, alone (the plain guard); the spread multiple is then tuned with that
    margin held, so it can only raise the bar a switch must clear: where the margin keeps the
    default (``inf``) the spread changes nothing, and an uninformative predictor stays on the
    default whatever its spread (a joint choice would give validation noise one more knob)."""
    allowed = np.ones(len(mean_score), dtype=bool)
    multiples_grid = SPREADS if spreads else (0.0,)
    margins: dict[str, np.ndarray] = {}
    multiples: dict[str, np.ndarray] = {}
    gains: dict[str, list[float]] = {}
    n = max(len(Y_val), 1)
    for rule in rules:
        # values[i, j, l]: realised gain per query of the switches that margin j and multiple l let through.
        values = np.zeros((len(ALPHA_GRID), len(MARGINS), len(multiples_grid)))
        for i, a in enumerate(ALPHA_GRID):
            t = TradeOff.of(a)
            d = best_single(mean_score, mean_cost, t, allowed)
            chosen = choose(p_val, C_val, t, None, None, rule)
            scores = rule_scores(p_val, C_val, t, rule)
            predicted = scores[np.arange(len(chosen)), chosen] - scores[:, d]
            spread = gain_spread(p_val, chosen, d, t)
            realised = _realised_gain(Y_val, C_val, t, chosen, d)
            for j, m in enumerate(MARGINS):
                for k, z in enumerate(multiples_grid):
                    values[i, j, k] = float(realised[predicted > m + z * spread + TIE_TOLERANCE].sum()) / n
        # Neighbouring trade-offs pool their evidence (+-0.1 in alpha), so one noisy grid point does
        # not set its margin alone; ties go to the larger margin (fewer switches), so inf wins
        # unless switching earned something.
        pooled = [values[max(i - SMOOTHING, 0) : i + SMOOTHING + 1].sum(axis=0) for i in range(len(ALPHA_GRID))]
        best_m = [_best_index(row[:, 0]) for row in pooled]
        best_z = [_best_index(row[j]) for row, j in zip(pooled, best_m, strict=True)]
        margins[rule] = np.asarray([MARGINS[j] for j in best_m], dtype=np.float64)
        multiples[rule] = np.asarray(
            [multiples_grid[k] if np.isfinite(MARGINS[j]) else 0.0 for j, k in zip(best_m, best_z, strict=True)]
        )
        gains[rule] = [round(float(values[i, j, k]), 6) for i, (j, k) in enumerate(zip(best_m, best_z, strict=True))]
    validation = {"n_queries": len(Y_val), "alphas": list(ALPHA_GRID), "gain_over_default": gains}
    return Guard(np.asarray(mean_score, np.float64), np.asarray(mean_cost, np.float64), margins, validation, multiples)


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


#: Folds of the validation queries over which the cheap stages (blend, calibration, guard) are
#: cross-fitted to judge each configuration (no model is refitted per fold); 3 rather than 5 for
#: the fit time (5 measured 4.1x MIRT's, docs/BENCHMARKS.md issue 12).
CV_FOLDS = 3


def neighbour_means(train_scores: np.ndarray, near: np.ndarray, prior: np.ndarray) -> dict[int, np.ndarray]:
    """The kNN predictions of every k of ``KNN_GRID`` (computed once, sliced per fold)."""
    return {k: neighbour_mean(train_scores, near, k, prior) for k in KNN_GRID if k <= near.shape[1]}


def _mixed(p_irt: np.ndarray, means: dict[int, np.ndarray], blend: tuple[int, float] | None) -> np.ndarray:
    if blend is None or blend[1] >= 1.0:
        return p_irt
    k, w = blend
    return w * p_irt + (1.0 - w) * means[k]


def _blend_of(
    p_irt: np.ndarray, means: dict[int, np.ndarray], Y: np.ndarray, C: np.ndarray, mean_score: np.ndarray,
    mean_cost: np.ndarray, alphas: Sequence[float],
) -> tuple[int, float]:  # fmt: skip
    """:func:`choose_blend` on precomputed neighbour means."""
    best: tuple[float, float, float, int] | None = None
    for k, knn in means.items():
        for w in BLEND_WEIGHTS:
            p = p_irt if w >= 1.0 else w * p_irt + (1.0 - w) * knn
            value = round(validation_value(p, C, Y, mean_score, mean_cost, alphas), 9)
            key = (-value, round(log_loss(p, Y), 9), -w, k)
            if best is None or key < best:
                best = key
    assert best is not None
    return best[3], -best[2]


@dataclass(frozen=True)
class Stages:
    """What is fitted on validation queries on top of a model: the blend, the calibration, the guard."""

    blend: tuple[int, float] | None
    calibrator: Any  # irtrouter.irt.calibration.Calibrator | None
    guard: Guard | None
    mean_score: np.ndarray
    mean_cost: np.ndarray

    def predict(self, p_irt: np.ndarray, means: dict[int, np.ndarray]) -> np.ndarray:
        p = _mixed(p_irt, means, self.blend)
        return p if self.calibrator is None else self.calibrator.transform(p)


def fit_stages(
    p_irt: np.ndarray,
    means: dict[int, np.ndarray] | None,
    p_fit: np.ndarray,
    Y_fit: np.ndarray,
    C_fit: np.ndarray,
    Y: np.ndarray,
    C: np.ndarray,
    alphas: Sequence[float],
    calibrate: Any = None,
    guard: bool = True,
    rules: Sequence[str] = RULES,
    blend: tuple[int, float] | None = None,
) -> Stages:
    """Fit the stages on validation predictions ``p_irt`` (and the kNN ``means``; None: no blend)
    with realised ``Y`` and costs ``C``; ``p_fit`` / ``Y_fit`` / ``C_fit``: the model's fitting
    queries, whose filled means make the default LLM. ``calibrate(p, Y)`` returns a calibrator;
    ``blend``: a blend already chosen on these queries (else chosen here when ``means`` is given)."""
    mean_cost = C_fit.mean(axis=0)
    if means is not None and blend is None:
        blend = _blend_of(p_irt, means, Y, C, filled_scores(Y_fit, p_fit).mean(axis=0), mean_cost, alphas)
    p = _mixed(p_irt, means or {}, blend)
    calibrator = None if calibrate is None else calibrate(p, Y)
    if calibrator is not None:
        p, p_fit = calibrator.transform(p), calibrator.transform(p_fit)
    mean_score = filled_scores(Y_fit, p_fit).mean(axis=0)
    fitted = fit_guard(p, C, Y, mean_score, mean_cost, rules) if guard else None
    return Stages(blend, calibrator, fitted, mean_score, mean_cost)


def cross_validate_stages(
    p_irt: np.ndarray,
    means: dict[int, np.ndarray] | None,
    p_fit: np.ndarray,
    Y_fit: np.ndarray,
    C_fit: np.ndarray,
    Y: np.ndarray,
    C: np.ndarray,
    alphas: Sequence[float],
    calibrators: dict[str, Any],
    random_state: int = 0,
    folds: int = CV_FOLDS,
    groups: Sequence[str] | None = None,
) -> dict[tuple[str, bool], float]:
    """Out-of-fold validation value of every (calibration name, guard on/off): the validation
    queries are split in ``folds``; each fold is routed by the stages fitted on the others, so a
    stage is judged on queries it was not tuned on (the in-sample value of a tuned guard or map is
    optimistic by construction). ``calibrators``: name -> ``calibrate`` of :func:`fit_stages`.
    ``groups`` (a task per query): whole groups make the folds (as many as there are groups, at most
    ``folds``), so each stage is judged on a task it was not tuned on, as on a new task."""
    n = len(Y)
    rng = np.random.default_rng(random_state)
    if groups is None:
        fold_of = rng.permutation(n) % max(min(folds, n), 1)
    else:
        names = sorted(set(groups))
        order = [names[i] for i in rng.permutation(len(names))]
        fold_by_name = {g: i % max(min(folds, len(names)), 1) for i, g in enumerate(order)}
        fold_of = np.asarray([fold_by_name[g] for g in groups])
    totals: dict[tuple[str, bool], float] = {(c, g): 0.0 for c in calibrators for g in (False, True)}
    for f in np.unique(fold_of):
        out, inside = fold_of == f, fold_of != f
        if not inside.any():
            continue
        sub = None if means is None else {k: v[inside] for k, v in means.items()}
        held = None if means is None else {k: v[out] for k, v in means.items()}
        blend = None
        if sub is not None:  # the blend does not depend on the calibration: chosen once per fold
            blend = _blend_of(
                p_irt[inside], sub, Y[inside], C[inside], filled_scores(Y_fit, p_fit).mean(axis=0),
                C_fit.mean(axis=0), alphas,
            )  # fmt: skip
        for name, calibrate in calibrators.items():
            st = fit_stages(
                p_irt[inside], sub, p_fit, Y_fit, C_fit, Y[inside], C[inside], alphas, calibrate, True, ("linear",),
                blend,
            )  # fmt: skip
            p_out = st.predict(p_irt[out], held or {})
            for g in (False, True):
                value = validation_value(
                    p_out, C[out], Y[out], st.mean_score, st.mean_cost, alphas, st.guard if g else None
                )
                totals[(name, g)] += value * out.sum() / n
    return totals
