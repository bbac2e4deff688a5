"""LLM Bandit cold start: quizzed identities in training, the own-score head, and a quizzed copy
taking its original's place."""

import numpy as np
import pytest
import torch

from irtrouter.data.catalog import LLMSpec
from irtrouter.errors import ConfigError
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.onboard.identity_quiz import identity_from_answers, select_quiz
from irtrouter.onboard.newllm import onboarded
from irtrouter.routing import load_router
from irtrouter.routing.policy.coldstart import identity_p_hat, quizzed_identities
from irtrouter.routing.policy.network import init_policy_params, policy_logits
from irtrouter.routing.policy.settings import PolicySettings
from irtrouter.routing.policy.training import _build_pool, _Trainer
from tests.routing.test_policy import LLMS, fit_small_policy, results


@pytest.fixture(scope="module")
def data():
    return results(80, seed=21, prefix="q"), results(30, seed=22, prefix="t")


@pytest.fixture(scope="module")
def router(data):
    return fit_small_policy(data[0], cold_start_rate=0.5, cold_start_quiz=30, own_score=True)


def test_each_quizzed_identity_predicts_like_its_own_llm(router, data):
    """Re-fitted from 30 of its own answers, each specialist's and the strong LLM's identity predicts
    success closest to its own trained identity's predictions (the weak LLM differs from the
    specialists only off their topics, which the disputed quiz prompts rarely ask)."""
    train, _ = data
    X = router.neighbours_.embeddings
    cold = quizzed_identities(router.predictor_, X, train.scores, n_prompts=30)
    assert cold.shape == router.predictor_.abilities_.shape
    p_cold, p_trained = identity_p_hat(router.predictor_, X, cold), router.predictor_.predict_proba(X)
    distance = np.abs(p_cold[:, :, None] - p_trained[:, None, :]).mean(axis=0)  # (cold k, trained j)
    for name in ("math-small", "code-small", "big"):
        k = LLMS.index(name)
        assert distance[k].argmin() == k, (name, distance.round(3))


def test_cold_samples_show_one_candidate_with_its_quizzed_identity(router, data):
    train, _ = data
    settings = PolicySettings.from_params({"cold_start_rate": 1.0})
    pool = _build_pool(router, train, None)
    identities = torch.from_numpy(np.asarray(router.predictor_.abilities_, dtype=np.float32))
    params = {k: torch.from_numpy(v) for k, v in router.policy_weights_.items()}
    trainer = _Trainer(pool, identities, params, settings, None, np.random.default_rng(0))
    assert trainer._cold_mask(5, 3) is None  # no quizzed identities yet: nothing is cold
    cold_ids = identities.flip(1) + 1.0
    trainer.cold_ids = cold_ids
    mask = trainer._cold_mask(64, 3)
    assert mask.shape == (64, 3) and (mask.sum(axis=1) == 1).all()  # rate 1: one per sample
    rows = np.arange(4)
    subsets = np.array([[0, 1, 2], [1, 2, 3], [3, 0, 1], [2, 3, 0]])
    X, costs = trainer.X[rows], np.take_along_axis(pool.costs[rows], subsets, 1)
    p_hat, w = torch.rand(4, 3), np.full(4, 0.5)
    cold = np.zeros((4, 3), dtype=bool)
    cold[:, 1] = True
    got, _ = trainer._forward(X, subsets, costs, p_hat, w, cold)
    # The same candidates with the cold identity written into the table: the same logits.
    swapped = identities.clone()
    expected = []
    for i in range(4):
        swapped = identities.clone()
        swapped[subsets[i, 1]] = cold_ids[subsets[i, 1]]
        trainer.identities = swapped
        logits, _ = trainer._forward(X[i : i + 1], subsets[i : i + 1], costs[i : i + 1], p_hat[i : i + 1], w[:1])
        expected.append(logits)
    torch.testing.assert_close(got, torch.cat(expected), atol=1e-5, rtol=1e-5)
    trainer.identities = identities
    warm, _ = trainer._forward(X, subsets, costs, p_hat, w)
    assert not torch.allclose(warm, got)


def test_a_quizzed_copy_of_a_trained_llm_takes_its_share(router, data):
    """A newcomer answering exactly as code-small did, quizzed in with 30 answers, gets about the
    share code-small gets when it stands in code-small's place."""
    train, test = data
    X_pool = router.neighbours_.embeddings
    asked = select_quiz(router, X_pool, n_prompts=30)
    estimate = identity_from_answers(router, X_pool[asked], train.scores[asked, LLMS.index("code-small")])
    copy = onboarded(router, LLMSpec("code-copy", 0.2, 0.2, "newcomer"), ability=estimate.mean)
    pred = copy.predict(test.queries)
    others = ["math-small", "weak-small", "big"]
    for w in (1.5, 2.0):
        original = copy.choose(pred, preference=w, allowed_llms=[*others, "code-small"])
        newcomer = copy.choose(pred, preference=w, allowed_llms=[*others, "code-copy"])
        share_original = (original == LLMS.index("code-small")).mean()
        share_copy = (newcomer == len(LLMS)).mean()
        assert share_original > 0.1, (w, share_original, share_copy)  # code-small gets the code queries
        assert abs(share_copy - share_original) <= 0.25, (w, share_original, share_copy)


def test_the_own_score_head_starts_at_zero_and_reads_p_hat_and_cost(router, data):
    """Initialised at zero (the same logits as without it), then trained: it moves the logits by
    a(w) . [p_k, c_k], and a saved policy without it still loads (no ``own.W``: the old formula)."""
    rng = np.random.default_rng(0)
    plain = init_policy_params(8, 4, 16, np.random.default_rng(1))
    own = init_policy_params(8, 4, 16, np.random.default_rng(1), own_score=True)
    assert set(own) - set(plain) == {"own.W", "own.b"}
    X, ids = rng.normal(size=(3, 8)), rng.normal(size=(5, 4))
    c, p, w = rng.random((3, 5)), rng.random((3, 5)), np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(
        policy_logits(NUMPY_OPS, own, X, ids, c, p, w, 4), policy_logits(NUMPY_OPS, plain, X, ids, c, p, w, 4)
    )
    assert np.abs(router.policy_weights_["own.W"]).max() > 0  # trained
    params = router.policy_weights_
    without = {k: v for k, v in params.items() if not k.startswith("own.")}
    X_t = router.neighbours_.embeddings[:3]
    ids_t = router.predictor_.abilities_
    c, p = rng.random((3, 4)), rng.random((3, 4))
    gap = policy_logits(NUMPY_OPS, params, X_t, ids_t, c, p, w, 4) - policy_logits(
        NUMPY_OPS, without, X_t, ids_t, c, p, w, 4
    )
    u = np.maximum(w[:, None] * params["w_w"] + params["b_w"], 0)
    a = u @ params["own.W"].T + params["own.b"]
    np.testing.assert_allclose(gap, a[:, :1] * p + a[:, 1:] * c, atol=1e-4)


def test_cold_start_settings_are_validated():
    with pytest.raises(ConfigError, match="cold_start_rate"):
        PolicySettings.from_params({"cold_start_rate": 1.5})
    with pytest.raises(ConfigError, match="cold_start_quiz"):
        PolicySettings.from_params({"cold_start_quiz": 0})


def test_a_saved_policy_with_the_own_score_head_routes_identically(router, data, tmp_path):
    _, test = data
    loaded = load_router(router.save(tmp_path / "own"))
    assert loaded.settings_.own_score and loaded.settings_.cold_start_rate == 0.5
    a = router.probabilities(router.predict(test.queries), preference=1.0)
    b = loaded.probabilities(loaded.predict(test.queries), preference=1.0)
    np.testing.assert_allclose(a, b, atol=1e-6)
