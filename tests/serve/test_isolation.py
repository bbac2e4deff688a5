"""One bad request fails alone (issue 14, defect 1): an out-of-range number is a 400, and a row
the store cannot bind fails its own write, never the group commit its neighbours share."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx

from irtrouter.errors import StorageError
from irtrouter.serve.overrides import MAX_TOKENS
from irtrouter.store import SQLiteStore
from tests.serve.conftest import CLIENT_KEY
from tests.serve.fake_upstream import ServerThread
from tests.serve.test_config_cli import record


def test_max_tokens_past_its_range_is_a_400_and_neighbours_are_answered(proxy: ServerThread, db) -> None:
    """Before, 2^63 reached SQLite as an integer it cannot bind and rolled back the whole batch (503)."""
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}

    def send(max_tokens: int) -> httpx.Response:
        body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": "sum of primes"}]}
        return httpx.post(f"{proxy.url}/v1/chat/completions", json={**body, "max_tokens": max_tokens}, headers=headers)

    sizes = [2**63, 64, 2**63 + 5, 32, MAX_TOKENS + 1, 16] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, sizes))
    for size, res in zip(sizes, answers, strict=True):
        if size > MAX_TOKENS:
            assert res.status_code == 400, res.text
            error = res.json()["error"]
            assert error["param"] == "max_tokens" and str(MAX_TOKENS) in error["message"]
        else:
            assert res.status_code == 200, res.text
            rid = res.headers["x-irtrouter-request-id"]
            assert db.execute("SELECT status FROM decisions WHERE request_id = ?", (rid,)).fetchone() is not None
    assert send(MAX_TOKENS).status_code == 200  # the bound itself is accepted


def test_a_row_sqlite_cannot_bind_fails_alone_in_its_group_commit(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    unbindable = replace(record("huge"), expected_output_tokens=2**63)

    async def scenario() -> list[object]:
        store = SQLiteStore(url)
        await store.start()
        try:
            jobs = [store.add_decision(record(f"r{i}")) for i in range(20)] + [store.add_decision(unbindable)]
            results = await asyncio.gather(*jobs, return_exceptions=True)
            try:  # alone in its transaction
                await store.add_decision(replace(unbindable, request_id="huge-2"))
            except StorageError as exc:
                results.append(exc)
            results.append(await store.add_decision(record("after")))  # the store goes on
            return results
        finally:
            await store.close()

    results = asyncio.run(scenario())
    assert all(r is None for r in results[:20]) and results[22] is None
    assert isinstance(results[20], StorageError) and isinstance(results[21], StorageError)
    conn = sqlite3.connect(tmp_path / "store.sqlite")
    ids = {r for (r,) in conn.execute("SELECT request_id FROM decisions")}
    assert ids == {f"r{i}" for i in range(20)} | {"after"}


def test_a_huge_query_is_embedded_capped(proxy: ServerThread, router_dir) -> None:
    """Issue 14, defect 2: a 60 kB query (under the test server's 64 kB body limit) is routed on its head and tail
    (``routing.max_query_chars``, default 1024), as the library routes the capped text."""
    from irtrouter.embed.base import cap_text
    from irtrouter.routing import load_router

    query = "prove that the sum of two primes is even " * 1_400  # ~58 kB
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    res = httpx.post(f"{proxy.url}/v1/route", json={"query": query}, headers=headers, timeout=60)
    assert res.status_code == 200, res.text
    expected = load_router(router_dir).route(cap_text(query, 1024), alpha=0.8)
    body = res.json()
    assert body["llm_id"] == expected.llm_id
    assert [row["p_hat"] for row in body["llms"]] == [round(p, 6) for p in expected.p_hat]


def test_max_query_chars_is_validated() -> None:
    import pytest

    from irtrouter.errors import ConfigError
    from irtrouter.serve import parse_config
    from tests.serve.conftest import serve_config

    raw = serve_config("http://127.0.0.1:1", "/tmp/never.sqlite")
    raw["routing"]["max_query_chars"] = 10
    with pytest.raises(ConfigError, match="max_query_chars"):
        parse_config(raw)
    raw["routing"]["max_query_chars"] = None
    assert parse_config(raw).routing.max_query_chars is None
