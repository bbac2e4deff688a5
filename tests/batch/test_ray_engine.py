"""The Ray engine on a local Ray (2 CPUs): the same decisions as the local engine on the same
input, from Parquet to a file and from JSONL to a folder of Parquet parts, and the same
embeddings. One Ray for the module: starting it takes seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from irtrouter.batch import BatchEmbedder, BatchJob, BatchRouter, RouteOptions, run_local
from irtrouter.errors import ConfigError
from tests.batch.helpers import assert_same_decisions

ray = pytest.importorskip("ray")
from irtrouter.batch.ray import run_ray  # noqa: E402  (needs ray)

ACTORS = {"actors": 2, "num_cpus": 0.5}  # two actors beside the read tasks on 2 CPUs


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_ray_and_local_engines_give_identical_decisions(batch_router_dir: Path, queries_parquet: Path, tmp_path: Path):
    options = RouteOptions(alpha=0.6)
    local = BatchJob(
        queries_parquet, tmp_path / "local.parquet", BatchRouter, (batch_router_dir, options), batch_rows=16
    )
    on_ray = BatchJob(
        queries_parquet, tmp_path / "ray.parquet", BatchRouter, (batch_router_dir, options), batch_rows=16
    )
    assert run_local(local) == run_ray(on_ray, **ACTORS) == 75  # type: ignore[arg-type]
    a, b = pq.read_table(local.output), pq.read_table(on_ray.output)
    assert a.column_names == b.column_names
    assert a.column("query_id").equals(b.column("query_id"))  # input order kept
    # Every value equal up to float32 precision, and every choice and reason where it is not a tie.
    assert_same_decisions(
        b, BatchRouter(batch_router_dir, options).router.route_many(a.column("query").to_pylist(), 0.6)
    )
    assert a.column("llm_id").equals(b.column("llm_id"))


def test_jsonl_to_a_folder_of_parquet_parts(batch_router_dir: Path, queries: pa.Table, tmp_path: Path):
    src = tmp_path / "queries.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in queries.to_pylist()), encoding="utf-8")
    out = tmp_path / "decisions"
    job = BatchJob(src, out, BatchRouter, (batch_router_dir,), batch_rows=20)
    assert run_ray(job, **ACTORS) == 75  # type: ignore[arg-type]
    table = pq.read_table(out)  # the parts, read back as one table
    expected = run_local(BatchJob(src, tmp_path / "local.parquet", BatchRouter, (batch_router_dir,), batch_rows=20))
    assert expected == 75
    local = pq.read_table(tmp_path / "local.parquet")
    by_id = dict(zip(table.column("query_id").to_pylist(), table.column("llm_id").to_pylist(), strict=True))
    assert by_id == dict(zip(local.column("query_id").to_pylist(), local.column("llm_id").to_pylist(), strict=True))


def test_ray_embeddings_equal_local_ones(queries_parquet: Path, tmp_path: Path):
    jobs = [BatchJob(queries_parquet, tmp_path / f"{n}.parquet", BatchEmbedder, ("hashing:32",)) for n in "ab"]
    run_local(jobs[0])
    run_ray(jobs[1], **ACTORS)  # type: ignore[arg-type]
    a, b = (np.stack(pq.read_table(j.output).column("embedding").to_numpy(zero_copy_only=False)) for j in jobs)
    np.testing.assert_array_equal(a, b)


def test_a_pool_that_would_starve_its_reads_is_refused(batch_router_dir: Path, queries_parquet: Path, tmp_path: Path):
    job = BatchJob(queries_parquet, tmp_path / "o.parquet", BatchRouter, (batch_router_dir,))
    with pytest.raises(ConfigError, match="leave no CPU to read with"):
        run_ray(job, actors=2, num_cpus=1.0)
    assert not Path(str(job.output)).exists()
