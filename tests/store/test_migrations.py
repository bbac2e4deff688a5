"""A decision log written by an older version opens in this one with every row kept."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from irtrouter.errors import StorageError
from irtrouter.store import SCHEMA_VERSION, SQLiteStore
from irtrouter.store.records import DECISION_COLUMNS, SCHEMA, SCHEMA_3

# The schema 1 tables, as version 1 of the log wrote them: schema 2 only added columns at the end,
# schema 3 the health table and two indexes (SCHEMA_3).
_UNCOMMENTED = re.sub(r"--[^\n]*", "", SCHEMA).split(SCHEMA_3[0], 1)[0]
_V1_DECISIONS, _REST = _UNCOMMENTED.split("router_version", 1)[0], _UNCOMMENTED.split(");", 1)[1]
SCHEMA_1 = _V1_DECISIONS.rstrip().rstrip(",") + "\n);" + _REST


def write_schema_1(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_1)
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO decisions (request_id, created_at, endpoint, profile, query_hash, llm_id, alpha, p_hat, "
        "decision, status) VALUES ('old', 1.0, 'route', 'auto', 'h', 'a', 0.8, '{}', '{}', 'routed')"
    )
    conn.execute("INSERT INTO feedback (request_id, created_at, score) VALUES ('old', 2.0, 1.0)")
    conn.commit()
    conn.close()


def test_schema_1_log_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_schema_1(path)
    columns_before = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(decisions)")}
    assert "router_version" not in columns_before

    async def open_and_close() -> None:
        store = SQLiteStore(f"sqlite:///{path}")
        await store.start()
        assert await store.add_feedback("old", 0.5, None) is not None
        await store.close()

    asyncio.run(open_and_close())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {r[1] for r in conn.execute("PRAGMA table_info(decisions)")} == set(DECISION_COLUMNS)
    assert conn.execute("SELECT request_id, llm_id FROM decisions").fetchall() == [("old", "a")]
    indexes = {r[1] for r in conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('index', 'table')")}
    assert {"health", "decisions_created", "feedback_created"} <= indexes
    assert [r[0] for r in conn.execute("SELECT score FROM feedback ORDER BY id")] == [1.0, 0.5]


def test_a_log_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    write_schema_1(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()

    async def open_it() -> None:
        await SQLiteStore(f"sqlite:///{path}").start()

    with pytest.raises(StorageError, match="schema"):
        asyncio.run(open_it())
    assert sqlite3.connect(path).execute("SELECT count(*) FROM decisions").fetchone()[0] == 1
