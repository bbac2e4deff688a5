"""RADAR's 2PL predictor: formula, recovery of known parameters, identifiability, profile map."""

import numpy as np
import pytest
import torch

from irtrouter.errors import ConfigError
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.torch_ops import TORCH_OPS
from irtrouter.irt.twopl import TwoPLPredictor
from irtrouter.routing import IRTRouter, load_router
from tests.radar_data import ABILITY, CONFIG_IDS, configuration_catalog, configuration_results, twopl_arrays


@pytest.fixture(scope="module")
def fitted():
    Xq, Y, truth = twopl_arrays(n_queries=1500, n_configs=6, seed=0)
    model = TwoPLPredictor(learning_rate=0.05, max_epochs=200, random_state=0).fit(Xq, np.eye(6), Y)
    return model, Xq, truth


def test_torch_forward_equals_numpy_forward():
    rng = np.random.default_rng(1)
    pred = TwoPLPredictor()
    params = {k: (v + rng.normal(0, 0.5, v.shape)).astype(np.float32) for k, v in pred.init_params(12, 5, rng).items()}
    Xq, Xm = rng.normal(size=(9, 12)).astype(np.float32), np.eye(5, dtype=np.float32)
    out_np = NUMPY_OPS.sigmoid(pred.logits(NUMPY_OPS, Xq, pred.abilities(NUMPY_OPS, Xm, params), params))
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    theta_t = pred.abilities(TORCH_OPS, torch.from_numpy(Xm), tp)
    out_t = torch.sigmoid(pred.logits(TORCH_OPS, torch.from_numpy(Xq), theta_t, tp))
    np.testing.assert_allclose(out_np, out_t.numpy(), rtol=1e-5, atol=1e-6)
    # P = sigmoid(a (theta - b)) written out by hand.
    a, b = Xq @ params["w_a"] + params["c_a"], Xq @ params["w_b"] + params["c_b"]
    theta = params["w_theta"][:, 0] + params["c_theta"]
    np.testing.assert_allclose(out_np, 1 / (1 + np.exp(-a[:, None] * (theta[None, :] - b[:, None]))), rtol=1e-5)


def test_recovers_known_abilities_and_item_parameters(fitted):
    model, Xq, truth = fitted
    theta = model.abilities_[:, 0]
    assert np.corrcoef(theta, truth["theta"])[0, 1] > 0.99
    assert np.corrcoef(model.query_difficulty(Xq), truth["b"])[0, 1] > 0.99
    assert np.corrcoef(model.query_discrimination(Xq), truth["a"])[0, 1] > 0.9
    assert np.abs(model.predict_proba(Xq) - truth["P"]).mean() < 0.03


def test_abilities_are_standardised_and_discrimination_positive(fitted):
    model, Xq, _ = fitted
    theta = model.abilities_[:, 0]
    assert abs(theta.mean()) < 1e-5 and abs(theta.std() - 1) < 1e-4
    assert model.query_discrimination(Xq).mean() > 0


def test_identifiability_fix_leaves_predictions_unchanged():
    Xq, Y, _ = twopl_arrays(n_queries=300, seed=4)
    model = TwoPLPredictor(max_epochs=2).fit(Xq, np.eye(6), Y)
    rng = np.random.default_rng(0)
    # A deliberately mis-scaled, sign-flipped parameter set: the fix must not change any P.
    model.params_ = {k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32) for k, v in model.params_.items()}
    model.params_["c_a"] = np.array([-3.0], np.float32)
    model.abilities_ = model.abilities(NUMPY_OPS, np.eye(6, dtype=np.float32), model.params_)
    before = model.predict_proba(Xq)
    model._after_fit(Xq, None)
    np.testing.assert_allclose(model.predict_proba(Xq), before, atol=1e-5)
    assert model.query_discrimination(Xq).mean() > 0
    assert abs(model.abilities_.std() - 1) < 1e-4


def test_training_starts_from_the_data_not_at_random():
    # The starting values are a fit already: abilities in the true order, difficulties correlated
    # with the true ones, and a held-out BCE well below the random start's.
    Xq, Y, truth = twopl_arrays(n_queries=1500, seed=2)
    pred = TwoPLPredictor(init="data")
    random_start = pred.init_params(Xq.shape[1], Y.shape[1], np.random.default_rng(0))
    assert TwoPLPredictor().init_from_data(random_start, Xq[:1000], Y[:1000], None) is random_start
    start = pred.init_from_data(dict(random_start), Xq[:1000], Y[:1000], None)
    theta = start["w_theta"][:, 0] + start["c_theta"]
    assert (np.diff(theta) > 0).all()
    assert np.corrcoef(Xq @ start["w_b"] + start["c_b"], truth["b"])[0, 1] > 0.9

    def held_out_bce(params):
        P = NUMPY_OPS.sigmoid(pred.logits(NUMPY_OPS, Xq[1000:], pred.abilities(NUMPY_OPS, np.eye(6), params), params))
        P = np.clip(P, 1e-6, 1 - 1e-6)
        return float(-(Y[1000:] * np.log(P) + (1 - Y[1000:]) * np.log(1 - P)).mean())

    assert held_out_bce(start) < held_out_bce(random_start) - 0.1
    # Unobserved cells and zero-weight cells do not enter the start.
    holed = Y[:1000].copy()
    holed[:500, 0] = np.nan
    weights = np.ones_like(holed)
    weights[:500, 0] = 0.0
    a = pred.init_from_data(dict(random_start), Xq[:1000], holed, None)
    b = pred.init_from_data(dict(random_start), Xq[:1000], Y[:1000], weights)
    for name in ("w_theta", "w_b", "c_b"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="init must be one of random, data"):
        TwoPLPredictor(init="ridge").fit(Xq, np.eye(6), Y)


def test_profile_map_places_a_profile_by_its_similarity():
    # Profiles that encode the ability linearly: the ridge map must recover a held-out one.
    rng = np.random.default_rng(2)
    Xq, _, truth = twopl_arrays(n_queries=800, n_configs=6, seed=2)
    direction = rng.normal(size=24)
    profiles = rng.normal(0, 0.05, (7, 24)) + np.linspace(-1.5, 1.5, 7)[:, None] * direction / 4
    keep = [0, 1, 2, 4, 5, 6]
    Y7 = 1 / (1 + np.exp(-truth["a"][:, None] * (np.linspace(-1.5, 1.5, 7)[None, :] - truth["b"][:, None])))
    Y7 = (rng.random(Y7.shape) < Y7).astype(np.float32)
    model = TwoPLPredictor(learning_rate=0.05, max_epochs=100).fit(Xq, profiles[keep], Y7[:, keep])
    trained = model.abilities_[:, 0]
    held_out = float(model.profile_ability(profiles[3])[0, 0])
    assert trained[2] < held_out < trained[3]


def test_n_dims_must_be_one():
    Xq, Y, _ = twopl_arrays(n_queries=50)
    with pytest.raises(ConfigError, match="n_dims must be 1"):
        TwoPLPredictor(n_dims=3).fit(Xq, np.eye(6), Y)
    with pytest.raises(ConfigError, match="n_dims must be 1"):
        IRTRouter(predictor="2pl", n_dims=25, embedder="hashing:64").fit(
            configuration_results(30), configuration_catalog()
        )


def test_router_over_configurations_orders_budgets_and_round_trips(tmp_path):
    train = configuration_results(600, seed=0)
    router = IRTRouter(
        predictor="2pl",
        n_dims=1,
        embedder="hashing:256",
        cost_model="configuration",
        predictor_params={"learning_rate": 0.02},
    ).fit(train, configuration_catalog())
    theta = dict(zip(router.llm_ids, router.predictor_.abilities_[:, 0], strict=True))
    order = sorted(CONFIG_IDS, key=ABILITY.__getitem__)
    assert sorted(CONFIG_IDS, key=theta.__getitem__) == order
    test = configuration_results(200, seed=1, prefix="t")
    pred = router.predict(test.queries)
    level = np.array([int(t[-1]) for t in test.tasks])
    assert pred.difficulty[level == 4].mean() > pred.difficulty[level == 0].mean() + 1
    router.save(tmp_path / "r")
    again = load_router(tmp_path / "r")
    np.testing.assert_array_equal(again.predict(test.queries).p_hat, pred.p_hat)
    assert again.catalog_["large@high"].reasoning_effort == "high"
    assert again.predictor_.kind == "2pl"
