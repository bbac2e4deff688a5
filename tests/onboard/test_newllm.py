"""Adding a new LLM (configuration) to a trained router from a simulated quiz or its profile."""

import numpy as np
import pytest

from irtrouter.data.catalog import LLMSpec
from irtrouter.errors import ConfigError
from irtrouter.evaluate.prediction import prediction_quality
from irtrouter.onboard.newllm import ability_from_answers, ability_prior, cost_estimates, onboard_llm, quiz_bank
from irtrouter.onboard.quiz import simulate_quiz
from irtrouter.routing import IRTRouter, load_router
from tests.radar_data import configuration_catalog, configuration_results

NEW = "large@medium"


@pytest.fixture(scope="module")
def setting():
    """A 2PL router trained without one configuration, whose real answers are held out."""
    catalog = configuration_catalog()
    train, test = configuration_results(700, seed=0), configuration_results(300, seed=1, prefix="t")
    others = [g for g in train.llm_ids if g != NEW]
    router = IRTRouter(
        predictor="2pl",
        n_dims=1,
        embedder="hashing:256",
        cost_model="configuration",
        predictor_params={"learning_rate": 0.02},
    ).fit(train.select_llms(others), catalog)
    return router, train, test, catalog


def fresh(setting, tmp_path):
    router, *_ = setting
    router.save(tmp_path / "base")
    return load_router(tmp_path / "base")


def test_quiz_places_the_new_configuration_between_its_neighbours(setting, tmp_path):
    router, train, test, catalog = setting
    X = router.embed(train.queries)
    held_out = train.select_llms([NEW])
    trace = simulate_quiz(quiz_bank(router, X), held_out.scores[:, 0], max_items=30)
    theta = trace.ability_after(30)
    known = dict(zip(router.llm_ids, router.predictor_.abilities_[:, 0], strict=True))
    assert known["large@low"] < theta[0] < known["large@high"]

    router = fresh(setting, tmp_path)
    tokens = held_out.output_tokens[list(trace.asked), 0]
    onboard_llm(router, catalog[NEW], ability=theta, output_tokens=tokens)
    assert router.llm_ids[-1] == NEW
    j = router.llm_ids.index(NEW)
    # Priced from the quiz's own output tokens, on the router's existing scale.
    expected = tokens.mean() * catalog[NEW].output_price / 1e6 / router.cost_model_.reference_
    pred = router.predict(test.queries)
    assert pred.cost[0, j] == pytest.approx(expected)
    quality = prediction_quality(test.select_llms([NEW]).scores[:, 0], pred.p_hat[:, j])
    assert quality.auc > 0.8
    router.save(tmp_path / "grown")
    again = load_router(tmp_path / "grown")
    np.testing.assert_array_equal(again.predict(test.queries).p_hat, pred.p_hat)
    assert again.catalog_[NEW].reasoning_effort == "medium"


def test_answers_at_once_give_the_map_ability_and_its_standard_error(setting):
    router, train, *_ = setting
    X = router.embed(train.queries[:200])
    y = train.select_llms([NEW]).scores[:200, 0]
    theta, se = ability_from_answers(router, X, y)
    theta_all, se_all = ability_from_answers(router, router.embed(train.queries), train.select_llms([NEW]).scores[:, 0])
    assert se_all[0] < se[0] < 0.5
    assert abs(theta[0] - theta_all[0]) < 3 * se[0]


def test_profile_only_onboarding_and_prices_from_the_catalog(setting, tmp_path):
    router = fresh(setting, tmp_path)
    _, _, test, catalog = setting
    onboard_llm(router, catalog[NEW])  # no quiz: ability from the profile, tokens from the catalog
    j = router.llm_ids.index(NEW)
    assert np.isfinite(router.predictor_.abilities_[j]).all()
    expected = catalog[NEW].expected_output_tokens * catalog[NEW].output_price / 1e6 / router.cost_model_.reference_
    assert router.predict(test.queries[:3]).cost[0, j] == pytest.approx(expected)


def test_cost_estimates_say_what_is_missing(setting):
    router, *_ = setting
    bare = LLMSpec("mystery@high", 1.0, 2.0)
    with pytest.raises(ConfigError, match="needs mystery@high's output tokens"):
        cost_estimates(router, bare)
    assert cost_estimates(router, bare, output_tokens=[10.0, np.nan, 30.0]) == {"expected_output_tokens": 20.0}


def test_priors(setting):
    router, *_ = setting
    standard, pool = ability_prior(router, "standard"), ability_prior(router, "pool", shrinkage=0.0)
    np.testing.assert_allclose(pool.mean, standard.mean, atol=1e-5)  # 2PL abilities are standardised
    np.testing.assert_allclose(pool.covariance, standard.covariance, atol=1e-4)
    with pytest.raises(ConfigError, match="unknown prior 'flat'"):
        ability_prior(router, "flat")
