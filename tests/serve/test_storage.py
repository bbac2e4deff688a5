"""When the store cannot write (issue 14, defects 3 and 7): a paid answer still reaches the client,
marked unsaved and counted; ``/v1/route`` and ``/healthz`` say 503; ``irtrouter serve`` with a
store it cannot open is one line and a non-zero exit, and ``--check`` really opens and writes it.

The full disk is real: the service process runs under a file size limit (``RLIMIT_FSIZE``, what
``ulimit -f`` sets), with SIGXFSZ ignored so that a write past it fails with EFBIG, as on a full
disk, instead of killing the process.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from irtrouter.store.reading import read_log
from tests.serve.conftest import environ, serve_config
from tests.serve.processes import ServeProcess

FILE_LIMIT = 256 * 1024  # bytes: the WAL reaches it after some tens of commits
MAX_CHATS = 400


def limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def write_config(tmp_path: Path, provider_url: str, db: Path) -> Path:
    raw = serve_config(provider_url, db)
    raw["auth"] = {}
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


def chat(http: httpx.Client, i: int) -> httpx.Response:
    body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": f"request {i}: integrate x^2"}]}
    return http.post("/v1/chat/completions", json=body)


def test_a_full_disk_keeps_paid_answers_marks_them_unsaved_and_turns_health_red(
    router_dir, provider_server, tmp_path: Path
) -> None:
    db = tmp_path / "full.sqlite"
    server = ServeProcess(router_dir, write_config(tmp_path, provider_server[1].url, db), environ(),
                          preexec_fn=limit_file_size)  # fmt: skip
    saved, unsaved = [], []
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/healthz").status_code == 200
            for i in range(MAX_CHATS):
                r = chat(http, i)
                # The provider answered and was paid: the client gets the answer, whatever the store did.
                assert r.status_code == 200, r.text
                assert r.json()["choices"][0]["message"]["content"]
                rid = r.headers["x-irtrouter-request-id"]
                if r.headers.get("x-irtrouter-record") == "unsaved":
                    assert r.json()["irtrouter"]["record"] == "unsaved"
                    unsaved.append(rid)
                    if len(unsaved) >= 5:
                        break
                else:
                    assert not unsaved, "a write succeeded after the disk filled up"
                    assert "record" not in r.json()["irtrouter"]
                    saved.append(rid)
            assert saved and len(unsaved) == 5, f"the disk never filled up in {MAX_CHATS} chats"

            metrics = http.get("/metrics").text
            assert 'irtrouter_unsaved_records_total{endpoint="chat"} 5' in metrics
            health = http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["database"] == "unwritable" and "full" in health.json()["database_error"]
            route = http.post("/v1/route", json={"query": "nothing paid for yet"})
            assert route.status_code == 503 and route.json()["error"]["code"] == "storage_unavailable"
            feedback = http.post("/v1/feedback", json={"request_id": saved[0], "score": 1.0})
            assert feedback.status_code == 503
    finally:
        server.stop()
    stored = set(read_log(f"sqlite:///{db}")["request_id"])
    assert set(saved) <= stored and not set(unsaved) & stored  # the marks told the truth


def run_serve(router_dir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "irtrouter.cli", "serve", str(router_dir), "--config", str(config), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**environ(), "PATH": ""})


def test_serve_with_a_store_it_cannot_open_is_one_line_and_a_non_zero_exit(router_dir, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    config = write_config(tmp_path, "http://127.0.0.1:9", tmp_path / "ok.sqlite")
    # Under a regular file, and a directory: unwritable even as root.
    for bad in (a_file / "d.sqlite", tmp_path):
        for extra in ((), ("--check",)):
            done = run_serve(router_dir, config, "--db", f"sqlite:///{bad}", "--port", "0", *extra)
            assert done.returncode == 1, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
            assert lines[0].startswith("irtrouter: error: ") and "cannot open the decision database" in lines[0]


def test_check_opens_and_writes_the_store(router_dir, tmp_path: Path) -> None:
    db = tmp_path / "checked.sqlite"
    done = run_serve(router_dir, write_config(tmp_path, "http://127.0.0.1:9", db), "--check")
    assert done.returncode == 0, done.stderr
    assert f"decision store sqlite:///{db}: OK (opened, a write committed)" in done.stdout
    assert db.is_file() and read_log(f"sqlite:///{db}").empty
