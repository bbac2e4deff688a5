import numpy as np
import pytest

from irtrouter.data.splits import (
    drop_seen_queries,
    split_in_distribution,
    split_llms,
    split_out_of_distribution,
    validation_blocks,
    validation_rows,
)
from irtrouter.errors import DataError
from tests.helpers import topic_results


def test_in_distribution_is_per_task_seeded_and_disjoint():
    res = topic_results(n_per_topic=50, seed=0)
    train, test = split_in_distribution(res, test_size=0.3, seed=7)
    assert set(train.query_ids).isdisjoint(test.query_ids)
    assert train.n_queries + test.n_queries == res.n_queries
    for task in ("math", "code", "history"):
        assert sum(t == task for t in test.tasks) == 15
    again = split_in_distribution(res, test_size=0.3, seed=7)[1]
    other = split_in_distribution(res, test_size=0.3, seed=8)[1]
    assert again.query_ids == test.query_ids and other.query_ids != test.query_ids


def test_out_of_distribution_holds_out_whole_tasks():
    res = topic_results(n_per_topic=10)
    train, test = split_out_of_distribution(res, ["code"])
    assert set(test.tasks) == {"code"} and "code" not in set(train.tasks)
    with pytest.raises(DataError, match="unknown task"):
        split_out_of_distribution(res, ["poetry"])


def test_llm_split_and_leak_removal():
    res = topic_results(n_per_topic=10)
    seen, held = split_llms(res, ["big"])
    assert held.llm_ids == ("big",) and "big" not in seen.llm_ids
    np.testing.assert_array_equal(held.scores[:, 0], res.scores[:, 3])
    test, dropped = drop_seen_queries(res, res.take(np.arange(5)))
    assert dropped == 5 and test.n_queries == res.n_queries - 5


def test_validation_blocks_are_disjoint_per_task_and_start_with_the_validation_rows():
    res = topic_results(n_per_topic=50, seed=0)
    blocks = validation_blocks(res, 0.2, seed=3, n_blocks=5)
    np.testing.assert_array_equal(blocks[0], validation_rows(res, 0.2, 3)[1])  # folds=1 is the old carve
    everything = np.concatenate(blocks)
    assert len(everything) == len(set(everything.tolist())) == res.n_queries  # a partition here (50 = 5 x 10)
    tasks = np.asarray(res.tasks)
    for rows in blocks:
        assert sorted(tasks[rows].tolist()) == sorted(["math", "code", "history"] * 10)
    with pytest.raises(DataError, match="do not fit"):
        validation_blocks(res, 0.3, seed=3, n_blocks=4)
