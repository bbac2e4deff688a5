"""LLM Bandit stage 1: the variational identity model's loss terms, formulas and behaviour."""

import math

import numpy as np
import pytest
import torch

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.identity import (
    IdentityIRTPredictor,
    kl_to_standard_normal,
    mean_preserving_threshold,
    orthonormal_basis,
    pairwise_bce,
)
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.torch_ops import TORCH_OPS
from irtrouter.routing import IRTRouter
from tests.helpers import TOPIC_LLMS


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_threshold_preserves_the_mean_score():
    assert mean_preserving_threshold(np.array([0.0, 1.0, 1.0, 0.0, np.nan])) == 0.0  # 0/1 data unchanged
    # mean 0.52: "> 0.2" keeps 3 of 5 (0.6), "> 0.5" keeps 2 of 5 (0.4); 0.6 is closer.
    assert mean_preserving_threshold(np.array([0.0, 0.2, 0.5, 0.9, 1.0])) == 0.2
    # mean 0.35 of [0.1, 0.2, 0.3, 0.8]: "> 0.3" keeps 1 of 4 (0.25) vs "> 0.2" 2 of 4 (0.5).
    assert mean_preserving_threshold(np.array([[0.1, 0.2], [0.3, 0.8]])) == 0.3
    assert mean_preserving_threshold(np.ones(3)) == 0.0  # every label stays 1
    with pytest.raises(DataError, match="no observed"):
        mean_preserving_threshold(np.array([np.nan]))


def test_kl_against_hand_values():
    mu = np.array([[1.0, 0.0], [0.0, -2.0]])
    sigma = np.array([[1.0, 0.5], [2.0, 1.0]])
    # 0.5 * sum(sigma^2 + mu^2 - 1 - 2 log sigma), entry by entry:
    hand = 0.5 * ((1 + 1 - 1 - 0) + (0.25 - 1 - 2 * math.log(0.5)) + (4 - 1 - 2 * math.log(2)) + (1 + 4 - 1))
    assert float(kl_to_standard_normal(NUMPY_OPS, mu, sigma)) == pytest.approx(hand, abs=1e-12)
    torch_value = kl_to_standard_normal(TORCH_OPS, torch.tensor(mu), torch.tensor(sigma))
    assert float(torch_value) == pytest.approx(hand, abs=1e-12)
    assert float(kl_to_standard_normal(NUMPY_OPS, np.zeros((3, 4)), np.ones((3, 4)))) == 0.0


def test_pairwise_bce_against_hand_values():
    g = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 9.0]])
    scores = np.array([[1.0, 0.5, 0.5], [0.0, 1.0, -1.0]])  # -1: unobserved
    # Query 0: 0 beats 1 and 2 (1 and 2 tie: no pair). Query 1: 1 beats 0; LLM 2 unobserved.
    pairs = [2.0 - 0.0, 2.0 - (-1.0), 1.5 - 0.5]
    hand = float(np.mean([-math.log(sigmoid(d)) for d in pairs]))
    assert float(pairwise_bce(NUMPY_OPS, g, scores)) == pytest.approx(hand, abs=1e-12)
    assert float(pairwise_bce(TORCH_OPS, torch.tensor(g), torch.tensor(scores))) == pytest.approx(hand, abs=1e-12)
    assert float(pairwise_bce(NUMPY_OPS, g, np.array([[1.0, 1.0, -1.0], [0.0, -1.0, -1.0]]))) == 0.0


def tiny_model():
    """A hand-set model: hidden width 1, so f = w_f * relu(W_2 * relu(W_e x + W_i I + b_1)) + c_f."""
    model = IdentityIRTPredictor(n_dims=1, hidden_units=1)
    model.params_ = {
        "W_e": np.array([[1.0, 0.0]], np.float32),
        "W_i": np.array([[1.0]], np.float32),
        "b_1": np.zeros(1, np.float32),
        "W_2": np.array([[2.0]], np.float32),
        "b_2": np.zeros(1, np.float32),
        "w_f": np.array([1.0], np.float32),
        "c_f": np.array([-1.0], np.float32),
        "w_g": np.array([0.5], np.float32),
        "c_g": np.zeros(1, np.float32),
    }
    model.abilities_ = np.array([[0.5], [1.5]], np.float32)
    model.params_["pool_mu"] = model.abilities_.copy()
    model.identity_std_ = np.array([[1.0], [0.5]], np.float32)
    model.llm_ids_ = ("a", "b")
    model.threshold_ = 0.4
    return model


def test_loss_terms_against_hand_values():
    model = tiny_model()
    X = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    Y = np.array([[0.9, 0.3], [0.2, np.nan]])
    # z = relu(2 relu(x0 + I)): f(q0, a) = 2*1.5 - 1 = 2, f(q0, b) = 2*2.5 - 1 = 4, f(q1, a) = 2*0.5 - 1 = 0.
    # Labels at eta* = 0.4: (1, 0), (0, unobserved).
    bce = np.mean([-math.log(sigmoid(2.0)), -math.log(1 - sigmoid(4.0)), -math.log(1 - sigmoid(0.0))])
    # g = 0.5 z: q0 has a (0.9) beating b (0.3): g_a - g_b = 0.5 * (3 - 5) = -1.
    pair = -math.log(sigmoid(-1.0))
    kl = 0.5 * ((1 + 0.25 - 1 - 0) + (0.25 + 2.25 - 1 - 2 * math.log(0.5)))
    terms = model.loss_terms(X, Y)
    assert terms["bce"] == pytest.approx(bce, abs=1e-6)
    assert terms["pairwise"] == pytest.approx(pair, abs=1e-6)
    assert terms["kl"] == pytest.approx(kl, abs=1e-6)
    np.testing.assert_allclose(model.predict_proba(X), [[sigmoid(2), sigmoid(4)], [sigmoid(0), sigmoid(2)]], rtol=1e-6)


def test_training_penalty_is_pairwise_plus_weighted_kl():
    model = IdentityIRTPredictor(n_dims=3, hidden_units=8, pairwise_weight=0.7)
    rng = np.random.default_rng(0)
    params = {k: torch.from_numpy(v) for k, v in model.init_params(5, 4, rng).items()}
    params["M_rho"] = torch.from_numpy(rng.normal(0, 0.3, (4, 3)).astype(np.float32))
    model.kl_weight_ = 0.01
    basis = torch.eye(4)  # one-hot rows: M_mu and M_rho hold each LLM's mu and rho directly
    X = torch.from_numpy(rng.normal(size=(6, 5)).astype(np.float32))
    theta = model.sample_abilities(TORCH_OPS, basis, params)
    scores = torch.from_numpy(rng.choice([-1.0, 0.0, 0.5, 1.0], size=(6, 4)).astype(np.float32))
    got = model.penalty(TORCH_OPS, X, basis, theta, params, scores)
    mu = (basis @ params["M_mu"]).numpy()
    sigma = torch.nn.functional.softplus(params["c_rho"] + params["M_rho"]).numpy()
    hand_kl = 0.5 * np.sum(sigma**2 + mu**2 - 1 - 2 * np.log(sigma))
    g = model.pairwise_logits(NUMPY_OPS, X.numpy(), theta.numpy(), {k: v.numpy() for k, v in params.items()})
    s = scores.numpy()
    diffs = [g[i, a] - g[i, b] for i in range(6) for a in range(4) for b in range(4) if s[i, a] > s[i, b] >= 0]
    hand_pair = np.mean([-math.log(sigmoid(d)) for d in diffs])
    assert float(got) == pytest.approx(0.7 * hand_pair + 0.01 * hand_kl, rel=1e-5)


def test_sampled_identities_follow_the_posterior():
    model = IdentityIRTPredictor(n_dims=2)
    params = {
        "M_mu": torch.tensor([[1.0, -1.0], [0.0, 2.0], [0.5, 0.5]]),
        "M_rho": torch.zeros(3, 2),
        "c_rho": torch.tensor([0.0, 1.0]),
    }
    basis = torch.from_numpy(orthonormal_basis(np.array([[1.0, 0.2, 0.0], [0.3, 1.0, 0.5]])))
    torch.manual_seed(0)
    draws = torch.stack([model.sample_abilities(TORCH_OPS, basis, params) for _ in range(4000)])
    mean, std = draws.mean(0), draws.std(0)
    np.testing.assert_allclose(mean.numpy(), (basis @ params["M_mu"]).numpy(), atol=0.06)
    sigma = torch.nn.functional.softplus(params["c_rho"]).expand(2, 2)
    np.testing.assert_allclose(std.numpy(), sigma.numpy(), rtol=0.05)
    # Independent across LLMs despite correlated profiles: the basis rows are orthonormal.
    corr = np.corrcoef(draws[:, 0, 0].numpy(), draws[:, 1, 0].numpy())[0, 1]
    assert abs(corr) < 0.06


def test_orthonormal_basis_is_orthonormal_and_permutation_equivariant(caplog):
    rng = np.random.default_rng(1)
    P = rng.normal(size=(5, 12))
    B = orthonormal_basis(P)
    np.testing.assert_allclose(B @ B.T, np.eye(5), atol=1e-5)
    perm = [3, 0, 4, 1, 2]
    np.testing.assert_allclose(orthonormal_basis(P[perm]), B[perm], atol=1e-5)
    np.testing.assert_array_equal(orthonormal_basis(np.vstack([P[:2], P[:1]])), np.eye(3))  # duplicate profile
    assert "linearly dependent" in caplog.text


def test_torch_and_numpy_formulas_agree_and_the_gradient_is_exact():
    model = IdentityIRTPredictor(n_dims=4, hidden_units=16)
    rng = np.random.default_rng(2)
    params = model.init_params(10, 3, rng)
    X = rng.normal(size=(7, 10)).astype(np.float32)
    theta = rng.normal(size=(3, 4)).astype(np.float32)
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    for method in (model.logits, model.pairwise_logits):
        np.testing.assert_allclose(
            method(NUMPY_OPS, X, theta, params),
            method(TORCH_OPS, torch.from_numpy(X), torch.from_numpy(theta), tp).numpy(),
            rtol=1e-5,
            atol=1e-5,
        )
    model.params_ = params
    identity = torch.from_numpy(theta[0]).requires_grad_()
    model.logits(TORCH_OPS, torch.from_numpy(X), identity[None], tp)[:, 0].sum().backward()
    grads = model.identity_gradient(X, theta[0])
    np.testing.assert_allclose(grads.sum(axis=0), identity.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def identity_router(topic_data):
    train, _, catalog = topic_data
    router = IRTRouter(
        predictor="identity",
        n_dims=4,
        embedder="hashing:128",
        predictor_params={"learning_rate": 0.01, "max_epochs": 40},
    )
    return router.fit(train, catalog)


def test_identity_model_learns_who_is_good_at_what(identity_router, topic_data):
    _, test, _ = topic_data
    pred = identity_router.predict(test.queries)
    tasks = np.array(test.tasks)
    by = {m: j for j, m in enumerate(TOPIC_LLMS)}
    p = pred.p_hat
    assert p[tasks == "math", by["math-small"]].mean() > p[tasks == "math", by["code-small"]].mean() + 0.3
    assert p[tasks == "code", by["code-small"]].mean() > p[tasks == "code", by["math-small"]].mean() + 0.3
    assert p[tasks == "history", by["big"]].mean() > p[tasks == "history", by["weak-small"]].mean() + 0.3
    predictor = identity_router.predictor_
    terms = predictor.loss_terms(identity_router.embed(test.queries), test.scores)
    # Held-out BCE beats always predicting the training success rate.
    rate = float(np.nanmean(topic_data[0].scores))
    baseline = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    assert terms["bce"] < baseline - 0.1
    assert predictor.identity_std_.shape == predictor.abilities_.shape and (predictor.identity_std_ > 0).all()


def test_graded_scores_are_binarised_at_the_mean_preserving_threshold():
    rng = np.random.default_rng(0)
    Xq = rng.normal(size=(60, 8)).astype(np.float32)
    Y = rng.choice([0.0, 0.25, 0.5, 1.0], size=(60, 3), p=[0.4, 0.2, 0.2, 0.2])
    model = IdentityIRTPredictor(n_dims=2, hidden_units=8, max_epochs=2).fit(Xq, np.eye(3, 5), Y)
    assert model.threshold_ == mean_preserving_threshold(Y)
    assert model.kl_weight_ == pytest.approx(1 / Y.size)


def test_state_round_trip_and_adding_an_llm(identity_router):
    predictor = identity_router.predictor_
    config, arrays = predictor.state()
    again = IdentityIRTPredictor.from_state(config, arrays)
    X = identity_router.embed(["solve the integral equation", "python list loop"])
    np.testing.assert_array_equal(again.predict_proba(X), predictor.predict_proba(X))
    np.testing.assert_array_equal(again.identity_std_, predictor.identity_std_)
    assert again.threshold_ == predictor.threshold_
    np.testing.assert_array_equal(again.query_difficulty(X), predictor.query_difficulty(X))
    again.add_llm("new", np.zeros(4), std=np.full(4, 0.5))
    assert again.predict_proba(X).shape == (2, 5) and again.identity_std_[-1].tolist() == [0.5] * 4
    # Difficulty is measured against the trained pool, so adding an LLM does not change it.
    np.testing.assert_array_equal(again.query_difficulty(X), predictor.query_difficulty(X))


def test_errors(identity_router):
    with pytest.raises(ConfigError, match="quiz"):
        identity_router.predictor_.profile_ability(np.zeros((1, 128)))
    with pytest.raises(ConfigError, match="context"):
        IdentityIRTPredictor().fit(np.zeros((4, 3)), np.eye(2), np.ones((4, 2)), context=np.zeros((4, 1)))
    with pytest.raises(ConfigError, match="hidden_units"):
        IdentityIRTPredictor(hidden_units=0).fit(np.zeros((4, 3)), np.eye(2), np.ones((4, 2)))
    with pytest.raises(DataError, match="expected"):
        IdentityIRTPredictor().fit(np.zeros((4, 3)), np.eye(2), np.ones((4, 3)))
