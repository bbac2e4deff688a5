"""Aggregating a log with repeated (query, LLM) cells: the same cells, means and counts whatever the
chunk size, equal to pandas' groupby; bad rows named; and weighted training on the aggregate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from irtrouter.data.aggregate import aggregate_log
from irtrouter.errors import DataError
from irtrouter.irt.mirt import MIRTPredictor


def make_log(path: Path, n_rows: int = 3000, seed: int = 0, with_ids: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 120, n_rows)
    frame = pd.DataFrame(
        {
            "query": [f"query number {i}" for i in q],
            "llm_id": rng.choice(["a", "b", "c", "d"], n_rows),
            "score": rng.integers(0, 2, n_rows).astype(float),
            "task": [f"t{i % 3}" for i in q],
        }
    )
    if with_ids:
        frame.insert(0, "query_id", [f"id{i}" for i in q])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=500)
    return frame


@pytest.mark.parametrize("with_ids", [True, False])
def test_cells_equal_a_groupby_whatever_the_chunk_size(tmp_path: Path, with_ids: bool):
    frame = make_log(tmp_path / "log.parquet", with_ids=with_ids)
    small, whole = (aggregate_log(tmp_path / "log.parquet", batch_rows=n) for n in (37, 10**6))
    assert small.rows == whole.rows == len(frame) == int(small.counts.sum())
    np.testing.assert_array_equal(small.counts, whole.counts)
    np.testing.assert_allclose(small.results.scores, whole.results.scores, equal_nan=True)
    assert small.results.queries == whole.results.queries and small.results.llm_ids == whole.results.llm_ids
    grouped = frame.groupby(["query", "llm_id"])["score"].agg(["mean", "count"])
    res = small.results
    for (text, llm), row in grouped.iterrows():
        i, j = res.queries.index(text), res.llm_ids.index(llm)
        assert small.counts[i, j] == row["count"]
        assert res.scores[i, j] == pytest.approx(row["mean"])
    assert np.isnan(res.scores[small.counts == 0]).all()
    assert res.tasks[res.queries.index("query number 4")] == "t1"


def test_bad_score_is_named_by_its_row(tmp_path: Path):
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"query": ["x", "y", "z"], "llm_id": ["a"] * 3, "score": [0.5, 1.0, 1.5]}), path)
    with pytest.raises(DataError, match=r"row 3, field 'score': score 1.5 is not in \[0, 1\]"):
        aggregate_log(path, batch_rows=2)
    pq.write_table(pa.table({"query": ["x"], "llm": ["a"], "score": [1.0]}), path)
    with pytest.raises(DataError, match=r"missing column\(s\) \['llm_id'\]"):
        aggregate_log(path)


def _fit(Y: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(Y.shape[0], 6)).astype(np.float32)
    X_llms = rng.normal(size=(Y.shape[1], 5)).astype(np.float32)
    model = MIRTPredictor(n_dims=3, max_epochs=5, random_state=0, validation_fraction=0.2)
    return model.fit(X, X_llms, Y, weights=weights).params_


def test_unit_weights_train_exactly_as_no_weights_and_zero_weights_as_unobserved():
    rng = np.random.default_rng(1)
    Y = rng.integers(0, 2, (60, 4)).astype(np.float32)
    plain = _fit(Y)
    for k, v in _fit(Y, np.ones_like(Y)).items():
        np.testing.assert_array_equal(v, plain[k])
    dropped = rng.random(Y.shape) < 0.3
    masked = np.where(dropped, np.nan, Y)
    zero_weighted = _fit(Y, np.where(dropped, 0.0, 1.0))
    for k, v in _fit(masked).items():
        np.testing.assert_array_equal(zero_weighted[k], v)
    heavy = _fit(Y, np.where(np.arange(4) == 0, 10.0, 1.0) * np.ones_like(Y))
    assert any(not np.array_equal(heavy[k], plain[k]) for k in plain)  # the weights are not ignored


def test_weights_are_checked():
    Y = np.ones((20, 2), dtype=np.float32)
    with pytest.raises(DataError, match="weights have shape"):
        _fit(Y, np.ones((20, 3)))
    with pytest.raises(DataError, match="finite and >= 0"):
        _fit(Y, -np.ones_like(Y))
    with pytest.raises(DataError, match="weight 0"):
        _fit(Y, np.zeros_like(Y))


def test_the_running_sums_grow_only_along_the_side_that_needs_it():
    from irtrouter.data.aggregate import _Grower

    cells = _Grower()
    for n_q in range(1000, 100_001, 1000):  # queries keep coming, the 4 LLMs stay
        cells.add(np.array([n_q - 1]), np.array([3]), np.array([1.0]), n_q, 4)
    assert cells.sums.shape[1] == 8 and cells.sums.shape[0] < 2 * 100_000  # the LLM side once doubled all
    assert cells.counts[99_999, 3] == 1


def test_a_router_trains_on_an_aggregated_log_with_its_counts_as_weights(tmp_path: Path):
    import json

    from click.testing import CliRunner

    from irtrouter.cli import cli
    from irtrouter.data.catalog import LLMCatalog, LLMSpec
    from irtrouter.routing.router import IRTRouter

    make_log(tmp_path / "log.parquet")
    log = aggregate_log(tmp_path / "log.parquet")
    assert np.array_equal(log.results.counts, log.counts)
    catalog = LLMCatalog([LLMSpec(m, input_price=1.0 + i, output_price=2.0 + i) for i, m in enumerate("abcd")])

    def fit(results):
        router = IRTRouter(embedder="hashing:32", predictor="mirt", predictor_params={"max_epochs": 5})
        return router.fit(results, catalog, use_cache=False).predictor_.abilities_

    # Counts reach the loss: weights of one train as no weights, bit for bit; the log's counts do not.
    from dataclasses import replace

    ones = replace(log.results, counts=np.ones_like(log.counts, dtype=np.float64))
    unweighted = replace(log.results, counts=None)
    assert np.array_equal(fit(ones), fit(unweighted))
    assert not np.array_equal(fit(log.results), fit(unweighted))

    (tmp_path / "llms.json").write_text(json.dumps(catalog.to_records()))
    res = CliRunner().invoke(cli, ["train", str(tmp_path / "log.parquet"), "--aggregate", "--llms",
                                   str(tmp_path / "llms.json"), "--out", str(tmp_path / "r"), "--embedder",
                                   "hashing:32", "--predictor", "mirt", "--epochs", "5"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"aggregated 3000 rows into {log.results.n_observed} cells of {log.results.n_queries} queries" in res.output
