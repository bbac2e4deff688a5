"""Fixtures for the batch jobs: a small saved router and its training queries as tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from irtrouter.routing import IRTRouter
from tests.helpers import topic_catalog, topic_results


@pytest.fixture(scope="session")
def batch_router_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MIRT router on the synthetic topics with the hashing embedder (fast, deterministic)."""
    path = tmp_path_factory.mktemp("batch-router")
    router = IRTRouter(embedder="hashing:64", predictor_params={"max_epochs": 40})
    router.fit(topic_results(n_per_topic=30, seed=1), topic_catalog(), use_cache=False)
    router.save(path)
    return path


@pytest.fixture(scope="session")
def queries() -> pa.Table:
    """Unseen queries (another seed and prefix than the router's), with ids and a passthrough column."""
    results = topic_results(n_per_topic=25, seed=7, prefix="b")
    return pa.table(
        {
            "query_id": list(results.query_ids),
            "query": list(results.queries),
            "topic": list(results.tasks),
        }
    )


@pytest.fixture(scope="session")
def queries_parquet(queries: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batch-in") / "queries.parquet"
    pq.write_table(queries, path)
    return path
