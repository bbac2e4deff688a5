"""ID/OOD settings: no leaked test query, only complete test queries, held-out tasks really held out."""

import numpy as np
import pytest

from irtrouter.data.benchmarks import Benchmark
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import ConfigError, DataError
from irtrouter.evaluate.protocol import assert_unseen, benchmark_settings, make_setting, ood_setting, subsample


@pytest.fixture()
def bench(topic_data):
    train, test, catalog = topic_data
    return Benchmark("topics", train, test, catalog)


def test_a_test_query_seen_in_training_is_an_error(topic_data):
    train, test, _ = topic_data
    leaked = ResultsMatrix.concat([test, train.take([5])])
    with pytest.raises(DataError, match="1 test queries also appear in the training data"):
        assert_unseen(train, leaked)
    # Whitespace does not hide a repeat.
    spaced = ResultsMatrix(("x",), ("  " + train.queries[0].replace(" ", "   ") + " ",), train.llm_ids,
                           train.scores[:1], ("",))  # fmt: skip
    with pytest.raises(DataError):
        assert_unseen(train, spaced)
    assert_unseen(train, test)


def test_only_complete_test_queries_are_scored(topic_data):
    train, test, catalog = topic_data
    scores = test.scores.copy()
    scores[[0, 3], 1] = np.nan
    holed = ResultsMatrix(test.query_ids, test.queries, test.llm_ids, scores, test.tasks)
    setting = make_setting("topics", "ID", train, holed, catalog)
    assert setting.test.n_queries == test.n_queries - 2
    assert setting.n_incomplete == 2
    assert not np.isnan(setting.test.scores).any()


def test_ood_holds_out_whole_tasks(bench):
    setting = ood_setting(bench, ["code"])
    assert set(setting.train.tasks) == {"math", "history"}
    assert set(setting.test.tasks) == {"code"}
    # Every code query of both files is a test query.
    n_code = bench.train.tasks.count("code") + bench.test.tasks.count("code")
    assert setting.test.n_queries == n_code
    assert "held-out tasks code" in setting.description


def test_benchmark_settings_and_their_errors(bench):
    id_setting = benchmark_settings(bench, ["ID"])[0]
    assert (id_setting.train.n_queries, id_setting.test.n_queries) == (bench.train.n_queries, bench.test.n_queries)
    with pytest.raises(DataError, match="has no OOD set"):
        benchmark_settings(bench, ["OOD"])
    with pytest.raises(DataError, match="unknown split"):
        benchmark_settings(bench, ["test"])
    with pytest.raises(DataError, match="unknown task"):
        ood_setting(bench, ["poetry"])


def test_published_ood_sets_are_used_when_present(bench, topic_data):
    train, test, catalog = topic_data
    with_ood = Benchmark("topics", train.take(np.arange(100)), test, catalog, ood=train.take(np.arange(150, 200)))
    setting = ood_setting(with_ood)
    assert setting.test.n_queries == 50
    assert setting.description.startswith("published OOD sets")


def test_subsample_is_seeded_and_bounded(bench):
    setting = benchmark_settings(bench, ["ID"])[0]
    a, b = subsample(setting, 50, 20, seed=3), subsample(setting, 50, 20, seed=3)
    assert (a.train.n_queries, a.test.n_queries) == (50, 20)
    assert a.train.query_ids == b.train.query_ids
    assert subsample(setting, None, 10**6).test.n_queries == setting.test.n_queries


def test_named_setting_is_the_benchmark_setting_of_that_seed(shared_data):
    from irtrouter.data.benchmarks import load_benchmark
    from irtrouter.evaluate.protocol import named_setting

    root = shared_data / "routerbench_subset"
    setting = named_setting("routerbench_subset:OOD:1", root)
    (expected,) = benchmark_settings(load_benchmark("routerbench_subset", root, seed=1), ("OOD",))
    assert setting.name == expected.name
    assert setting.train.queries == expected.train.queries and setting.test.queries == expected.test.queries
    for bad in ("routerbench_subset:OOD", "routerbench_subset:OOD:x", "a:b:1:2"):
        with pytest.raises(ConfigError, match="expected dataset:split:seed"):
            named_setting(bad, root)
    with pytest.raises(DataError, match="unknown split 'IID'"):
        named_setting("routerbench_subset:IID:0", root)
