"""Ability tables: summaries recomputed from parameters, rankings that match the known data."""

import copy

import numpy as np
import pytest

from irtrouter.errors import ConfigError
from irtrouter.explain import ability_table, spearman
from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.items import ItemBank


def test_mirt_mean_logit_is_ability_times_mean_discrimination(mirt_warm_router):
    router = mirt_warm_router
    table = ability_table(router)
    p = router.predictor_.params_
    X = router.neighbours_.embeddings.astype(np.float64)
    mean_a = (X @ p["W_a"].T + p["c_a"]).mean(axis=0)
    mean_b = (X @ p["w_b"] + p["c_b"]).mean()
    theta = router.predictor_.abilities_.astype(np.float64)
    np.testing.assert_allclose(table.mean_logit, theta @ mean_a - mean_b, atol=1e-4)
    np.testing.assert_allclose(table.mean_over_dims, theta.mean(axis=1), atol=1e-6)
    assert table.dimensions == tuple(f"dim {k}" for k in range(1, router.predictor_.n_dims + 1))
    # Each dimension's hint is the task whose training queries discriminate most on it.
    a = X @ p["W_a"].T + p["c_a"]
    tasks = np.array(router.train_tasks_)
    by_task = {t: a[tasks == t].mean(axis=0) for t in ("math", "code", "history")}
    for k, hint in enumerate(table.dimension_tasks):
        assert by_task[hint][k] == pytest.approx(max(v[k] for v in by_task.values()))


def test_ability_ranking_follows_the_known_skills(mirt_warm_router, nirt_router, topic_data):
    train = topic_data[0]
    accuracy = train.mean_scores()
    for router in (mirt_warm_router, nirt_router):
        table = ability_table(router)
        # big answers ~93% of the queries, weak-small ~17%; the two specialists sit between.
        assert table.ranking()[0] == "big" and table.ranking()[-1] == "weak-small"
        rho = spearman(table.mean_logit, np.array([accuracy[m] for m in table.llm_ids]))
        assert rho > 0.79  # 0.8: at most the two near-tied specialists swap places


def test_nirt_table_has_the_named_abilities_in_unit_interval(nirt_router):
    table = ability_table(nirt_router)
    assert table.dimensions == ABILITY_NAMES and table.dimension_tasks is None
    assert ((table.values > 0) & (table.values < 1)).all()
    frame = table.to_frame()
    assert list(frame.columns[:2]) == ["mean_logit", "mean_over_dims"] and list(frame.index) == list(table.llm_ids)
    assert table.standard_error is None and table.mean_logit_se is None  # its logit is not linear in the ability
    with pytest.raises(ConfigError, match="mean_logit"):
        table.summary("median")


def test_standard_errors_come_from_each_llms_own_answers(twopl_router, mirt_warm_router):
    """The 2PL's one ability: its standard error is 1 / sqrt(prior + sum a^2 p (1 - p)) over the
    LLM's training answers; hiding half of one LLM's answers widens its error alone; the mean
    logit's error is the delta method's (a scalar ability: |mean a| times theta's)."""
    table = ability_table(twopl_router)
    se = table.standard_error[:, 0]
    assert np.isfinite(se).all() and (se > 0).all()
    np.testing.assert_allclose(table.mean_logit_se, np.abs(_mean_loading(twopl_router)) * se, rtol=1e-6)
    holed = copy.copy(twopl_router)
    holed.train_scores_ = twopl_router.train_scores_.copy()
    holed.train_scores_[::2, 1] = np.nan
    wider = ability_table(holed).standard_error[:, 0]
    bank, theta = ItemBank.from_predictor(holed.predictor_, holed.neighbours_.embeddings), holed.predictor_.abilities_
    p = 1 / (1 + np.exp(-bank.logits(theta[1].astype(np.float64))))
    information = (bank.A[:, 0] ** 2 * p * (1 - p))[::2].sum()  # the answers hidden
    assert information > 0 and wider[1] > se[1]
    # Precision adds up: the prior's (the pool's, the same on both sides) plus each answer's.
    np.testing.assert_allclose(1 / se[1] ** 2 - 1 / wider[1] ** 2, information, rtol=1e-5)
    np.testing.assert_allclose(np.delete(wider, 1), np.delete(se, 1), rtol=1e-9)  # the others are untouched
    mirt = ability_table(mirt_warm_router)
    assert mirt.standard_error.shape == mirt.values.shape and (mirt.mean_logit_se > 0).all()
    frame = mirt.to_frame()
    assert list(frame.columns[:3]) == ["mean_logit", "mean_logit_se", "mean_over_dims"]


def _mean_loading(router):
    return ItemBank.from_predictor(router.predictor_, router.neighbours_.embeddings).A[:, 0].mean()
