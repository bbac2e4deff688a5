"""What sessions, capabilities, budgets and savings cost on ``/v1/route`` latency (issue 14).

Two copies of the real service run in this process on loopback (uvicorn threads, SQLite stores in
a temporary folder), on the same router: **off** (sessions disabled, no client limits, no
capabilities declared) and **on** (a session header on every request, a named client key with a
daily budget and a requests-per-minute limit, capabilities declared for every LLM, the reference
cost recorded as always). The client sends the same queries to both, alternating A/B request by
request so that the machine's load falls on both alike, one at a time; the table gives p50 and
p99 of each and their ratio, with the load average before and after (the machine is shared).

    python benchmarks/serve_features.py ROUTER_DIR [--requests 400]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

from irtrouter.routing import load_router
from irtrouter.serve import ServeSettings, create_app, parse_config

QUERIES = [
    "Integrate x^2 from 0 to 3",
    "Write a python function that reverses a linked list",
    "Which treaty ended the Thirty Years' War?",
    "Explain the difference between TCP and UDP",
    "What is the derivative of sin(x) * x?",
    "Summarise the causes of the French revolution",
    "Fix the bug: for i in range(10) print(i)",
    "How many primes are below 100?",
]


class Server:
    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def config(router: Any, db: Path, features: bool) -> dict[str, Any]:
    llms: dict[str, Any] = {m: {"base_url": "http://127.0.0.1:9/v1"} for m in router.llm_ids}
    raw: dict[str, Any] = {"llms": llms, "storage": {"url": f"sqlite:///{db}"}, "sessions": {"enabled": features}}
    if features:
        for m in llms:
            llms[m]["capabilities"] = {"tools": True, "vision": False, "context_window": 128000}
        raw["auth"] = {"clients": {"bench": {"key_env": "BENCH_KEY", "daily_usd": 1e6, "requests_per_minute": 10**6}}}
    else:
        raw["auth"] = {"api_keys_env": ["BENCH_KEY"]}
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("router_dir")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    router = load_router(args.router_dir)
    env = {"BENCH_KEY": "bench-key"}
    headers = {"Authorization": "Bearer bench-key"}
    with tempfile.TemporaryDirectory() as tmp:
        apps = {
            name: create_app(
                ServeSettings(
                    config=parse_config(config(router, Path(tmp) / f"{name}.sqlite", name == "on")),
                    router=load_router(args.router_dir),
                    environ=env,
                )
            )
            for name in ("off", "on")
        }
        with Server(apps["off"]) as off_url, Server(apps["on"]) as on_url, httpx.Client(timeout=30) as http:
            urls = {"off": off_url, "on": on_url}
            times: dict[str, list[float]] = {"off": [], "on": []}
            load_before = os.getloadavg()[0]
            for i in range(args.requests + 20):
                body = {"messages": [{"role": "user", "content": QUERIES[i % len(QUERIES)] + f" ({i})"}]}
                for name in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    extra = {"x-irtrouter-session": f"s{i % 20}"} if name == "on" else {}
                    t0 = time.perf_counter()
                    r = http.post(f"{urls[name]}/v1/route", json=body, headers={**headers, **extra})
                    elapsed = time.perf_counter() - t0
                    r.raise_for_status()
                    if i >= 20:  # warm-up excluded
                        times[name].append(elapsed * 1000)
            load_after = os.getloadavg()[0]
    p = {n: (np.percentile(t, 50), np.percentile(t, 99)) for n, t in times.items()}
    print(f"/v1/route, {args.requests} requests each, one at a time, A/B interleaved")
    print(f"load average {load_before:.2f} -> {load_after:.2f}")
    print("| features | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for n in ("off", "on"):
        print(f"| {n} | {p[n][0]:.2f} | {p[n][1]:.2f} |")
    print(f"| on / off | {p['on'][0] / p['off'][0]:.3f} | {p['on'][1] / p['off'][1]:.3f} |")


if __name__ == "__main__":
    main()
