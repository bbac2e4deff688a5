"""What only the PostgreSQL backend has to get right: versioned migrations on a shared server,
replicas starting together, a lost connection, PostgreSQL's text rules. A real server throughout."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from irtrouter.errors import StorageError
from irtrouter.store import SCHEMA_VERSION
from irtrouter.store.postgres import PostgresStore, postgres_ddl
from irtrouter.store.reading import read_log
from irtrouter.store.records import DECISION_COLUMNS, MIGRATIONS
from tests.store.test_backends import record
from tests.store.test_migrations import SCHEMA_1


def columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'decisions'"
        ).fetchall()
    return {r[0] for r in rows}


def write_schema_1(url: str) -> None:
    """The log as schema 1 had it (the SQLite test's tables in PostgreSQL's types)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in SCHEMA_1.split(";"):
            if postgres_ddl(statement):
                conn.execute(postgres_ddl(statement))
        conn.execute("CREATE TABLE irtrouter_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO irtrouter_schema VALUES (1)")
        conn.execute(
            "INSERT INTO decisions (request_id, created_at, endpoint, profile, query_hash, llm_id, alpha, p_hat, "
            "decision, status) VALUES ('old', 1.0, 'route', 'auto', 'h', 'a', 0.8, '{}', '{}', 'routed')"
        )
        conn.execute("INSERT INTO feedback (request_id, created_at, score) VALUES ('old', 2.0, 1.0)")


def run(coro_factory):  # type: ignore[no-untyped-def]
    return asyncio.run(coro_factory())


def test_schema_1_on_postgres_migrates_in_place_and_keeps_its_rows(postgres_url: str) -> None:
    write_schema_1(postgres_url)
    assert "router_version" not in columns(postgres_url)
    assert set(MIGRATIONS) == set(range(2, SCHEMA_VERSION + 1))
    PostgresStore(postgres_url).check()
    assert columns(postgres_url) == set(DECISION_COLUMNS)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM irtrouter_schema").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT to_regclass('health')").fetchone() != (None,)
    frame = read_log(postgres_url)
    assert list(frame["request_id"]) == ["old"] and frame["score"].tolist() == [1.0]


def test_a_newer_schema_is_refused_untouched(postgres_url: str) -> None:
    PostgresStore(postgres_url).check()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE irtrouter_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StorageError, match=f"schema {SCHEMA_VERSION + 1}, this version writes {SCHEMA_VERSION}"):
        PostgresStore(postgres_url).check()


def test_a_foreign_decisions_table_is_refused(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE decisions (id int)")
    with pytest.raises(StorageError, match="not a decision log"):
        PostgresStore(postgres_url).check()


def test_replicas_starting_together_create_the_schema_once(postgres_url: str) -> None:
    async def scenario() -> None:
        stores = [PostgresStore(postgres_url) for _ in range(4)]
        await asyncio.gather(*(s.start() for s in stores))
        await asyncio.gather(*(s.add_decision(record(f"r{i}")) for i, s in enumerate(stores)))
        # Feedback through one replica for a decision another wrote.
        assert await stores[3].add_feedback("r0", 0.5, None) is not None
        await asyncio.gather(*(s.close() for s in stores))

    run(scenario)
    assert set(read_log(postgres_url)["request_id"]) == {"r0", "r1", "r2", "r3"}


def test_a_lost_connection_fails_the_batch_in_flight_and_the_next_reconnects(postgres_url: str) -> None:
    async def scenario() -> list[str]:
        store = PostgresStore(postgres_url)
        await store.start()
        try:
            await store.add_decision(record("before"))
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'irtrouter' AND pid <> pg_backend_pid()"
                )
            acknowledged = []
            for i in range(3):
                try:
                    await store.add_decision(record(f"after-{i}"))
                    acknowledged.append(f"after-{i}")
                except StorageError:
                    pass  # not acknowledged: the batch that found the connection gone
            return acknowledged
        finally:
            await store.close()

    acknowledged = run(scenario)
    assert len(acknowledged) >= 2 and "after-2" in acknowledged
    assert set(read_log(postgres_url)["request_id"]) == {"before", *acknowledged}


def test_nul_in_stored_text_is_kept_as_a_replacement_character(postgres_url: str) -> None:
    async def scenario() -> int | None:
        store = PostgresStore(postgres_url)
        await store.start()
        try:
            await store.add_decision(record("nul", query_text="a\x00b"))
            return await store.add_feedback("nul", 1.0, "c\x00d")
        finally:
            await store.close()

    assert run(scenario) is not None
    assert read_log(postgres_url)["query_text"].tolist() == ["a\ufffdb"]


def test_an_unreachable_server_is_one_storage_error_without_the_password(postgres_cluster) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql://postgres:hunter2@127.0.0.1:{postgres_cluster.port}/no_such_database"
    with pytest.raises(StorageError) as info:
        PostgresStore(url, connect_timeout=5).check()
    assert "no_such_database" in str(info.value) and "hunter2" not in str(info.value)
    assert "\n" not in str(info.value)


def test_reading_a_database_that_is_no_decision_log_names_it_without_the_password(postgres_cluster) -> None:  # type: ignore[no-untyped-def]
    """The server trusts the connection, so the password is ignored and the read gets as far as
    the missing tables: that message names the database, not the password."""
    url = postgres_cluster.new_database().replace("@", ":hunter2@", 1)
    with pytest.raises(StorageError) as info:
        read_log(url)
    assert "not a decision log" in str(info.value) and "hunter2" not in str(info.value)
