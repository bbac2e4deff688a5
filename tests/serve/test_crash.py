"""kill -9 the service during a burst: every acknowledged decision and feedback row survives.

The service runs as a real ``irtrouter serve`` process. Client threads send chat completions,
``/v1/route`` calls and feedback on their own earlier requests as fast as they can; once enough
are acknowledged, the process gets SIGKILL with requests still in flight. A new process on the
same database then answers feedback for a request acknowledged before the crash, and the
database holds every acknowledged row.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.serve.conftest import environ, serve_config

CLIENTS = 12
KILL_AFTER_ACKS = int(os.environ.get("IRTROUTER_CRASH_ACKS", "150"))


class ServeProcess:
    """``python -m irtrouter.cli serve ... --port 0``; the port is read from uvicorn's start-up line."""

    def __init__(self, router_dir: Path, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "irtrouter.cli", "serve", str(router_dir), "--config", str(config), "--port", "0"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.port: int | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._ready.wait(120) or self.port is None:
            self.proc.kill()
            raise RuntimeError("irtrouter serve did not start:\n" + "".join(self.log))
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                self._ready.set()
        self._ready.set()  # the process ended

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def crash_setup(router_dir, provider_server, tmp_path) -> Iterator[tuple[Path, Path]]:
    db = tmp_path / "crash.sqlite"
    raw = serve_config(provider_server[1].url, db)
    raw["auth"] = {}
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(raw))
    yield config, db


def test_kill_9_during_a_burst_loses_nothing_acknowledged(router_dir, crash_setup) -> None:
    config, db = crash_setup
    server = ServeProcess(router_dir, config, environ())
    acked_decisions: list[str] = []
    acked_feedback: list[tuple[int, str]] = []
    stop = threading.Event()
    failures = [0]

    def client(worker: int) -> None:
        mine: list[str] = []
        with httpx.Client(base_url=server.url, timeout=10) as http:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if mine and i % 3 == 0:
                        r = http.post("/v1/feedback", json={"request_id": mine[-1], "score": (i % 5) / 4})
                        if r.status_code == 200:
                            acked_feedback.append((r.json()["id"], mine[-1]))
                        continue
                    text = f"worker {worker} request {i}: solve the integral of this equation"
                    if i % 2:
                        r = http.post(
                            "/v1/chat/completions",
                            json={"model": "irtrouter/auto", "messages": [{"role": "user", "content": text}]},
                        )
                    else:
                        r = http.post("/v1/route", json={"query": text})
                    if r.status_code == 200:
                        request_id = r.headers["x-irtrouter-request-id"]
                        acked_decisions.append(request_id)
                        mine.append(request_id)
                except httpx.HTTPError:
                    failures[0] += 1  # only after the kill: the request in flight, or the next one
                    return

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, w) for w in range(CLIENTS)]
        deadline = time.monotonic() + 120
        while len(acked_decisions) + len(acked_feedback) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for f in futures:
            f.result()
    decisions_at_kill, feedback_at_kill = list(acked_decisions), list(acked_feedback)
    assert len(decisions_at_kill) + len(feedback_at_kill) >= KILL_AFTER_ACKS and feedback_at_kill

    restarted = ServeProcess(router_dir, config, environ())
    try:
        again = httpx.post(f"{restarted.url}/v1/feedback", json={"request_id": decisions_at_kill[0], "score": 1.0})
        assert again.status_code == 200
    finally:
        restarted.stop()

    conn = sqlite3.connect(db)
    stored = {r[0] for r in conn.execute("SELECT request_id FROM decisions")}
    missing = [r for r in decisions_at_kill if r not in stored]
    assert not missing, f"{len(missing)} acknowledged decisions lost"
    feedback = {(r[0], r[1]) for r in conn.execute("SELECT id, request_id FROM feedback")}
    lost = [f for f in feedback_at_kill if f not in feedback]
    assert not lost, f"{len(lost)} acknowledged feedback rows lost"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(
        f"crash: {len(decisions_at_kill)} decisions and {len(feedback_at_kill)} feedback rows acknowledged before "
        f"kill -9, {failures[0]} client requests cut off by the kill; all acknowledged rows present after restart"
    )
