"""kill -9 a service process during a burst: every acknowledged decision and feedback row survives.

The service runs as real ``irtrouter serve`` processes: one on a SQLite file, or two on one
PostgreSQL database (replicas sharing the log, issue 15). Twenty client threads send chat
completions, ``/v1/route`` calls and feedback on their own earlier requests as fast as they can;
once enough are acknowledged, one process gets SIGKILL with requests still in flight. With two
replicas its clients move to the other one, as behind a load balancer, and the survivor goes on
acknowledging. A new process on the same store then takes feedback for a request the killed one
acknowledged, and the store holds every acknowledged row.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from irtrouter.store import sqlite_path
from irtrouter.store.reading import read_log
from tests.serve.conftest import environ, serve_config
from tests.serve.processes import ServeProcess, post_query

CLIENTS = 20
KILL_AFTER_ACKS = int(os.environ.get("IRTROUTER_CRASH_ACKS", "150"))
ACKS_AFTER_KILL = 60  # with replicas: what the survivor must acknowledge after the kill


class Burst:
    """What the clients were told: acknowledged decisions (and by which process) and feedback rows."""

    def __init__(self, servers: list[ServeProcess]) -> None:
        self.servers = servers
        self.dead: set[int] = set()
        self.decisions: list[tuple[str, int]] = []  # (request id, index of the process that acknowledged it)
        self.feedback: list[tuple[int, str]] = []  # (feedback id, request id)
        self.cut_off = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def acks(self) -> int:
        return len(self.decisions) + len(self.feedback)

    def client(self, worker: int) -> None:
        mine: list[str] = []
        at = worker % len(self.servers)
        https = [httpx.Client(base_url=s.url, timeout=10) for s in self.servers]
        i = 0
        try:
            while not self.stop.is_set():
                i += 1
                try:
                    self._one(https[at], at, worker, i, mine)
                except httpx.HTTPError:  # only after the kill: the request in flight, or the next one
                    with self._lock:
                        self.cut_off += 1
                    alive = [k for k in range(len(self.servers)) if k not in self.dead]
                    if not alive or alive == [at]:
                        return
                    at = alive[worker % len(alive)]  # the load balancer sends it elsewhere
        finally:
            for http in https:
                http.close()

    def _one(self, http: httpx.Client, at: int, worker: int, i: int, mine: list[str]) -> None:
        if mine and i % 3 == 0:
            r = http.post("/v1/feedback", json={"request_id": mine[-1], "score": (i % 5) / 4})
            if r.status_code == 200:
                self.feedback.append((r.json()["id"], mine[-1]))
            return
        text = f"worker {worker} request {i}: solve the integral of this equation"
        r = post_query(http, text, chat=bool(i % 2))
        if r.status_code == 200:
            assert "x-irtrouter-record" not in r.headers  # every answer here was recorded
            request_id = r.headers["x-irtrouter-request-id"]
            self.decisions.append((request_id, at))
            mine.append(request_id)


def wait_until(condition, seconds: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_during_a_burst_loses_nothing_acknowledged(
    backend: str, router_dir, provider_server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'crash.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    replicas = 1 if backend == "sqlite" else 2
    raw = serve_config(provider_server[1].url, tmp_path / "unused.sqlite")
    raw["auth"] = {}
    raw["storage"]["url"] = url
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(raw))

    servers = [ServeProcess(router_dir, config, environ()) for _ in range(replicas)]
    burst = Burst(servers)
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(burst.client, w) for w in range(CLIENTS)]
            wait_until(lambda: burst.acks() >= KILL_AFTER_ACKS)
            burst.dead.add(0)
            servers[0].kill()
            acks_at_kill = burst.acks()
            if replicas > 1:
                wait_until(lambda: burst.acks() >= acks_at_kill + ACKS_AFTER_KILL)
            burst.stop.set()
            for f in futures:
                f.result()
        decisions, feedback = list(burst.decisions), list(burst.feedback)
        assert acks_at_kill >= KILL_AFTER_ACKS and feedback
        if replicas > 1:  # the survivor went on while the other lay dead
            assert len(decisions) + len(feedback) >= acks_at_kill + ACKS_AFTER_KILL
            assert {at for _, at in decisions} == {0, 1}

        restarted = ServeProcess(router_dir, config, environ())
        try:
            by_killed = next(rid for rid, at in decisions if at == 0)
            again = httpx.post(f"{restarted.url}/v1/feedback", json={"request_id": by_killed, "score": 1.0})
            assert again.status_code == 200
            chat = httpx.post(
                f"{restarted.url}/v1/chat/completions",
                json={"model": "irtrouter/auto", "messages": [{"role": "user", "content": "and after the crash?"}]},
            )
            assert chat.status_code == 200 and "x-irtrouter-record" not in chat.headers
        finally:
            restarted.stop()
    finally:
        for server in servers:
            server.stop()

    log = read_log(url)
    stored = set(log["request_id"])
    missing = [rid for rid, _ in decisions if rid not in stored]
    assert not missing, f"{len(missing)} acknowledged decisions lost"
    rows = {(int(i), r) for i, r in zip(log["feedback_id"], log["request_id"], strict=True) if pd.notna(i)}
    lost = [f for f in feedback if f not in rows]
    assert not lost, f"{len(lost)} acknowledged feedback rows lost"
    assert chat.headers["x-irtrouter-request-id"] in stored
    if backend == "sqlite":
        assert sqlite3.connect(sqlite_path(url)).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(
        f"crash ({backend}, {replicas} process(es)): {len(decisions)} decisions and {len(feedback)} feedback rows "
        f"acknowledged ({acks_at_kill} before kill -9), {burst.cut_off} requests cut off by the kill; all present"
    )
