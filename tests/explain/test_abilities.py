"""Ability tables: summaries recomputed from parameters, rankings that match the known data."""

import numpy as np
import pytest

from irtrouter.errors import ConfigError
from irtrouter.explain import ability_table, spearman
from irtrouter.irt.abilities import ABILITY_NAMES


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
    with pytest.raises(ConfigError, match="mean_logit"):
        table.summary("median")
