"""``irtrouter serve`` as a real process, for the tests that kill it or limit what it may write."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx


class ServeProcess:
    """``python -m irtrouter.cli serve ... --port 0``; the port is read from uvicorn's start-up line.

    ``preexec_fn`` runs in the child before it starts (the disk-full test sets a file size limit).
    ``workers``: wait until that many worker processes say their start-up is complete.
    """

    def __init__(
        self,
        router_dir: Path,
        config: Path,
        env: dict[str, str],
        *,
        preexec_fn: Callable[[], None] | None = None,
        workers: int = 1,
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "irtrouter.cli", "serve", str(router_dir), "--config", str(config), "--port", "0"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec_fn,
        )
        self.log: list[str] = []
        self.port: int | None = None
        self._workers, self._started = workers, 0
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
            self._started += "Application startup complete" in line
            if self.port is not None and self._started >= self._workers:
                self._ready.set()
        self._ready.set()  # the process ended

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a crash or the OOM killer would."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def post_query(http: httpx.Client, text: str, chat: bool) -> httpx.Response:
    """One routed request for ``text``: a chat completion (answered upstream) or ``/v1/route``."""
    if chat:
        return http.post(
            "/v1/chat/completions", json={"model": "irtrouter/auto", "messages": [{"role": "user", "content": text}]}
        )
    return http.post("/v1/route", json={"query": text})
