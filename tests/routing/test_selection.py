"""The guard, the best single LLM, validated selection and the kNN blend, on data with known truth."""

import numpy as np
import pytest

from irtrouter.routing.neighbours import neighbour_mean
from irtrouter.routing.rule import RULES, TradeOff, choose
from irtrouter.routing.selection import ALPHA_GRID, Guard, best_single, mix
from irtrouter.routing.tuning import (
    BLEND_WEIGHTS,
    KNN_GRID,
    MARGINS,
    choose_blend,
    cross_validate_stages,
    fit_guard,
    select_by_validation,
    simplest_within,
    validation_values,
)

ALL = np.ones(4, dtype=bool)
# Irregular costs: no beta * (C_j - C_k) at a grid alpha equals a grid margin (the last test has one).
COST = np.array([0.0137, 0.2113, 0.5779, 1.0])


def routed_everywhere(guard, p_hat, rule):
    """Per grid alpha: (the guard's routing of every query, its default LLM)."""
    cost = np.broadcast_to(COST, p_hat.shape)
    for a in ALPHA_GRID:
        t = TradeOff.of(a)
        chosen = choose(p_hat, cost, t, None, None, rule)
        out, stayed, default, _, _ = guard.apply(p_hat, cost, chosen, t, rule, ALL)
        np.testing.assert_array_equal(stayed, chosen != default)
        yield a, out, default, chosen


# -- no signal: the guard is the best single LLM ---------------------------------------------------
def test_predictions_constant_across_llms_never_leave_the_default():
    """p_hat says nothing about which LLM is better (the same P for every LLM of a query), so the
    rule always picks the cheapest; on binary outcomes that switch can never beat the LLM with the
    best mean, which is the default (means taken on these same queries, so "best" is exact)."""
    rng = np.random.default_rng(0)
    truth = np.array([[0.3, 0.5, 0.65, 0.85]]) * rng.uniform(0.5, 1.0, (2000, 1))
    Y = (rng.random(truth.shape) < truth).astype(float)
    p_hat = np.repeat(rng.random((2000, 1)), 4, axis=1)
    guard = fit_guard(p_hat, np.broadcast_to(COST, Y.shape), Y, Y.mean(axis=0), COST, rules=("linear",))
    assert np.isinf(guard.margins["linear"]).all(), guard.margins
    defaults, n_switches_asked = set(), 0
    for a, out, default, chosen in routed_everywhere(guard, p_hat, "linear"):
        assert (out == default).all(), a
        assert default == best_single(Y.mean(axis=0), COST, TradeOff.of(a), ALL)
        defaults.add(default)
        n_switches_asked += int((chosen != default).sum())
    assert len(defaults) >= 3  # the default follows the trade-off
    assert n_switches_asked > 10000  # the rule asked for the cheapest LLM; the guard refused


@pytest.mark.parametrize("rule", RULES)
def test_pure_noise_predictions_never_leave_the_default(rule):
    """Scores with no query-by-LLM interaction (a query is hard or easy for every LLM alike) make
    every switch away from the best single LLM a loss, whatever p_hat says; p_hat is noise."""
    rng = np.random.default_rng(1)
    skill = np.array([0.35, 0.5, 0.6, 0.75])
    Y = skill[None, :] + rng.uniform(-0.2, 0.2, (1500, 1))  # graded scores in [0.15, 0.95]
    p_hat = rng.random(Y.shape)
    guard = fit_guard(p_hat, np.broadcast_to(COST, Y.shape), Y, Y.mean(axis=0), COST)
    assert np.isinf(guard.margins[rule]).all(), guard.margins
    n_switches_asked = 0
    for a, out, default, chosen in routed_everywhere(guard, p_hat, rule):
        assert (out == default).all(), a
        n_switches_asked += int((chosen != default).sum())
    assert n_switches_asked > 1000  # the noise did ask for many switches; the guard refused them


# -- signal: switches go through and pay -----------------------------------------------------------
SKILL = np.array([[0.9, 0.2, 0.3, 0.95], [0.2, 0.9, 0.3, 0.95], [0.3, 0.3, 0.2, 0.9]])  # topic x LLM


def topic_draw(n, seed):
    rng = np.random.default_rng(seed)
    P = SKILL[rng.integers(0, len(SKILL), n)]
    return P, (rng.random(P.shape) < P).astype(float)


def test_true_probabilities_get_through_the_guard_and_beat_the_default():
    _, Y_train = topic_draw(1500, 10)
    P, Y = topic_draw(1500, 11)
    C = np.broadcast_to(COST, P.shape)
    mean_score = Y_train.mean(axis=0)
    guard = fit_guard(P, C, Y, mean_score, COST)
    for rule in RULES:
        assert np.isfinite(guard.margins[rule]).sum() >= 10, (rule, guard.margins[rule])
    for a in (0.2, 0.5, 0.8):
        t = TradeOff.of(a)
        d = best_single(mean_score, COST, t, ALL)
        default_value = a * Y[:, d].mean() - t.beta * COST[d]
        guarded = validation_values(P, C, Y, mean_score, COST, [a], guard).mean()
        assert guarded >= default_value - 1e-12, (a, guarded, default_value)
        if a == 0.2:  # cost dominates: the cheapest LLM is best on every query, nothing to gain
            continue
        # Routing by the truth earns about 0.1 per query over the best single LLM here.
        assert guarded >= default_value + 0.05, (a, guarded, default_value)
        chosen = choose(P, C, t)
        out, _, default, margin, _ = guard.apply(P, C, chosen, t, "linear", ALL)
        assert default == d and np.isfinite(margin) and (out != d).any()
        kept = out != d
        gain = (a * P[kept, out[kept]] - t.beta * COST[out[kept]]) - (a * P[kept, d] - t.beta * COST[d])
        assert (gain > margin).all()  # what passes the guard beats the default by more than the margin


def test_validation_value_of_an_all_inf_guard_is_the_default_value():
    P, Y = topic_draw(600, 12)
    C = np.broadcast_to(COST, P.shape)
    never = Guard(Y.mean(axis=0), COST, {r: np.full(len(ALPHA_GRID), np.inf) for r in RULES}, {})
    alphas = (0.1, 0.5, 0.9)
    expected = np.mean(
        [
            a * Y[:, d].mean() - (1 - a) * COST[d]
            for a in alphas
            for d in [best_single(Y.mean(axis=0), COST, TradeOff.of(a), ALL)]
        ]
    )
    value = validation_values(P, C, Y, Y.mean(axis=0), COST, alphas, never).mean()
    assert value == pytest.approx(expected, abs=1e-12)


def test_guard_state_round_trips_and_ignores_llms_it_does_not_know():
    P, Y = topic_draw(600, 13)
    guard = fit_guard(P, np.broadcast_to(COST, P.shape), Y, Y.mean(axis=0), COST)
    back = Guard.from_state(*guard.state())
    for rule in RULES:
        np.testing.assert_array_equal(back.margins[rule], guard.margins[rule])
    np.testing.assert_array_equal(back.mean_score, guard.mean_score)
    t = TradeOff.of(0.5)
    # An LLM added after training is routed to, never defaulted to.
    assert guard.default_llm(t, np.array([False, False, False, False, True])) is None
    chosen = np.full(len(P), 2)
    out, stayed, default, _, _ = guard.apply(P, COST, chosen, t, "linear", np.array([False, False, False, False, True]))
    assert default is None and not stayed.any() and (out == chosen).all()
    assert guard.default_llm(t, np.array([True, True, True, True, True])) == guard.default_llm(t, ALL)


def test_the_guard_keeps_each_call_settings_own_default_margin_and_spread():
    """The per-call cache (default LLM, margin, multiple) is keyed by every setting that changes
    them: alternating trade-offs, rules and allowed sets get what a fresh guard computes."""
    P, Y = topic_draw(600, 13)
    guard = fit_guard(P, np.broadcast_to(COST, P.shape), Y, Y.mean(axis=0), COST)
    masks = [ALL, np.array([True, False, True, False]), np.array([False, True, False, True])]
    calls = [(TradeOff.of(a), rule, m) for a in (0.2, 0.5, 0.9) for rule in RULES for m in masks]
    for t, rule, mask in calls + calls[::-1]:
        fresh = Guard.from_state(*guard.state())
        assert guard._settings_of(t, rule, mask) == (
            fresh.default_llm(t, mask),
            fresh.margin(t, rule),
            fresh.spread(t, rule),
        )
        chosen = choose(P, np.broadcast_to(COST, P.shape), t, None, mask, rule)
        for got, want in zip(
            guard.apply(P, COST, chosen, t, rule, mask), fresh.apply(P, COST, chosen, t, rule, mask), strict=True
        ):
            np.testing.assert_array_equal(got, want)
    # A guard that learns an LLM starts with no settings of the old pool.
    assert guard.with_llm(0.5, 0.1)._settings == {}


# -- best single LLM ------------------------------------------------------------------------------
def test_best_single_respects_the_allowed_mask():
    mean_score, mean_cost = np.array([0.5, 0.9, 0.8]), np.array([0.1, 0.9, 0.3])
    t = TradeOff.of(1.0)
    assert best_single(mean_score, mean_cost, t, np.array([True, True, True])) == 1
    assert best_single(mean_score, mean_cost, t, np.array([True, False, True])) == 2
    assert best_single(mean_score, mean_cost, t, np.array([True, False, False])) == 0
    # Cost counts: at alpha 0.5 LLM 2 (0.4 - 0.15) beats LLM 0 (0.25 - 0.05) and LLM 1 (0.45 - 0.45).
    assert best_single(mean_score, mean_cost, TradeOff.of(0.5), np.array([True, True, True])) == 2


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_best_single_ties_go_to_the_cheaper_llm(order):
    mean_score, mean_cost = np.array([0.8, 0.8])[order], np.array([0.5, 0.2])[order]
    cheaper = int(np.argmin(mean_cost))
    assert best_single(mean_score, mean_cost, TradeOff.of(1.0), np.ones(2, bool)) == cheaper
    # A tie of the trade-off's value (0.9 - 0.4 == 0.7 - 0.2) also goes to the cheaper.
    s, c = np.array([0.9, 0.7])[order], np.array([0.4, 0.2])[order]
    assert best_single(s, c, TradeOff.of(0.5), np.ones(2, bool)) == int(np.argmin(c))
    # Equal in everything: the first.
    assert best_single(np.array([0.6, 0.6]), np.array([0.3, 0.3]), TradeOff.of(0.7), np.ones(2, bool)) == 0


# -- selection among candidates -------------------------------------------------------------------
def test_select_by_validation_picks_the_highest_and_records_the_table():
    best, table = select_by_validation({"mirt": 0.1234567891, "2pl": 0.31, "nirt": 0.2})
    assert best == "2pl"
    assert table == [
        {"candidate": "mirt", "validation_value": 0.123457, "chosen": False},
        {"candidate": "2pl", "validation_value": 0.31, "chosen": True},
        {"candidate": "nirt", "validation_value": 0.2, "chosen": False},
    ]
    assert select_by_validation({"a": 0.5, "b": 0.5})[0] == "a"
    assert select_by_validation({"b": 0.5, "a": 0.5})[0] == "b"
    assert select_by_validation({"a": 0.5, "b": 0.5 + 1e-14})[0] == "a"  # float noise is a tie
    assert select_by_validation({"a": 0.5, "b": 0.5 + 1e-9})[0] == "b"


def test_simplest_within_keeps_a_simpler_configuration_inside_the_noise_and_not_outside():
    rng = np.random.default_rng(3)
    base = rng.normal(0.3, 0.2, 400)
    noise = rng.normal(0.0, 0.05, 400)  # per-query spread of the difference: standard error 0.0025
    error = float(np.std(noise - noise.mean(), ddof=1)) / np.sqrt(400)
    simple, inside = base, base + (noise - noise.mean()) + 0.5 * error
    outside = base + (noise - noise.mean()) + 3.0 * error
    assert simplest_within({"none": simple, "stack": inside}, 1.0) == "none"
    assert simplest_within({"none": simple, "stack": outside}, 1.0) == "stack"
    # Tolerance 0 is the plain best; an equal simpler one still wins (ties: the first listed).
    assert simplest_within({"none": simple, "stack": inside}, 0.0) == "stack"
    assert simplest_within({"none": simple, "stack": simple.copy()}, 0.0) == "none"
    # The simplest within the noise of the best: a middle one inside it, the simplest outside it.
    worse = base - (noise - noise.mean()) - 3.0 * error  # 3.5 errors below, its difference's error 2
    assert simplest_within({"none": worse, "auto": simple, "stack": inside}, 1.0) == "auto"


# -- the kNN blend --------------------------------------------------------------------------------
def test_mix_weights_the_irt_prediction_against_the_neighbour_mean():
    rng = np.random.default_rng(20)
    p_irt, train = rng.random((30, 4)), (rng.random((200, 4)) < 0.5).astype(float)
    near = np.argsort(rng.random((30, 200)), axis=1)[:, :50]
    assert mix(p_irt, train, near, (10, 1.0)) is p_irt
    knn = neighbour_mean(train, near, 10, p_irt.mean(axis=0))
    np.testing.assert_allclose(mix(p_irt, train, near, (10, 0.0)), knn)
    np.testing.assert_allclose(mix(p_irt, train, near, (10, 0.25)), 0.25 * p_irt + 0.75 * knn)
    train[:, 2] = np.nan  # nobody observed LLM 2: the prior stands in
    prior = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(mix(p_irt, train, near, (10, 0.0), prior)[:, 2], 0.3)


def blend_case(informative_irt, seed=21):
    """Training and validation queries of known topics; the neighbours of a validation query are
    training queries of its topic. ``p_irt`` is the truth or constant."""
    rng = np.random.default_rng(seed)
    t_train, t_val = rng.integers(0, 3, 900), rng.integers(0, 3, 600)
    train = (rng.random((900, 4)) < SKILL[t_train]).astype(float)
    Y = (rng.random((600, 4)) < SKILL[t_val]).astype(float)
    same = [np.flatnonzero(t_train == t) for t in range(3)]
    near = np.stack([rng.permutation(same[t])[: max(KNN_GRID)] for t in t_val])
    p_irt = SKILL[t_val] if informative_irt else np.full((600, 4), 0.5)
    return p_irt, train, near, Y


def test_choose_blend_leans_on_neighbours_when_the_irt_model_knows_nothing():
    p_irt, train, near, Y = blend_case(informative_irt=False)
    k, w = choose_blend(p_irt, train, near, Y, np.broadcast_to(COST, Y.shape), train.mean(0), COST, (0.2, 0.5, 0.8))
    assert k in KNN_GRID and w in BLEND_WEIGHTS
    assert w < 1.0 and k >= 20  # the neighbours carry the topic; many of them average the noise


def test_choose_blend_keeps_the_irt_model_when_it_is_the_truth_and_neighbours_are_random():
    p_irt, train, _, Y = blend_case(informative_irt=True)
    rng = np.random.default_rng(22)
    near = np.stack([rng.permutation(900)[: max(KNN_GRID)] for _ in range(len(Y))])
    _, w = choose_blend(p_irt, train, near, Y, np.broadcast_to(COST, Y.shape), train.mean(0), COST, (0.2, 0.5, 0.8))
    assert w >= 0.75, w


# -- ties of predicted gain and margin are not decided by rounding --------------------------------
def test_equal_predicted_gains_get_equal_treatment():
    """Every query predicts the same gain, beta * (C_1 - C_0) = 0.4 * 0.05 = 0.02 = a grid margin,
    so the guard must switch all of them or none; which one it does may not hang on the last bit
    (without a tolerance in the comparison, 655 of these 1000 queries switched and 345 stayed)."""
    assert 0.02 in MARGINS
    rng = np.random.default_rng(0)
    p_hat = np.repeat(rng.random((1000, 1)), 2, axis=1)  # the same P for both LLMs of a query
    cost = np.array([0.05, 0.1])
    guard = Guard(np.array([0.3, 0.5]), cost, {"linear": np.full(len(ALPHA_GRID), 0.02)}, {})
    t = TradeOff.of(0.6)
    chosen = choose(p_hat, np.broadcast_to(cost, p_hat.shape), t)
    out, _, default, _, _ = guard.apply(p_hat, cost, chosen, t, "linear", np.ones(2, bool))
    assert default == 1 and (chosen == 0).all()
    assert len(set(out.tolist())) == 1, np.bincount(out)


# -- cross-validated choice of the stages ----------------------------------------------------------
def test_task_folds_judge_each_task_by_stages_tuned_on_the_other_tasks():
    """With ``groups``, every fold is whole tasks: no call that tunes a stage sees a query of the
    task it is then judged on, and each task is held out exactly once."""
    rng = np.random.default_rng(8)
    tasks = np.repeat(["algebra", "code", "history", "law", "poetry", "chess", "music"], 40)
    n = len(tasks)
    p = rng.random((n, 4))
    Y = (rng.random(p.shape) < p).astype(float)
    Y[:, 0] = np.arange(n)  # reveals the rows each tuning call saw
    seen = []

    def calibrate(p_in, Y_in):
        seen.append(Y_in[:, 0].astype(int))

    C = np.broadcast_to(COST, p.shape)
    cross_validate_stages(p, None, p, Y, C, Y, C, (0.5,), {"recording": calibrate}, folds=5, groups=list(tasks))
    assert len(seen) == 5  # 7 tasks in 5 folds
    held = [np.setdiff1d(np.arange(n), rows) for rows in seen]
    for rows, out in zip(seen, held, strict=True):
        assert not set(tasks[rows]) & set(tasks[out])
    assert sorted(t for out in held for t in set(tasks[out])) == sorted(set(tasks))


def test_out_of_fold_values_of_true_probabilities_beat_the_default_with_or_without_the_guard():
    _, Y_train = topic_draw(1500, 12)
    P, Y = topic_draw(1500, 13)
    C = np.broadcast_to(COST, P.shape)
    values = cross_validate_stages(P, None, P, Y_train, C[:1500], Y, C, (0.5, 0.8), {"none": None})
    mean_score = Y_train.mean(axis=0)
    default = np.mean(
        [a * Y[:, best_single(mean_score, COST, TradeOff.of(a), ALL)].mean() - (1 - a) * COST[
            best_single(mean_score, COST, TradeOff.of(a), ALL)] for a in (0.5, 0.8)]
    )  # fmt: skip
    value = {key: v.mean() for key, v in values.items()}
    assert value[("none", False)] > default + 0.05 and value[("none", True)] > default + 0.05, (value, default)
