"""The adaptive quiz: information-based selection, MAP updates, stopping, item banks from predictors."""

import numpy as np
import pytest

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt import MIRTPredictor, NIRTPredictor
from irtrouter.irt.items import AbilityPrior, ItemBank, ability_posterior, p_standard_deviation
from irtrouter.irt.twopl import TwoPLPredictor
from irtrouter.onboard.quiz import AdaptiveQuiz, item_scores, map_ability, simulate_quiz
from tests.helpers import mirt_data
from tests.radar_data import twopl_arrays


def twopl_bank(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return ItemBank(a[:, None], a * b)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_fisher_selection_picks_the_analytically_most_informative_item():
    # (a, b): information a^2 P (1 - P) at theta = 0 is 0.25, 1.0, 0.0099, 0.406; at theta = 1 the
    # steep item centred on 1 wins (2.25 against 0.42 for the second).
    a, b = [1.0, 2.0, 2.0, 3.0], [0.0, 0.0, 3.0, 1.0]
    bank = twopl_bank(a, b)
    for centre, expected in ((0.0, 1), (1.0, 3)):
        info = (
            np.array(a) ** 2
            * sigmoid(np.array(a) * (centre - np.array(b)))
            * (1 - sigmoid(np.array(a) * (centre - np.array(b))))
        )
        assert int(np.argmax(info)) == expected
        quiz = AdaptiveQuiz(bank, prior=AbilityPrior(np.array([centre]), np.eye(1)), max_items=4)
        assert quiz.next_items(1) == [expected]
        np.testing.assert_allclose(item_scores(bank, np.array([centre]), np.eye(1)), info)
    # A batch at theta = 0 is the items in decreasing information.
    assert AdaptiveQuiz(bank, max_items=4).next_items(4) == [1, 3, 0, 2]


@pytest.mark.parametrize("criterion", ["d-optimal", "trace"])
def test_multidimensional_selection_matches_the_optimal_design_by_brute_force(criterion):
    rng = np.random.default_rng(0)
    bank = ItemBank(rng.normal(0, 1, (60, 3)), rng.normal(0, 1, 60))
    theta = rng.normal(0, 0.5, 3)
    L = rng.normal(0, 0.5, (3, 3))
    M = L @ L.T + np.eye(3)
    p = sigmoid(bank.logits(theta))
    updated = [M + p[i] * (1 - p[i]) * np.outer(bank.A[i], bank.A[i]) for i in range(bank.n_items)]
    if criterion == "d-optimal":
        best = int(np.argmax([np.linalg.det(U) for U in updated]))
    else:
        best = int(np.argmin([np.trace(np.linalg.inv(U)) for U in updated]))
    assert int(np.argmax(item_scores(bank, theta, M, criterion))) == best


def test_selection_prefers_the_direction_it_knows_least_about():
    bank = ItemBank(np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2))
    prior = AbilityPrior(np.zeros(2), np.diag([1.0, 0.1]))  # dimension 2 is already well known
    for criterion in ("d-optimal", "trace"):
        assert AdaptiveQuiz(bank, prior, criterion=criterion, max_items=2).next_items(1) == [0]


def test_map_update_recovers_a_known_scalar_ability():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.7, 2.5, 3000), rng.normal(0, 1.5, 3000)
    bank = twopl_bank(a, b)
    true = 0.8
    y = (rng.random(3000) < sigmoid(a * (true - b))).astype(float)
    quiz = AdaptiveQuiz(bank, max_items=300)
    state = quiz.run(lambda i: y[i])
    se = float(state.standard_error[0])
    assert se < 0.12
    assert abs(state.ability[0] - true) < 3 * se
    # The estimate is a stationary point of the log posterior.
    idx = np.array(state.asked)
    grad = np.sum(a[idx] * (y[idx] - sigmoid(a[idx] * (state.ability[0] - b[idx])))) - state.ability[0]
    assert abs(grad) < 1e-6


def test_map_update_recovers_a_known_multidimensional_ability():
    rng = np.random.default_rng(2)
    bank = ItemBank(rng.normal(0.5, 1, (4000, 3)), rng.normal(0, 1, 4000))
    true = np.array([1.0, -0.5, 0.3])
    y = (rng.random(4000) < sigmoid(bank.logits(true))).astype(float)
    theta, precision = map_ability(bank, np.arange(4000), y, AbilityPrior.standard(3))
    se = np.sqrt(np.diag(np.linalg.inv(precision)))
    assert (np.abs(theta - true) < 4 * se).all() and (se < 0.1).all()


def test_all_correct_answers_keep_a_finite_estimate():
    bank = twopl_bank(np.ones(10), np.linspace(-1, 1, 10))
    theta, _ = map_ability(bank, np.arange(10), np.ones(10), AbilityPrior.standard(1))
    assert np.isfinite(theta).all() and 0 < theta[0] < 5


def test_adaptive_quiz_estimates_abilities_better_than_a_uniform_one():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.5, 2000), rng.normal(0, 2.0, 2000)
    bank = twopl_bank(a, b)
    errors = {"fisher": [], "uniform": []}
    for k, true in enumerate(rng.normal(0, 1.2, 40)):
        y = (rng.random(2000) < sigmoid(a * (true - b))).astype(float)
        for selection in errors:
            trace = simulate_quiz(bank, y, selection=selection, max_items=15, random_state=k)
            errors[selection].append(trace.ability_after(15)[0] - true)
    rmse = {s: float(np.sqrt(np.mean(np.square(e)))) for s, e in errors.items()}
    assert rmse["fisher"] < 0.8 * rmse["uniform"]


def test_standard_error_target_stops_the_quiz_early():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(1, 2, 500), rng.normal(0, 1, 500)
    y = (rng.random(500) < sigmoid(a * (0.3 - b))).astype(float)
    trace = simulate_quiz(twopl_bank(a, b), y, max_items=200, se_target=0.4)
    assert len(trace.asked) < 200
    assert trace.standard_errors[-1] <= 0.4 < trace.standard_errors[-2]
    assert (np.diff(trace.standard_errors) < 0.05).all()  # more answers, (almost) never less certain


def test_simulation_asks_only_observed_items_and_reports_pool_indices():
    bank = twopl_bank(np.ones(6), np.arange(6.0))
    scores = np.array([1.0, np.nan, 0.0, np.nan, 1.0, 0.0])
    trace = simulate_quiz(bank, scores, selection="uniform", max_items=10)
    assert sorted(trace.asked) == [0, 2, 4, 5]
    assert [scores[i] for i in trace.asked] == list(trace.scores)
    np.testing.assert_array_equal(trace.ability_after(100), trace.abilities[-1])


def test_item_bank_from_linear_predictors_reproduces_their_logits():
    Xq, Y, _ = twopl_arrays(n_queries=200, seed=5)
    twopl = TwoPLPredictor(max_epochs=2).fit(Xq, np.eye(6), Y)
    Xm_q, Xm_m, Ym, _ = mirt_data(n_queries=200, n_llms=4, n_dims=3, seed=5)
    mirt = MIRTPredictor(n_dims=3, max_epochs=2).fit(Xm_q, Xm_m, Ym)
    for model, X in ((twopl, Xq), (mirt, Xm_q)):
        bank = ItemBank.from_predictor(model, X)
        logits = np.stack([bank.logits(t) for t in model.abilities_], axis=1)
        p = model.predict_proba(X)
        np.testing.assert_allclose(sigmoid(logits), p, atol=1e-5)
    np.testing.assert_allclose(ItemBank.from_predictor(twopl, Xq).A[:, 0], twopl.query_discrimination(Xq), rtol=1e-5)


def test_item_bank_refuses_a_predictor_that_is_not_linear_in_the_ability():
    Xq, Xm, Y, _ = mirt_data(n_queries=100, n_llms=3, seed=6)
    ctx = (np.random.default_rng(0).random((100, 25)) < 0.2).astype(np.float32)
    nirt = NIRTPredictor(max_epochs=1).fit(Xq, Xm, Y, context=ctx)
    with pytest.raises(ConfigError, match=r"linear in the ability.*nirt is not"):
        ItemBank.from_predictor(nirt, Xq)


def test_bad_quiz_settings_are_named():
    bank = twopl_bank([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ConfigError, match="unknown quiz selection 'random'"):
        AdaptiveQuiz(bank, selection="random")
    with pytest.raises(ConfigError, match="unknown information criterion"):
        AdaptiveQuiz(bank, criterion="e-optimal")
    with pytest.raises(ConfigError, match="budget must be a whole number >= 1"):
        AdaptiveQuiz(bank, max_items=0)
    with pytest.raises(ConfigError, match="prior has 2 dimensions"):
        AdaptiveQuiz(bank, prior=AbilityPrior.standard(2))
    with pytest.raises(ConfigError, match="positive definite"):
        AbilityPrior(np.zeros(1), np.zeros((1, 1)))
    quiz = AdaptiveQuiz(bank)
    quiz.record(0, 1.0)
    with pytest.raises(DataError, match="already answered"):
        quiz.record(0, 1.0)
    with pytest.raises(DataError, match=r"scores must lie in \[0, 1\]"):
        quiz.record(1, 2.0)
    assert quiz.state.asked == [0] and quiz.state.scores == [1.0]  # the bad answer left no trace
    with pytest.raises(DataError, match="not in the bank of 2"):
        quiz.record(5, 1.0)


def test_the_training_posterior_of_the_abilities_counts_each_llms_own_answers():
    """The Laplace precision is the prior's plus p (1 - p) a a^T over the queries an LLM answered
    (brute force), so hiding answers of one LLM widens its standard error alone; the spread of P
    it implies is the delta method's (checked against a finite difference along the ability)."""
    Xq, Y, _ = twopl_arrays(n_queries=300, seed=7)
    model = TwoPLPredictor(max_epochs=50, learning_rate=0.05).fit(Xq, np.eye(6), Y)
    prior = AbilityPrior.standard(1)
    full = ability_posterior(model, Xq, Y, prior)
    bank, theta = ItemBank.from_predictor(model, Xq), model.abilities_.astype(np.float64)
    for j in range(6):
        p = sigmoid(bank.logits(theta[j]))
        expected = prior.precision + (bank.A * (p * (1 - p))[:, None]).T @ bank.A
        np.testing.assert_allclose(full[j], expected, rtol=1e-6)
    holed = Y.astype(np.float64).copy()
    holed[::2, 2] = np.nan
    partial = ability_posterior(model, Xq, holed, prior)
    se_full, se_partial = (np.sqrt(1 / c[:, 0, 0]) for c in (full, partial))
    assert se_partial[2] > 1.3 * se_full[2]
    np.testing.assert_allclose(np.delete(se_partial, 2), np.delete(se_full, 2))
    sd = p_standard_deviation(model, Xq[:20], full)
    h = 1e-4
    slope = (
        sigmoid(bank.take(range(20)).logits(theta[2] + h)) - sigmoid(bank.take(range(20)).logits(theta[2] - h))
    ) / (2 * h)
    np.testing.assert_allclose(sd[:, 2], np.abs(slope) * se_full[2], rtol=1e-3)
    with pytest.raises(DataError, match="scores have shape"):
        ability_posterior(model, Xq, Y[:, :3], prior)
