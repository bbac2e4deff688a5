"""``server.workers: 2``: two uvicorn worker processes on one port, writing one SQLite store.

The real ``irtrouter serve`` with ``workers: 2`` in front of the fake provider; client threads
send ``/v1/route`` calls and chat completions at the same time, each request on a fresh
connection so that both workers accept some. Every acknowledged decision must be in the store
exactly once (the two processes' group commits take SQLite's write lock in turn), both workers
must have decided some of them (``/healthz`` names the worker's pid, ``/metrics`` its own counts),
and no provider key may appear in the log.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.errors import ConfigError
from irtrouter.serve import parse_config
from irtrouter.serve.config import check_config
from irtrouter.serve.workers import WORKER_ENV, app_from_environ
from tests.helpers import TOPIC_LLMS
from tests.serve.conftest import PROVIDER_KEYS, environ, serve_config
from tests.serve.processes import ServeProcess, post_query

CLIENTS = 12
PER_CLIENT = 16


def _decided(metrics: str) -> int:
    return sum(int(n) for n in re.findall(r"^irtrouter_decisions_total\{[^}]*\} (\d+)$", metrics, re.M))


def test_two_workers_record_every_acknowledged_decision_once(router_dir, provider_server, tmp_path: Path) -> None:
    db = tmp_path / "workers.sqlite"
    raw = serve_config(provider_server[1].url, db)
    raw["auth"] = {}
    raw["server"]["workers"] = 2
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(raw))
    server = ServeProcess(router_dir, config, environ(), workers=2)
    acknowledged: list[str] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for i in range(PER_CLIENT):
            text = f"client {worker} request {i}: integrate this function and prove the bound"
            with httpx.Client(base_url=server.url, timeout=30) as http:  # a new connection: either worker
                r = post_query(http, text, chat=bool(i % 2))
            assert r.status_code == 200, r.text
            assert "x-irtrouter-record" not in r.headers
            with lock:
                acknowledged.append(r.headers["x-irtrouter-request-id"])

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            for future in [pool.submit(client, w) for w in range(CLIENTS)]:
                future.result()
        # What each worker decided, read on one connection per scrape (so pid and counts are one worker's).
        per_worker: dict[int, int] = {}
        for _ in range(200):
            with httpx.Client(base_url=server.url, timeout=30) as http:
                pid = http.get("/healthz").json()["worker_pid"]
                per_worker[pid] = _decided(http.get("/metrics").text)
            if len(per_worker) == 2:
                break
    finally:
        server.stop()

    assert len(acknowledged) == CLIENTS * PER_CLIENT == len(set(acknowledged))
    assert len(per_worker) == 2, f"only worker(s) {sorted(per_worker)} answered"
    assert all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == len(acknowledged)
    conn = sqlite3.connect(db)
    stored = [r[0] for r in conn.execute("SELECT request_id FROM decisions")]
    ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    assert sorted(stored) == sorted(acknowledged)  # each acknowledged decision once, nothing else
    assert ok == "ok"
    log = "".join(server.log)
    assert log.count("Application startup complete") == 2
    assert not any(key in log for key in PROVIDER_KEYS.values())


def test_workers_need_a_shared_store_and_warn_about_admin_promotions(provider_server, tmp_path: Path) -> None:
    raw = serve_config(provider_server[1].url, tmp_path / "x.sqlite")
    raw["storage"]["url"] = "sqlite:///:memory:"
    raw["server"]["workers"] = 2
    raw["auth"]["admin_key_env"] = "TEST_ADMIN_KEY"
    env = {**environ(), "TEST_ADMIN_KEY": "admin-key-for-tests"}
    check = check_config(parse_config(raw), list(TOPIC_LLMS), env)
    assert any("server.workers > 1 needs a database file" in p for p in check.problems)
    assert any("POST /admin/router promotes the router of the one worker" in w for w in check.warnings)
    raw["server"]["workers"] = 1
    raw["storage"]["url"] = f"sqlite:///{tmp_path / 'x.sqlite'}"
    check = check_config(parse_config(raw), list(TOPIC_LLMS), env)
    assert check.ok and not any("server.workers" in w for w in check.warnings)
    raw["server"]["workers"] = 0
    with pytest.raises(ConfigError, match="workers"):
        parse_config(raw)


def test_serve_refuses_workers_with_ray_and_a_memory_db(router_dir, provider_server, tmp_path: Path) -> None:
    raw = serve_config(provider_server[1].url, tmp_path / "x.sqlite")
    raw["server"]["workers"] = 2
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(raw))
    base = ["serve", str(router_dir), "--config", str(config)]
    res = CliRunner().invoke(cli, [*base, "--ray"], env=environ())
    assert res.exit_code != 0 and "server.workers is for uvicorn" in res.output
    for check in ([], ["--check"]):  # --check judges the --db URL the service would use, too
        res = CliRunner().invoke(cli, [*base, *check, "--db", "sqlite:///:memory:"], env=environ())
        assert res.exit_code != 0 and "server.workers > 1 needs a database file" in res.output


def test_the_worker_factory_refuses_to_run_without_its_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKER_ENV, raising=False)
    with pytest.raises(ConfigError, match=WORKER_ENV):
        app_from_environ()
