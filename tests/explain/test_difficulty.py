"""Query difficulties and their checks against known levels and observed scores."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from irtrouter.explain import (
    item_accuracy_correlation,
    known_levels,
    level_correlations,
    spearman,
    task_accuracy_correlation,
    training_difficulties,
)


def test_training_difficulties_match_the_stored_sorted_ones(mirt_warm_router, nirt_router, topic_data):
    for router in (mirt_warm_router, nirt_router):
        d = training_difficulties(router)
        np.testing.assert_allclose(np.sort(d.difficulty), router.train_difficulty_sorted_)
        assert d.tasks == topic_data[0].tasks
        assert ((d.percentile >= 0) & (d.percentile <= 100)).all()
        assert set(d.by_task()) == {"math", "code", "history"}
    d = training_difficulties(mirt_warm_router)
    p = mirt_warm_router.predictor_.params_
    a = mirt_warm_router.neighbours_.embeddings @ p["W_a"].T + p["c_a"]
    np.testing.assert_allclose(d.discrimination, np.linalg.norm(a, axis=1), rtol=1e-5)


def test_known_levels_from_metadata_and_logic_grids():
    queries = ["Q: There are 4 houses in a row, numbered 1", "What is 2+2?", "There are 2 houses in a row."]
    found = known_levels(queries, {"level": np.array(["Level 3", 2, None, "?"][:3], dtype=object)})
    assert [k.name for k in found] == ["level (data)", "houses in the logic-grid puzzle"]
    assert found[0].rows.tolist() == [0, 1] and found[0].levels.tolist() == [3.0, 2.0]
    assert found[1].rows.tolist() == [0, 2] and found[1].levels.tolist() == [4.0, 2.0]
    assert known_levels(["no level here"]) == []


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 50).astype(float), rng.normal(size=50)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert np.isnan(spearman(np.array([1.0, 2.0]), np.array([2.0, 1.0])))
    assert np.isnan(spearman(np.ones(5), np.arange(5.0)))


def test_correlations_have_the_right_sign_on_known_relations():
    difficulty = np.array([0.1, 0.5, 0.9, 1.4, 2.0, 2.2])
    scores = np.array([[1, 1], [1, np.nan], [1, 0], [0, 1], [0, 0], [0, np.nan]], dtype=float)
    item = item_accuracy_correlation(difficulty, scores)
    assert item.n == 6 and item.spearman < -0.8
    levels = known_levels([f"There are {h} houses in a row" for h in (2, 2, 3, 4, 5, 5)])
    (by_level,) = level_correlations(difficulty, levels)
    assert by_level.spearman > 0.9 and by_level.n == 6
    tasks = ["a", "a", "b", "b", "c", "c"]
    assert task_accuracy_correlation(difficulty, tasks, scores).spearman == pytest.approx(-1.0)
