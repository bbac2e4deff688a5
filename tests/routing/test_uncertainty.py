"""Decisions under uncertainty: the guard's spread term (routing.selection.gain_spread) and the
out-of-fold judgement of the stages tuned on validation queries."""

import numpy as np
import pytest

from irtrouter.routing.rule import RULES, TradeOff, choose
from irtrouter.routing.selection import ALPHA_GRID, Guard, gain_spread
from irtrouter.routing.tuning import CONFIDENCE, SD_MULTIPLES, SPREADS, cross_validate_stages, fit_guard

ALL = np.ones(4, dtype=bool)
COST = np.array([0.0137, 0.2113, 0.5779, 1.0])


@pytest.mark.parametrize("rule", RULES)
def test_uninformative_predictions_pick_the_default_llm_with_the_spread_tuned(rule):
    """p_hat is noise (independent of the outcomes, different per LLM), and the scores have no
    query-by-LLM interaction (a query is easy or hard for every LLM alike), so every switch away
    from the LLM of best mean loses on every query: with the spread multiple tuned too, no switch
    clears the bar and every query goes to the default LLM. (On binary outcomes a switch near the
    crossover of two LLMs can win on validation by luck; that is the margin's noise, not this claim.)"""
    rng = np.random.default_rng(7)
    skill = np.array([0.35, 0.5, 0.6, 0.75])
    Y = skill[None, :] + rng.uniform(-0.2, 0.2, (2000, 1))
    p_hat = rng.random(Y.shape)
    C = np.broadcast_to(COST, Y.shape)
    guard = fit_guard(p_hat, C, Y, Y.mean(axis=0), COST, spreads=True)
    assert np.isinf(guard.margins[rule]).all(), guard.margins
    asked = 0
    for a in ALPHA_GRID:
        t = TradeOff.of(a)
        chosen = choose(p_hat, C, t, None, None, rule)
        out, _, default, _, _ = guard.apply(p_hat, C, chosen, t, rule, ALL)
        assert (out == default).all(), a
        asked += int((chosen != default).sum())
    assert asked > 1000  # the noise asked for switches; the guard refused them all


def test_the_spread_only_raises_the_bar():
    """With the same margins, a guard with a spread multiple lets through a subset of what the plain
    guard lets through, and removes exactly the switches whose gain is inside the spread."""
    rng = np.random.default_rng(3)
    p = rng.random((3000, 4))
    C = np.broadcast_to(COST, p.shape)
    margins = {"linear": np.full(len(ALPHA_GRID), 0.01)}
    plain = Guard(np.array([0.3, 0.5, 0.6, 0.7]), COST, margins, {})
    wary = Guard(plain.mean_score, COST, margins, {}, {"linear": np.full(len(ALPHA_GRID), 0.2)})
    removed = 0
    for a in (0.3, 0.5, 0.8):
        t = TradeOff.of(a)
        chosen = choose(p, C, t)
        _, stayed_plain, d, _, by_spread_plain = plain.apply(p, C, chosen, t, "linear", ALL)
        _, stayed_wary, d2, _, by_spread = wary.apply(p, C, chosen, t, "linear", ALL)
        assert d == d2
        assert not (stayed_plain & ~stayed_wary).any()  # nothing the plain guard kept is let through
        extra = stayed_wary & ~stayed_plain
        # What the spread held back is what the wary guard says its spread term kept.
        np.testing.assert_array_equal(by_spread, extra)
        assert not by_spread_plain.any()
        gain = (a * p[np.arange(len(p)), chosen] - t.beta * COST[chosen]) - (a * p[:, d] - t.beta * COST[d])
        bar = 0.01 + 0.2 * gain_spread(p, chosen, d, t)
        np.testing.assert_array_equal(extra, (chosen != d) & (gain > 0.01 + 1e-9) & ~(gain > bar + 1e-9))
        removed += int(extra.sum())
    assert removed > 100  # the spread did hold some switches back


def test_the_spread_is_widest_between_two_predictions_near_one_half():
    p = np.array([[0.5, 0.5, 0.99, 0.01]])
    t = TradeOff.of(0.8)
    wide = gain_spread(p, np.array([1]), 0, t)[0]
    narrow = gain_spread(p, np.array([3]), 2, t)[0]
    assert wide == pytest.approx(0.8 * np.sqrt(0.5))
    assert narrow == pytest.approx(0.8 * np.sqrt(2 * 0.99 * 0.01))
    assert narrow < wide / 5


def test_an_ensembles_standard_deviation_can_take_the_beta_spreads_place():
    p = np.array([[0.5, 0.5, 0.99, 0.01]])
    sd = np.array([[0.0, 0.03, 0.1, 0.2]])
    t = TradeOff.of(0.8)
    assert gain_spread(p, np.array([1]), 0, t, sd)[0] == pytest.approx(0.8 * 0.03)
    assert gain_spread(p, np.array([3]), 2, t, sd)[0] == pytest.approx(0.8 * np.sqrt(0.1**2 + 0.2**2))


def test_the_guard_tuned_on_an_ensembles_spread_holds_back_the_queries_its_members_disagree_on():
    """Half the queries are predicted by the truth (the members agree: sd 0), half by noise (they
    disagree: sd 0.3). The Beta spread cannot tell the halves apart; tuned on the ensemble's
    standard deviation, the guard lets switches through on the first half only."""
    rng = np.random.default_rng(11)
    n = 3000
    truth = np.array([0.2, 0.45, 0.6, 0.8])[rng.integers(0, 4, (n, 4))]
    Y = (rng.random(truth.shape) < truth).astype(float)
    noisy = np.arange(n) >= n // 2
    p_hat = np.where(noisy[:, None], rng.random(truth.shape), truth)
    sd = np.where(noisy[:, None], 0.3, 0.0) * np.ones_like(p_hat)
    C = np.broadcast_to(COST, p_hat.shape)
    mean_score = Y.mean(axis=0)
    guard = fit_guard(p_hat, C, Y, mean_score, COST, ("linear",), sd=sd)
    i = ALPHA_GRID.index(0.8)
    assert guard.spreads["linear"][i] in SD_MULTIPLES and guard.spreads["linear"][i] > 0
    t = TradeOff.of(0.8)
    chosen = choose(p_hat, C, t)
    out, _, d, _, _ = guard.apply(p_hat, C, chosen, t, "linear", ALL, sd=sd)
    assert (out[noisy] == d).all() and (chosen[noisy] != d).sum() > 500  # the noise asked, was refused
    assert (out[~noisy] != d).sum() > 200  # the informed half still switches


def test_spread_multiples_round_trip_and_older_guards_load_without_them():
    rng = np.random.default_rng(0)
    p = rng.random((500, 4))
    Y = (rng.random(p.shape) < p).astype(float)
    guard = fit_guard(p, np.broadcast_to(COST, p.shape), Y, Y.mean(axis=0), COST)
    assert set(guard.spreads) == set(RULES)
    assert all(set(z.tolist()) <= set(SPREADS) for z in guard.spreads.values())
    config, arrays = guard.state()
    again = Guard.from_state(config, arrays)
    for rule in RULES:
        np.testing.assert_array_equal(again.spreads[rule], guard.spreads[rule])
    older = Guard.from_state(config, {k: v for k, v in arrays.items() if not k.startswith("spreads.")})
    assert older.spread(TradeOff.of(0.5), "linear") == 0.0


def test_cross_validation_judges_every_fold_by_stages_tuned_without_it():
    """Each call that fits a stage sees the validation queries of all folds but one; across the
    folds every query is held out exactly once (no stage is judged on what tuned it)."""
    rng = np.random.default_rng(5)
    n = 403
    p = rng.random((n, 4))
    Y = (rng.random(p.shape) < p).astype(float)
    Y[:, 0] = np.arange(n)  # column 0 carries each query's row number, so the calls reveal the rows
    seen: list[np.ndarray] = []

    def calibrate(p_in, Y_in):
        seen.append(Y_in[:, 0].astype(int))
        return None

    C = np.broadcast_to(COST, p.shape)
    values = cross_validate_stages(p, None, p, Y, C, Y, C, (0.5,), {"recording": calibrate}, folds=5)
    assert set(values) == {("recording", False), ("recording", True)}
    assert len(seen) == 5
    held_out = [np.setdiff1d(np.arange(n), rows) for rows in seen]
    for rows, out in zip(seen, held_out, strict=True):
        assert len(np.intersect1d(rows, out)) == 0 and 70 <= len(out) <= 90
    np.testing.assert_array_equal(np.sort(np.concatenate(held_out)), np.arange(n))


def test_switching_on_luck_is_refused_by_the_confidence_bound():
    """Four LLMs of the same skill on binary outcomes, p_hat noise: some seeds' validation queries
    reward a switch by luck, and the best of the margins would take it; the confidence bound
    (the pooled gain must beat one standard error, the default) keeps every seed on the default LLM."""

    def finite_margins(**confidence):
        counts = []
        for seed in range(8):
            rng = np.random.default_rng(seed)
            Y = (rng.random((400, 4)) < 0.6).astype(float)
            guard = fit_guard(
                rng.random(Y.shape), np.broadcast_to(COST, Y.shape), Y, Y.mean(axis=0), COST, **confidence
            )
            counts.append(int(np.isfinite(guard.margins["linear"]).sum()))
        return counts

    assert CONFIDENCE == 1.0
    assert finite_margins() == [0] * 8
    assert sum(finite_margins(confidence=0.0)) > 0  # without the bound, luck switches on some seeds
