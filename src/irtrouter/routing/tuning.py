"""Tuning the routing stages on validation queries carved from the training data.

What :mod:`irtrouter.routing.selection` routes with is fitted here: the kNN blend's ``(k, w)``
(:func:`choose_blend`), the stacked ensemble (:mod:`irtrouter.routing.stacking`), the guard's
margins and spread multiples per trade-off (:func:`fit_guard`, which leaves the best single LLM only
where the validation gain clears its noise), and, for ``predictor="auto"``, each candidate's stages
judged out of fold (:func:`cross_validate_stages`: calibration, none or the stack; guard or none;
per query, so that :func:`simplest_within` can keep a simpler configuration inside the noise)
and the candidates compared by that value averaged over the trade-offs the router will serve
(:func:`select_by_validation`, which records the table). Nothing here reads a test split: the
caller carves the validation queries from train.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from irtrouter.irt.calibration import log_loss
from irtrouter.routing.neighbours import neighbour_mean
from irtrouter.routing.rule import RULES, TIE_TOLERANCE, TradeOff, choose, rule_scores
from irtrouter.routing.selection import ALPHA_GRID, Guard, best_single, gain_spread
from irtrouter.routing.stacking import Stacker, fit_stacker

K = TypeVar("K")

#: Candidate margins, in units of the rule's score (alpha + beta = 1); inf: always the default.
MARGINS: tuple[float, ...] = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, np.inf)


#: Candidate multiples ``z`` of the predicted gain's spread a switch must also beat (0: margin only).
SPREADS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4)


#: The multiples tried when the spread is a standard deviation per query and LLM (``sd``).
SD_MULTIPLES: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)


#: Grid points on each side whose validation evidence a margin pools.
SMOOTHING = 2


#: Trade-offs over which ``predictor="auto"`` compares its candidates by default.
SELECTION_ALPHAS: tuple[float, ...] = (0.2, 0.5, 0.8)


#: Neighbours and IRT weights tried by the kNN blend.
KNN_GRID: tuple[int, ...] = (5, 10, 20, 50, 100, 200)


BLEND_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


#: Warm-up pairs ``(lambda, k)`` tried by ``IRTRouter(tune_warmup=True)`` (the router's own pair too).
WARMUP_GRID: tuple[tuple[float, int], ...] = ((0.0, 5), (0.3, 5), (0.3, 20), (0.7, 5), (0.7, 20))


#: The stacked ensemble's name among the configurations cross-validated (in place of a calibration).
STACK = "stack"
#: The configuration that routes by the neighbours' task alone (:mod:`irtrouter.routing.tasks`).
TASKS = "task"


#: Standard errors of the validation gain a guard's switching must clear (below: the default LLM).
CONFIDENCE = 1.0


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
    confidence: float = CONFIDENCE,
    sd: np.ndarray | None = None,
) -> Guard:
    """Tune the margins, then (with ``spreads``) the spread multiples, on validation predictions
    ``p_val`` (calibrated), costs ``C_val`` and realised scores ``Y_val`` (NaN = unobserved) of
    queries the model was not fitted on.

    The margin comes first, alone (the plain guard); the spread multiple is then tuned with that
    margin held, so it can only raise the bar a switch must clear: where the margin keeps the
    default (``inf``) the spread changes nothing, and an uninformative predictor stays on the
    default whatever its spread (a joint choice would give validation noise one more knob).
    ``confidence``: the standard errors the pooled validation gain of the margin chosen must clear
    (else the margin is inf, always the default); 0 keeps the best margin whatever its noise.
    ``sd``: a standard deviation of P per query and LLM (an ensemble's, say) in the Beta spread's
    place, its multiples from ``SD_MULTIPLES`` (measured no better, benchmarks/guard_spread.py)."""
    allowed = np.ones(len(mean_score), dtype=bool)
    multiples_grid = (SPREADS if sd is None else SD_MULTIPLES) if spreads else (0.0,)
    margins: dict[str, np.ndarray] = {}
    multiples: dict[str, np.ndarray] = {}
    gains: dict[str, list[float]] = {}
    n = max(len(Y_val), 1)
    margins_grid = np.asarray(MARGINS)[:, None, None]
    multiples_axis = np.asarray(multiples_grid)[None, :, None]
    for rule in rules:
        # values[i, j, l]: realised gain per query of the switches that margin j and multiple l let through.
        values = np.zeros((len(ALPHA_GRID), len(MARGINS), len(multiples_grid)))
        errors = np.zeros((len(ALPHA_GRID), len(MARGINS)))  # standard error of values[i, j, 0]
        for i, a in enumerate(ALPHA_GRID):
            t = TradeOff.of(a)
            d = best_single(mean_score, mean_cost, t, allowed)
            chosen = choose(p_val, C_val, t, None, None, rule)
            scores = rule_scores(p_val, C_val, t, rule)
            predicted = scores[np.arange(len(chosen)), chosen] - scores[:, d]
            spread = gain_spread(p_val, chosen, d, t, sd)
            realised = _realised_gain(Y_val, C_val, t, chosen, d)
            # passed[j, l, q]: query q switches under margin j and multiple l.
            passed = predicted > margins_grid + multiples_axis * spread + TIE_TOLERANCE
            values[i] = np.where(passed, realised, 0.0).sum(axis=-1) / n
            errors[i] = np.where(passed[:, 0], realised, 0.0).std(axis=-1) / np.sqrt(n)
        # Neighbouring trade-offs pool their evidence (+-0.1 in alpha), so one noisy grid point does
        # not set its margin alone; ties go to the larger margin (fewer switches), so inf wins
        # unless switching earned something.
        near = [slice(max(i - SMOOTHING, 0), i + SMOOTHING + 1) for i in range(len(ALPHA_GRID))]
        pooled = [values[s].sum(axis=0) for s in near]
        best_m = [_best_index(row[:, 0]) for row in pooled]
        # Switching must beat the noise: the pooled gain must exceed CONFIDENCE standard errors
        # (summed over the neighbourhood: the sum's error is at most that, and nearly so, the
        # trade-offs pooled being close). The best of the margins on the same queries is
        # optimistic by about one error; without the test, validation noise left the best single
        # LLM (docs/BENCHMARKS.md, zeroeval ID).
        never = len(MARGINS) - 1  # MARGINS ends with inf
        best_m = [
            j if row[j, 0] > confidence * errors[s, j].sum() else never
            for row, s, j in zip(pooled, near, best_m, strict=True)
        ]
        best_z = [_best_index(row[j]) for row, j in zip(pooled, best_m, strict=True)]
        margins[rule] = np.asarray([MARGINS[j] for j in best_m], dtype=np.float64)
        multiples[rule] = np.asarray(
            [multiples_grid[k] if np.isfinite(MARGINS[j]) else 0.0 for j, k in zip(best_m, best_z, strict=True)]
        )
        gains[rule] = [round(float(values[i, j, k]), 6) for i, (j, k) in enumerate(zip(best_m, best_z, strict=True))]
    validation = {"n_queries": len(Y_val), "alphas": list(ALPHA_GRID), "gain_over_default": gains}
    return Guard(np.asarray(mean_score, np.float64), np.asarray(mean_cost, np.float64), margins, validation, multiples)


def validation_values(
    p_val: np.ndarray,
    C_val: np.ndarray,
    Y_val: np.ndarray,
    mean_score: np.ndarray,
    mean_cost: np.ndarray,
    alphas: Sequence[float],
    guard: Guard | None = None,
    sd: np.ndarray | None = None,
) -> np.ndarray:
    """Per validation query, the mean over ``alphas`` of the value of the linear routing (guarded
    when ``guard`` is given): the best single LLM's ``alpha * score - beta * C`` plus the realised
    gain of the routing over it. Its mean is what :func:`select_by_validation` compares; per query,
    two stages' values can be compared paired (:func:`simplest_within`)."""
    allowed = np.ones(len(mean_score), dtype=bool)
    total = np.zeros(len(Y_val))
    filled = filled_scores(Y_val, p_val)
    for a in alphas:
        t = TradeOff.of(a)
        d = best_single(mean_score, mean_cost, t, allowed)
        routed = choose(p_val, C_val, t, None, None, "linear")
        if guard is not None:
            routed = guard.apply(p_val, C_val, routed, t, "linear", allowed, sd=sd)[0]
        base = t.alpha * filled[:, d] - t.beta * C_val[:, d]
        total += _realised_gain(Y_val, C_val, t, routed, d) + base
    return total / len(alphas)


def best_key(values: dict[K, float]) -> K:
    """The key of the highest value (rounded to 12 digits; ties: the one listed first)."""
    order = list(values)
    return max(values, key=lambda key: (round(values[key], 12), -order.index(key)))


#: Standard errors within which a simpler stage configuration is kept over the best one out of fold.
#: 0 (the best): at 1 the Rewards moved by -4.5 to +3.4 by setting, no better on the whole
#: (docs/BENCHMARKS.md, issue 12).
SIMPLER_WITHIN = 0.0


def paired_errors(values: dict[K, np.ndarray]) -> dict[K, float]:
    """Per key, the standard error of the mean per-query difference between the best key's values
    and its own (0 for the best itself): how sure a comparison on these queries is."""
    best = best_key({key: float(v.mean()) for key, v in values.items()})
    errors = {}
    for key, v in values.items():
        diff = values[best] - v
        errors[key] = float(diff.std(ddof=1)) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return errors


def simplest_within(values: dict[K, np.ndarray], tolerance: float = SIMPLER_WITHIN) -> K:
    """The first key (they are listed simplest first) whose mean per-query value is within
    ``tolerance`` standard errors of the best key's; the error is that of the paired per-query
    difference (:func:`paired_errors`). The one-standard-error rule: the best of several
    configurations judged on the same queries is optimistic by about its noise, and a simpler one
    within that noise is as good in expectation and has fewer fitted numbers to be wrong on new
    queries. ``tolerance=0``: the best (ties: the first listed)."""
    means = {key: float(v.mean()) for key, v in values.items()}
    best = best_key(means)
    errors = paired_errors(values)
    for key in values:
        if round(means[best] - means[key], 12) <= tolerance * errors[key]:
            return key
    return best


def select_by_validation(values: dict[str, float]) -> tuple[str, list[dict[str, Any]]]:
    """The candidate of highest validation value (ties: the one listed first) and the table."""
    best = best_key(values)
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
            value = round(float(validation_values(p, C, Y, mean_score, mean_cost, alphas).mean()), 9)
            key = (-value, round(log_loss(p, Y), 9), -w, k)
            if best is None or key < best:
                best = key
    assert best is not None
    return best[3], -best[2]


@dataclass(frozen=True)
class Stages:
    """What is fitted on validation queries on top of a model: the blend and the calibration, or
    the stacked ensemble in their place, and the guard."""

    blend: tuple[int, float] | None
    calibrator: Any  # irtrouter.irt.calibration.Calibrator | None
    guard: Guard | None
    mean_score: np.ndarray
    mean_cost: np.ndarray
    stacker: Stacker | None = None

    def predict(self, p_irt: np.ndarray, means: dict[int, np.ndarray]) -> np.ndarray:
        if self.stacker is not None:
            return self.stacker.predict(p_irt, means)
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
    stack: bool = False,
    confidence: float = CONFIDENCE,
    sd: np.ndarray | None = None,
) -> Stages:
    """Fit the stages on validation predictions ``p_irt`` (and the kNN ``means``; None: no blend)
    with realised ``Y`` and costs ``C``; ``p_fit`` / ``Y_fit`` / ``C_fit``: the model's fitting
    queries, whose filled means make the default LLM. ``calibrate(p, Y)`` returns a calibrator;
    ``blend``: a blend already chosen on these queries (else chosen here when ``means`` is given).
    ``stack``: the stacked ensemble (needs ``means``) in place of the blend and the calibration;
    ``confidence``, ``sd``: the guard's (:func:`fit_guard`)."""
    mean_cost = C_fit.mean(axis=0)
    stacker, calibrator = None, None
    if stack:
        assert means is not None
        stacker, blend = fit_stacker(p_irt, means, Y), None
        p = stacker.predict(p_irt, means)
    else:
        if means is not None and blend is None:
            blend = _blend_of(p_irt, means, Y, C, filled_scores(Y_fit, p_fit).mean(axis=0), mean_cost, alphas)
        p = _mixed(p_irt, means or {}, blend)
        calibrator = None if calibrate is None else calibrate(p, Y)
        if calibrator is not None:
            p, p_fit = calibrator.transform(p), calibrator.transform(p_fit)
    mean_score = filled_scores(Y_fit, p_fit).mean(axis=0)
    fitted = fit_guard(p, C, Y, mean_score, mean_cost, rules, confidence=confidence, sd=sd) if guard else None
    return Stages(blend, calibrator, fitted, mean_score, mean_cost, stacker)


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
    stack: bool = False,
    confidence: float = CONFIDENCE,
    sd: np.ndarray | None = None,
    task_p: np.ndarray | None = None,
) -> dict[tuple[str, bool], np.ndarray]:
    """Out-of-fold validation values, per query, of every (calibration name, guard on/off): the validation
    queries are split in ``folds``; each fold is routed by the stages fitted on the others, so a
    stage is judged on queries it was not tuned on (the in-sample value of a tuned guard or map is
    optimistic by construction). ``calibrators``: name -> ``calibrate`` of :func:`fit_stages`.
    ``groups`` (a task per query): whole groups make the folds (as many as there are groups, at most
    ``folds``), so each stage is judged on a task it was not tuned on, as on a new task.
    ``stack`` (with ``means``): the stacked ensemble is judged too, as the calibration ``STACK``.
    ``sd``: the guard's (:func:`fit_guard`), sliced with the folds. ``task_p`` (the validation
    queries' task means, :class:`~irtrouter.routing.tasks.TaskMeans`): routing by it in the model's
    place, uncalibrated, is judged too, as the calibration ``TASKS``."""
    n = len(Y)
    rng = np.random.default_rng(random_state)
    if groups is None:
        fold_of = rng.permutation(n) % max(min(folds, n), 1)
    else:
        names = sorted(set(groups))
        order = [names[i] for i in rng.permutation(len(names))]
        fold_by_name = {g: i % max(min(folds, len(names)), 1) for i, g in enumerate(order)}
        fold_of = np.asarray([fold_by_name[g] for g in groups])
    names = [*calibrators, *([STACK] if stack and means is not None else [])]
    names += [TASKS] if task_p is not None else []
    per_query: dict[tuple[str, bool], np.ndarray] = {(c, g): np.zeros(n) for c in names for g in (False, True)}
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
        for name in names:
            if name == TASKS:  # the task means in the model's place: no blend, no calibration
                assert task_p is not None
                p_in, p_held, sub_in, held_in, blend_in = task_p[inside], task_p[out], None, {}, None
            else:
                p_in, p_held, sub_in, held_in, blend_in = p_irt[inside], p_irt[out], sub, held or {}, blend
            st = fit_stages(
                p_in, sub_in, p_fit, Y_fit, C_fit, Y[inside], C[inside], alphas, calibrators.get(name), True,
                ("linear",), blend_in, stack=name == STACK, confidence=confidence,
                sd=None if sd is None else sd[inside],
            )  # fmt: skip
            p_out = st.predict(p_held, held_in)
            for g in (False, True):
                per_query[(name, g)][out] = validation_values(
                    p_out, C[out], Y[out], st.mean_score, st.mean_cost, alphas, st.guard if g else None,
                    None if sd is None else sd[out],
                )  # fmt: skip
    return per_query
