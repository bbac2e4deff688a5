"""The native loaders on the real shared datasets (integration: reads ../shared/data)."""

import numpy as np
import pytest

from irtrouter.data.benchmarks import detect_benchmark, load_benchmark
from irtrouter.data.results import normalise_text

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["llmrouter", "routerbench_subset", "routerdc_7llm", "routellm"])
def test_loads_and_never_leaks_train_queries_into_test(shared_data, name):
    bench = load_benchmark(name, shared_data / name)
    assert detect_benchmark(shared_data / name) == name
    assert bench.catalog.ids == bench.train.llm_ids == bench.test.llm_ids
    train_texts = {normalise_text(q) for q in bench.train.queries}
    for split in (bench.test, bench.ood):
        if split is not None:
            assert not any(normalise_text(q) in train_texts for q in split.queries)
    assert bench.train.n_queries > 1000 and bench.test.n_queries > 300


def test_llmrouter_split_is_the_published_one_minus_119_leaked(shared_data):
    bench = load_benchmark("llmrouter", shared_data / "llmrouter")
    assert bench.train.n_queries == 5608 and bench.test.n_queries == 381
    assert "dropped 119 test queries" in bench.notes[0]
    assert bench.train.n_llms == 9 and bench.cost_source == "modelled"
    assert "math" in bench.train.tasks and "math" not in bench.test.tasks


def test_routerbench_keeps_real_costs_and_masks_holes(shared_data):
    bench = load_benchmark("routerbench_subset", shared_data / "routerbench_subset")
    assert bench.cost_source == "real"
    assert np.isfinite(bench.test.cost_usd).all()
    assert (~bench.train.observed).sum() == 92 and (~bench.test.observed).sum() == 62
    assert bench.test.complete().n_queries == bench.test.n_queries - 8
