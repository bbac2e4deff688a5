"""Both backends keep the same promise: a real SQLite file and a real PostgreSQL server, never a mock."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pytest

from irtrouter.errors import ConfigError, StorageError
from irtrouter.store import DecisionRecord, DecisionStore, backend_of, open_store, redact_url
from irtrouter.store.reading import decode_embeddings, read_log

T = TypeVar("T")
DAY = 86400.0


def record(request_id: str, created_at: float | None = None, **fields: Any) -> DecisionRecord:
    base = DecisionRecord(
        request_id=request_id,
        created_at=time.time() if created_at is None else created_at,
        endpoint="route",
        profile="auto",
        query_hash="h",
        query_text="what is 2+2?",
        llm_id="a",
        alpha=0.8,
        p_hat={"a": 0.9, "b": 0.4},
        decision={"llm_id": "a", "reason": "best"},
        expected_input_tokens=10,
        expected_output_tokens=20,
        expected_cost_usd=0.001,
        cost_source="catalog",
        routing_ms=1.0,
        status="routed",
    )
    return replace(base, **fields)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def with_store(url: str, body: Callable[[DecisionStore], Coroutine[Any, Any, T]], **options: Any) -> T:
    async def scenario() -> T:
        store = open_store(url, **options)
        await store.start()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(scenario())


def test_a_decision_and_its_feedback_read_back_as_written(store_url: str) -> None:
    embedding = np.array([0.25, -1.0, 3.5], dtype="<f4")
    wrote = record("r1", query_embedding=embedding.tobytes(), propensity=0.5, attempts=[{"llm_id": "a"}])

    async def body(store: DecisionStore) -> tuple[int | None, int | None, int | None]:
        await store.add_decision(wrote)
        await store.add_decision(record("r2"))
        first = await store.add_feedback("r1", 0.25, "meh")
        second = await store.add_feedback("r1", 1.0, None)
        missing = await store.add_feedback("no-such-request", 1.0, None)
        await store.update_outcome(replace(wrote, status="ok", answered_by="b", output_tokens=7))
        return first, second, missing

    first, second, missing = with_store(store_url, body)
    assert isinstance(first, int) and isinstance(second, int) and second > first and missing is None
    frame = read_log(store_url)
    assert list(frame["request_id"]) == ["r1", "r1", "r2"]  # one row per (decision, feedback), oldest first
    r1 = frame[frame["request_id"] == "r1"]
    assert r1["status"].tolist() == ["ok", "ok"] and r1["answered_by"].tolist() == ["b", "b"]
    assert r1["output_tokens"].tolist() == [7, 7] and r1["propensity"].tolist() == [0.5, 0.5]
    assert r1["p_hat"].tolist() == [{"a": 0.9, "b": 0.4}] * 2
    assert json.loads(r1["attempts"].iloc[0]) == [{"llm_id": "a"}]
    assert r1["score"].tolist() == [0.25, 1.0] and r1["comment"].iloc[0] == "meh" and pd.isna(r1["comment"].iloc[1])
    assert r1["feedback_id"].tolist() == [first, second]
    X, ok = decode_embeddings(list(r1["query_embedding"]), 3)
    np.testing.assert_array_equal(X[0], embedding)
    assert ok.tolist() == [True, True]
    r2 = frame[frame["request_id"] == "r2"]
    assert r2["feedback_id"].isna().all() and r2["score"].isna().all()
    assert list(read_log(store_url, with_feedback_only=True)["request_id"]) == ["r1", "r1"]


def test_one_bad_row_fails_its_own_request_only(store_url: str) -> None:
    """A duplicate id and an integer past 2^63, among 40 concurrent writes: those two alone fail."""

    async def body(store: DecisionStore) -> list[object]:
        jobs = [store.add_decision(record(f"r{i}")) for i in range(40)]
        jobs += [store.add_decision(record("r7")), store.add_decision(record("huge", expected_output_tokens=2**63))]
        results: list[object] = list(await asyncio.gather(*jobs, return_exceptions=True))
        try:  # alone in its transaction
            await store.add_decision(record("huge-2", expected_output_tokens=2**63))
        except StorageError as exc:
            results.append(exc)
        await store.add_decision(record("after"))
        return results

    results = with_store(store_url, body)
    assert all(r is None for r in results[:40])
    assert all(isinstance(r, StorageError) for r in results[40:])
    assert set(read_log(store_url)["request_id"]) == {f"r{i}" for i in range(40)} | {"after"}


def test_the_health_probe_commits_a_row(store_url: str) -> None:
    assert with_store(store_url, lambda store: store.probe()) is None
    open_store(store_url).check()  # the synchronous form, as `irtrouter serve --check` runs it


def test_retention_deletes_old_decisions_and_feedback_and_keeps_the_rest(store_url: str) -> None:
    now = time.time()

    async def fill(store: DecisionStore) -> None:
        await store.add_decision(record("old", now - 10 * DAY))
        await store.add_decision(record("old-rated", now - 10 * DAY))
        await store.add_decision(record("recent", now - 1 * DAY))
        await store.add_feedback("old-rated", 1.0, None)
        await store.add_feedback("recent", 0.0, None)

    with_store(store_url, fill)
    # Back-date the feedback of the recent decision too: feedback older than the window goes alone.
    _execute(store_url, f"UPDATE feedback SET created_at = {now - 9 * DAY} WHERE request_id = 'recent'")

    async def wait_for_retention(store: DecisionStore) -> None:
        for _ in range(200):
            if set(read_log(store_url)["request_id"]) == {"recent"}:
                return
            await asyncio.sleep(0.05)

    with_store(store_url, wait_for_retention, retention_days=5, retention_interval_s=0.05)
    frame = read_log(store_url)
    assert list(frame["request_id"]) == ["recent"] and frame["feedback_id"].isna().all()
    assert with_store(store_url, lambda store: store.delete_older_than(now)) == (1, 0)


def _execute(url: str, sql: str) -> None:
    """A write outside the store (the tests' own back-dating)."""
    if backend_of(url) == "sqlite":
        import sqlite3

        from irtrouter.store import sqlite_path

        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(sql)


def test_reading_since_selects_by_creation_time(store_url: str) -> None:
    now = time.time()

    async def fill(store: DecisionStore) -> None:
        for i, age in enumerate((3, 2, 1)):
            await store.add_decision(record(f"r{i}", now - age * DAY))

    with_store(store_url, fill)
    assert list(read_log(store_url, since=now - 2.5 * DAY)["request_id"]) == ["r1", "r2"]
    assert list(read_log(store_url)["request_id"]) == ["r0", "r1", "r2"]


def test_urls_name_their_backend_and_bad_ones_are_one_clear_error() -> None:
    assert backend_of("sqlite:////abs/x.sqlite") == "sqlite"
    assert backend_of("postgres://u@h/d") == backend_of("postgresql://u@h/d") == "postgresql"
    for bad in ("mysql://u@h/d", "x.sqlite", "sqlite://x"):
        with pytest.raises(ConfigError, match="expected sqlite:///PATH"):
            open_store(bad)
    with pytest.raises(ConfigError) as info:
        backend_of("mysql://router:s3cret@h/d")
    assert "s3cret" not in str(info.value)
    assert redact_url("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"


def test_a_missing_database_is_a_storage_error_for_readers(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no decision database"):
        read_log(f"sqlite:///{tmp_path / 'none.sqlite'}")


def test_an_unwritable_sqlite_path_is_one_storage_error(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for path in (a_file / "log.sqlite", tmp_path):  # under a file; a directory (fails as root too)
        with pytest.raises(StorageError, match="cannot open the decision database"):
            open_store(f"sqlite:///{path}").check()
