"""Cold start of LLM Bandit: choosing quiz prompts and fitting a new LLM's identity from the answers."""

import numpy as np
import pytest

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.items import AbilityPrior, ItemBank
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.onboard.identity_quiz import identity_from_answers, select_quiz
from irtrouter.onboard.quiz import item_scores
from irtrouter.routing import IRTRouter
from tests.helpers import SKILL


def logits_at(router, X, identity):
    """f(e_x, I) of one identity for every query."""
    return router.predictor_.logits(NUMPY_OPS, X, np.asarray(identity)[None], router.predictor_.params_)[:, 0]


@pytest.fixture(scope="module")
def split(topic_data):
    """An identity router over the four topic LLMs."""
    train, test, catalog = topic_data
    router = IRTRouter(
        predictor="identity",
        n_dims=4,
        embedder="hashing:128",
        predictor_params={"learning_rate": 0.01, "max_epochs": 40},
    )
    return router.fit(train, catalog), train, test


def newcomer_answers(train, like: str, seed: int) -> np.ndarray:
    """Fresh answers of a new LLM with the skills of ``like`` (not its recorded answers)."""
    rng = np.random.default_rng(seed)
    skill = np.array([SKILL[like][t] for t in train.tasks])
    return (rng.random(train.n_queries) < skill).astype(float)


def test_variance_selection_takes_the_most_disputed_prompts(split):
    router, train, _ = split
    X = router.embed(train.queries)
    asked = select_quiz(router, X, n_prompts=25)
    spread = router.predictor_.predict_proba(X).var(axis=1)
    assert len(asked) == len(set(asked.tolist())) == 25
    np.testing.assert_allclose(np.sort(spread[asked]), np.sort(spread)[-25:])


def test_fisher_selection_is_greedy_d_optimal(split):
    router, train, _ = split
    X = router.embed(train.queries)
    asked = select_quiz(router, X, n_prompts=20, method="fisher")
    assert len(set(asked.tolist())) == 20
    # The first pick maximises p(1 - p) g^T M^-1 g at the prior mean (M = I), by hand:
    predictor = router.predictor_
    g = predictor.identity_gradient(X, np.zeros(4))
    f = logits_at(router, X, np.zeros(4))
    p = 1 / (1 + np.exp(-f))
    assert asked[0] == int(np.argmax(p * (1 - p) * (g**2).sum(axis=1)))
    # ...and agrees with the linear-IRT rule of irtrouter.onboard.quiz on the linearised items.
    bank = ItemBank(g, -f.astype(np.float64))
    assert asked[0] == int(np.argmax(item_scores(bank, np.zeros(4), np.eye(4))))
    assert set(asked.tolist()) != set(select_quiz(router, X, n_prompts=20).tolist())


@pytest.mark.parametrize("method", ["variance", "fisher"])
def test_a_quiz_tells_what_kind_of_llm_the_newcomer_is(split, method):
    """30 answers place a new math specialist and a new coder where they belong."""
    router, train, test = split
    X_pool = router.embed(train.queries)
    asked = select_quiz(router, X_pool, n_prompts=30, method=method)
    X_test = router.embed(test.queries)
    tasks = np.array(test.tasks)
    for like, good, bad in (("math-small", "math", "code"), ("code-small", "code", "math")):
        answers = newcomer_answers(train, like, seed=len(like))[asked]
        estimate = identity_from_answers(router, X_pool[asked], answers)
        assert estimate.n_answers == 30 and estimate.mean.shape == estimate.std.shape == (4,)
        assert (estimate.std < 1).any()  # the answers taught it something: tighter than the prior
        f = logits_at(router, X_test, estimate.mean)
        assert f[tasks == good].mean() > f[tasks == bad].mean() + 1.0, like
        assert f[tasks == good].mean() > f[tasks == "history"].mean() + 0.5, like


def test_answers_move_the_estimate_and_the_prior_matters(split):
    router, train, _ = split
    X = router.embed(train.queries[:20])
    right = identity_from_answers(router, X, np.ones(20))
    wrong = identity_from_answers(router, X, np.zeros(20))
    p_right, p_wrong = logits_at(router, X, right.mean), logits_at(router, X, wrong.mean)
    assert p_right.mean() > p_wrong.mean() + 1.0
    again = identity_from_answers(router, X, np.ones(20))
    np.testing.assert_array_equal(again.mean, right.mean)  # seeded
    tight = identity_from_answers(router, X, np.ones(20), prior=AbilityPrior(np.full(4, 3.0), 1e-4 * np.eye(4)))
    np.testing.assert_allclose(tight.mean, 3.0, atol=0.05)  # a near-certain prior wins over 20 answers
    pooled = identity_from_answers(router, X, np.ones(20), prior="pool")
    assert not np.allclose(pooled.mean, right.mean)


def test_errors(split, topic_data):
    router, train, _ = split
    X = router.embed(train.queries[:10])
    with pytest.raises(ConfigError, match="n_prompts"):
        select_quiz(router, X, n_prompts=11)
    with pytest.raises(ConfigError, match="unknown quiz method"):
        select_quiz(router, X, method="entropy")
    with pytest.raises(DataError, match="3 scores for 10"):
        identity_from_answers(router, X, [1, 0, 1])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        identity_from_answers(router, X, np.full(10, 2.0))
    mirt = IRTRouter(embedder="hashing:64", predictor_params={"max_epochs": 2}).fit(train, topic_data[2])
    with pytest.raises(ConfigError, match="identity vectors"):
        select_quiz(mirt, mirt.embed(train.queries[:10]), n_prompts=5)
