"""The local engine and the ``irtrouter batch`` CLI: decisions equal the router's own, bad input
is one line and leaves no output file, progress only on a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from irtrouter.batch import BatchEmbedder, BatchJob, BatchRouter, RouteOptions, run_local
from irtrouter.cli import cli
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.routing import load_router
from tests.batch.helpers import assert_same_decisions


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_batch_route_rows_are_the_routers_decisions(batch_router_dir: Path, queries_parquet: Path, tmp_path: Path):
    out = tmp_path / "decisions.parquet"
    code, _, err = invoke("batch", "route", str(batch_router_dir), str(queries_parquet), "--out", str(out),
                          "--alpha", "0.5", "--batch-rows", "16")  # fmt: skip
    assert code == 0, err
    table = pq.read_table(out)
    router = load_router(batch_router_dir)
    texts = pq.read_table(queries_parquet).column("query").to_pylist()
    expected = router.route_many(texts, alpha=0.5)
    assert table.column("query_id").to_pylist() == pq.read_table(queries_parquet).column("query_id").to_pylist()
    assert table.column("topic").to_pylist()[:3] == ["math"] * 3  # input columns kept
    assert_same_decisions(table, expected)
    assert set(table.column("alpha").to_pylist()) == {0.5}
    assert f"routed {len(texts)} queries" in err


def test_jsonl_in_csv_out_and_allowed_llms(batch_router_dir: Path, queries: pa.Table, tmp_path: Path):
    src = tmp_path / "queries.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in queries.to_pylist()), encoding="utf-8")
    out = tmp_path / "decisions.csv"
    code, _, err = invoke("batch", "route", str(batch_router_dir), str(src), "--out", str(out),
                          "--allow", "math-small", "--allow", "weak-small")  # fmt: skip
    assert code == 0, err
    table = pcsv.read_csv(out)
    assert table.num_rows == queries.num_rows
    assert set(table.column("llm_id").to_pylist()) <= {"math-small", "weak-small"}


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ({"text": ["a query"]}, "q.parquet", "no column 'query'"),
        (b"", "q.jsonl", "empty file"),
        ({"query": pa.array([], pa.string())}, "q.parquet", "no rows"),
        (b"query\nhello\n", "q.xlsx", "unknown table format '.xlsx'"),
        (b"{not json\n", "q.jsonl", "cannot read jsonl"),
    ],
)
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_bad_input_is_one_line(
    batch_router_dir: Path, tmp_path: Path, content: object, name: str, message: str, engine: str
):
    # The input is checked before any engine starts, so the Ray engine fails the same way, at once.
    src = tmp_path / name
    if isinstance(content, bytes):
        src.write_bytes(content)
    else:
        pq.write_table(pa.table(content), src)  # type: ignore[arg-type]
    out = tmp_path / "out.parquet"
    code, _, err = invoke("batch", "route", str(batch_router_dir), str(src), "--out", str(out), "--engine", engine)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("irtrouter: error: ") and message in err, err
    assert not out.exists()


def test_blank_query_fails_the_job_and_leaves_no_partial_output(batch_router_dir: Path, tmp_path: Path):
    src = tmp_path / "q.csv"
    src.write_text("query_id,query\n" + "".join(f"q{i},what is {i} + {i}\n" for i in range(40)) + 'q40," "\n')
    out = tmp_path / "out.parquet"
    code, _, err = invoke("batch", "route", str(batch_router_dir), str(src), "--out", str(out), "--batch-rows", "8")
    assert code == 1
    assert "empty or missing query (query_id 'q40')" in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "out.parquet.partial").exists()  # 5 batches were written first


def test_decision_columns_never_overwrite_input_columns(batch_router_dir: Path, tmp_path: Path):
    src = tmp_path / "q.parquet"
    pq.write_table(pa.table({"query": ["what is 2 + 2"], "llm_id": ["mine"]}), src)
    code, _, err = invoke("batch", "route", str(batch_router_dir), str(src), "--out", str(tmp_path / "o.parquet"))
    assert code == 1 and "already has column(s) ['llm_id']" in err


def test_progress_only_on_a_terminal(batch_router_dir: Path, queries_parquet: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "o.parquet"
    args = ("batch", "route", str(batch_router_dir), str(queries_parquet), "--out", str(out), "--batch-rows", "8")
    code, _, err = invoke(*args)  # CliRunner's stderr is not a terminal
    assert code == 0 and "query/s" not in err and "\r" not in err
    monkeypatch.setattr("irtrouter.cli.batch.progress_default", lambda: True)
    code, _, err = invoke(*args)
    assert code == 0 and "batch:" in err and "query" in err


def test_batch_embed_fills_the_cache_and_writes_vectors(queries_parquet: Path, tmp_path: Path):
    out, cache = tmp_path / "emb.parquet", tmp_path / "cache"
    code, _, err = invoke("batch", "embed", str(queries_parquet), "--embedder", "hashing:32",
                          "--out", str(out), "--cache-dir", str(cache), "--batch-rows", "10")  # fmt: skip
    assert code == 0, err
    texts = pq.read_table(queries_parquet).column("query").to_pylist()
    vectors = np.stack(pq.read_table(out).column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(vectors, make_embedder("hashing:32").encode(texts))

    class Refuses:
        name, dim = make_embedder("hashing:32").name, 32

        def encode(self, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"{len(texts)} texts were not in the cache")

    cached = CachedEmbedder(Refuses(), cache)  # type: ignore[arg-type]
    np.testing.assert_array_equal(cached.encode(texts), vectors)


def test_batch_embed_needs_something_to_do(queries_parquet: Path):
    code, _, err = invoke("batch", "embed", str(queries_parquet), "--embedder", "hashing:8", "--no-cache")
    assert code == 2 and "nothing to do" in err


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--budget", "0.1", "--alpha", "0.5"], "--budget sets the trade-off itself"),
        (["--budget", "0.1", "--preference", "1"], "--budget sets the trade-off itself"),
        (["--preference", "1", "--beta", "0.5"], "give either --preference or --alpha/--beta"),
    ],
)
def test_batch_route_refuses_two_trade_offs_as_route_does(
    batch_router_dir: Path, queries_parquet: Path, tmp_path: Path, options: list[str], fragment: str
):
    out = tmp_path / "o.parquet"
    code, _, err = invoke("batch", "route", str(batch_router_dir), str(queries_parquet), "--out", str(out), *options)
    assert code == 2 and fragment in err and not out.exists()


def test_route_batch_is_independent_of_batch_size(batch_router_dir: Path, queries_parquet: Path, tmp_path: Path):
    tables = []
    for rows in (7, 1024):
        job = BatchJob(queries_parquet, tmp_path / f"{rows}.parquet", BatchRouter,
                       (batch_router_dir, RouteOptions(alpha=0.3)), batch_rows=rows)  # fmt: skip
        assert run_local(job) == 75
        tables.append(pq.read_table(job.output))
    assert tables[0].column("llm_id").equals(tables[1].column("llm_id"))


def test_embedder_output_is_float32_fixed_size(queries: pa.Table):
    table = BatchEmbedder("hashing:16")(queries)
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 16)
