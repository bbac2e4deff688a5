"""The contract every registered router meets, on synthetic topic data; the decision objects."""

import numpy as np
import pytest

from irtrouter.errors import ConfigError, NotFittedError
from irtrouter.evaluate.routers.contract import (
    BinaryDecisions,
    FixedDecisions,
    QueryBatch,
    ScoredDecisions,
    TrainingData,
)
from irtrouter.evaluate.routers.registry import BUILTIN_ROUTERS, available_routers, make_router
from irtrouter.routing.rule import TradeOff, rule_scores

# Another order of the four topic LLMs: weak-small, math-small, big, code-small. The routing rule's
# last tie-break (the LLM listed first) is the only place the column order enters a decision, and
# it is reached only between LLMs of equal cost and equal p-hat: of the topic LLMs only math-small
# and code-small cost the same, and ORDER keeps math-small first. So a router whose fit follows a
# permutation of the columns must choose the very same LLMs under ORDER. (With code-small listed
# first instead, the kNN router chose code-small on 2 of the 90 test queries: exact ties.)
ORDER = [2, 0, 3, 1]

# How far each registered router's fit follows a permutation of the LLM columns.
#   exact:    every computation is per column or symmetric in the columns;
#   rounding: the IRT training loss sums over the LLMs of a batch in column order, so the fit is
#             the same up to floating-point rounding;
#   seeded:   training draws random numbers per column (an initial vector per LLM or per output,
#             random candidate sets), so another order is another random start: only what the
#             router fixes before any draw is guaranteed (test_..._seeded_through_the_column_order).
EQUIVARIANCE = {
    "small-llm": "exact",
    "large-llm": "exact",
    "random": "exact",
    "oracle": "exact",
    "best-single": "exact",  # per-column Reward on the training split
    "task-oracle": "exact",  # the same per task
    "hybrid-llm": "exact",  # logistic regression on the query embedding; labels from two named columns
    "routerbench-knn": "exact",
    "knn-tuned": "exact",
    "mirt": "rounding",
    "mirt-nowarmup": "rounding",
    "mirt-chebyshev": "rounding",
    "nirt": "rounding",
    "nirt-nowarmup": "rounding",
    "2pl": "rounding",  # free abilities all start at 0 (irt/twopl.py)
    "2pl-chebyshev": "rounding",
    "routellm-mf": "seeded",  # a random v_M per column (W_P's columns)
    "routerbench-mlp": "seeded",  # scikit-learn draws the output layer's weights column by column
    "llm-bandit": "seeded",  # PPO's candidate sets and the cross-fitted one-hot fold models
    # predictor="auto" calibrates each LLM on cross-fitting halves drawn LLM by LLM, in column
    # order, from one generator (irt/calibration.py, fit_calibrator).
    "default": "seeded",
}
ROUNDING = 1e-4  # bounds how far rounding moves p-hat (measured on these data: 2e-7)
ALPHAS = (0.0, 0.3, 0.6, 0.9, 1.0)


@pytest.fixture(scope="module")
def permuted(data, topic_llms):
    """The training data and both test batches with the LLM columns in ``ORDER``."""
    td, truth, blind, _, costs = data
    ids = [topic_llms[j] for j in ORDER]
    td_perm = TrainingData(td.results.select_llms(ids), td.catalog, td.X, td.embedder)
    truth_perm = QueryBatch(truth.queries, truth.X, truth.scores[:, ORDER], costs[:, ORDER])
    return ids, td_perm, truth_perm, blind


@pytest.fixture(scope="module")
def fitted(build):
    """``fitted(name, train)``: the router fitted on ``train`` once per module; variants that learn
    the same state (``fit_key``) share one fit, as in the harness."""
    cache = {}

    def get(name, train):
        router = build(name)
        key = (router.fit_key(), id(train))
        if key not in cache:
            cache[key] = router.fit(train)
            return cache[key]
        return router.share_fit(cache[key])

    return get


def valid_routing(routing, n, m):
    if routing.ndim == 1:
        return routing.shape == (n,) and routing.min() >= 0 and routing.max() < m
    return routing.shape == (n, m) and np.allclose(routing.sum(axis=1), 1) and (routing >= 0).all()


def test_every_registered_router_has_a_stated_equivariance():
    # The built-in table: available_routers() may also hold routers registered at run time (the
    # registry's doctest registers one); in a fresh process the two are the same.
    assert set(EQUIVARIANCE) == set(BUILTIN_ROUTERS) <= set(available_routers())


@pytest.mark.parametrize("name", sorted(available_routers()))
def test_router_contract(name, data, build, fitted):
    td, truth, blind, test, _ = data
    router = build(name)
    assert router.fit(td) is router
    batch = truth if router.uses_outcomes else blind
    first = fitted(name, td).decide(batch)
    assert first.llm_ids == test.llm_ids
    for alpha in ALPHAS:
        assert valid_routing(np.asarray(first.choose(alpha)), test.n_queries, test.n_llms)
    if first.p_hat is not None:
        assert first.p_hat.shape == test.scores.shape
        assert ((first.p_hat >= 0) & (first.p_hat <= 1)).all()
    # Same parameters and seed, fitted anew: the same decisions.
    again = router.decide(batch)
    for alpha in ALPHAS:
        np.testing.assert_array_equal(first.choose(alpha), again.choose(alpha))


@pytest.mark.parametrize("name", [n for n in sorted(available_routers()) if EQUIVARIANCE.get(n) != "seeded"])
def test_permuting_the_llms_permutes_the_decisions(name, data, permuted, fitted, topic_llms):
    td, truth, blind, _, _ = data
    ids, td_perm, truth_perm, blind_perm = permuted
    router = fitted(name, td)
    d = router.decide(truth if router.uses_outcomes else blind)
    dp = fitted(name, td_perm).decide(truth_perm if router.uses_outcomes else blind_perm)
    assert dp.llm_ids == tuple(ids)
    exact = EQUIVARIANCE[name] == "exact"
    if d.p_hat is not None:
        np.testing.assert_allclose(dp.p_hat, d.p_hat[:, ORDER], **({} if exact else {"atol": ROUNDING}))
    for alpha in ALPHAS:
        routing, routing_perm = np.asarray(d.choose(alpha)), np.asarray(dp.choose(alpha))
        if routing.ndim == 2:  # a distribution over the LLMs (random)
            np.testing.assert_array_equal(routing_perm, routing[:, ORDER])
            continue
        chosen = np.array([topic_llms[j] for j in routing])
        chosen_perm = np.array([ids[j] for j in routing_perm])
        if exact:
            assert chosen_perm.tolist() == chosen.tolist(), alpha
            continue
        # Up to rounding, which moves each rule score by at most ROUNDING (both rules are
        # 1-Lipschitz in p-hat): the LLM chosen after permuting scores within 2 ROUNDING of the best
        # of the original fit, and is the same LLM wherever the best leads the next by more.
        assert isinstance(d, ScoredDecisions)
        scores = rule_scores(d.p_hat, d.cost, TradeOff.of(alpha), d.rule)
        by_id = dict(zip(topic_llms, scores.T, strict=True))
        got = np.array([by_id[m][i] for i, m in enumerate(chosen_perm)])
        assert (got >= scores.max(axis=1) - 2 * ROUNDING).all(), alpha
        top2 = np.sort(scores, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 2 * ROUNDING
        assert chosen_perm[clear].tolist() == chosen[clear].tolist(), alpha


@pytest.mark.parametrize("name", [n for n in sorted(available_routers()) if EQUIVARIANCE.get(n) == "seeded"])
def test_routers_seeded_through_the_column_order_keep_what_is_guaranteed(name, data, permuted, fitted, topic_llms):
    """Another column order is another random start for these routers (EQUIVARIANCE), so their
    choices may differ; what they fix before drawing anything, or learn without such draws, may not."""
    td, _, blind, test, _ = data
    ids, td_perm, _, blind_perm = permuted
    router, permuted_router = fitted(name, td), fitted(name, td_perm)
    d, dp = router.decide(blind), permuted_router.decide(blind_perm)
    assert dp.llm_ids == tuple(ids)
    for alpha in ALPHAS:
        assert valid_routing(np.asarray(dp.choose(alpha)), test.n_queries, test.n_llms)
    if isinstance(d, BinaryDecisions):
        # The small and the large LLM come from cost and training scores, before any training.
        assert (ids[dp.small], ids[dp.large]) == (topic_llms[d.small], topic_llms[d.large])
        for alpha in ALPHAS:
            assert set(dp.choose(alpha).tolist()) <= {dp.small, dp.large}
    if name == "llm-bandit":
        # The policy's p-hat is its stage-1 identity model, keyed by profile, not by column.
        np.testing.assert_allclose(dp.p_hat, d.p_hat[:, ORDER], atol=ROUNDING)


def test_only_the_references_need_outcomes(data, fitted):
    td, _, blind, _, _ = data
    for name in ("oracle", "task-oracle"):
        with pytest.raises(ConfigError, match="upper limit"):
            fitted(name, td).decide(blind)
    assert [n for n, e in available_routers().items() if e.cls.uses_outcomes] == ["oracle", "task-oracle"]


def test_deciding_before_fit_is_an_error():
    with pytest.raises(NotFittedError, match="not fitted"):
        make_router("small-llm").decide(QueryBatch(("q",), np.zeros((1, 4), np.float32)))


def test_scored_decisions_apply_the_alpha_rule():
    d = ScoredDecisions(("cheap", "dear"), np.array([[0.6, 0.9]]), np.array([0.1, 1.0]))
    assert d.choose(1.0).tolist() == [1]  # performance only
    assert d.choose(0.5).tolist() == [0]  # 0.5*0.6-0.5*0.1 > 0.5*0.9-0.5*1.0
    assert d.p_hat is not None


def test_fixed_decisions_ignore_alpha_but_check_it():
    d = FixedDecisions(("a", "b"), np.array([1, 0]))
    assert d.choose(0.2).tolist() == d.choose(0.9).tolist() == [1, 0]
    assert d.p_hat is None
    with pytest.raises(ConfigError):
        d.choose(1.5)


def test_binary_decisions_threshold_and_share():
    win = np.array([0.9, 0.1, 0.5, 0.7])
    d = BinaryDecisions(("small", "big"), 0, 1, win, threshold=lambda alpha: 0.6 if alpha > 0.5 else 2.0)
    assert d.choose(0.8).tolist() == [1, 0, 0, 1]
    assert d.choose(0.2).tolist() == [0, 0, 0, 0]
    assert d.at_share(0.5).tolist() == [1, 0, 0, 1]  # the two highest win rates
    assert d.at_share(0.0).tolist() == [0, 0, 0, 0]
    assert d.at_share(1.0).tolist() == [1, 1, 1, 1]
    with pytest.raises(ConfigError):
        d.at_share(1.2)
