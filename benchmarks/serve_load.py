"""Load test of ``irtrouter serve``: routing latency, the proxy's added latency, memory.

Starts three things on loopback: a fake OpenAI-compatible provider that answers instantly (its
own process), the real service (``python -m irtrouter.cli serve ROUTER_DIR``, its own process,
SQLite decision store as configured by default), and, in this process, an asyncio load generator
with 1, 10 and 50 concurrent closed-loop clients sending distinct real LLMRouter queries. Per
concurrency level it measures

* ``/v1/route``: client-observed p50/p99 and requests/s, and the service's own routing time
  (``routing_ms`` of the stored decisions: from the request reaching the router to the decision,
  embedding included);
* ``/v1/chat/completions`` through the proxy vs the same request sent straight to the fake
  provider: the added p50/p99;
* the service's RSS (current and peak, from ``/proc``, summed over its worker processes) after the run.

Everything shares the machine's cores (the load generator too); the load average before and
after each level is printed because other processes change the figures.

Issue 16's targets are ratios to the embedding measured in the same run: this process loads the
router too (one BLAS thread, as the service) and embeds the route phase's queries one at a time
(``router.embed([query])``, what the service calls per request) before the first service starts
and after the last one stops, while no service is running; the ratios use the two passes
together. ``--workers 1 2`` starts the service once per worker count (``server.workers``) and
prints one table and one verdict block each.

    python benchmarks/serve_load.py ROUTER_DIR [--clients 1 10 50] [--requests 400] [--workers 1 2] [--route-only]

ROUTER_DIR: a router trained on real data, e.g. ``irtrouter train ../shared/data/llmrouter --out runs/llmrouter``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.routing import load_router

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }
).encode()


ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Any]


def chat_provider(answer: Callable[[bytes], bytes]) -> ASGIApp:
    """A raw ASGI chat provider (no framework, so it takes little of the cores): reads the request
    body and answers ``answer(body)`` at once, a chat completion in JSON."""

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        out = answer(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    return app


def run_provider(app: ASGIApp | None = None) -> None:
    """Serve ``app`` (default: a fixed chat completion) on a free loopback port; print the port."""
    import uvicorn

    app = chat_provider(lambda body: COMPLETION) if app is None else app
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


class Process:
    """A child process whose port is found in its output by ``pattern``; with ``ready`` it is
    started once that line has been printed ``ready_count`` times (one per worker)."""

    def __init__(self, args: list[str], pattern: str, ready: str | None = None, ready_count: int = 1) -> None:
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.port: int | None = None
        started = threading.Event()
        seen = 0

        def read() -> None:
            nonlocal seen
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                found = re.search(pattern, line)
                if found and self.port is None:
                    self.port = int(found.group(1))
                seen += ready is not None and ready in line
                if self.port is not None and (ready is None or seen >= ready_count):
                    started.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(300) or self.port is None:
            self.proc.kill()
            raise RuntimeError(f"{args} did not start:\n{''.join(self.lines)}")

    def pids(self) -> list[int]:
        """The process and its children (uvicorn's workers), from ``/proc``."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                todo.extend(int(c) for c in task.read_text().split())
        return out

    def rss_mb(self) -> tuple[float, float]:
        """Current and peak RSS, summed over the processes."""
        rss = peak = 0.0
        for pid in self.pids():
            status = Path(f"/proc/{pid}/status").read_text()
            kb = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
            rss, peak = rss + kb.get("VmRSS", 0) / 1024, peak + kb.get("VmHWM", 0) / 1024  # 0: a zombie
        return rss, peak

    def cpu_seconds(self) -> float:
        """User + system CPU time of the processes so far (robust to other load, unlike wall time)."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Connection:
    """A minimal HTTP/1.1 keep-alive client: a fraction of httpx's CPU per request, so on 2 cores
    the load generator takes less of the machine the service is measured on."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(x.split(b":")[1]) for x in lines[1:] if x.lower().startswith(b"content-length:"))
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def closed_loop(url: str, bodies: Iterator[dict[str, Any]], clients: int, n: int) -> tuple[np.ndarray, float]:
    """``clients`` concurrent clients send ``n`` requests in all; latencies (ms) and wall seconds."""
    parsed = httpx.URL(url)
    payloads = [json.dumps(next(bodies)).encode() for _ in range(n)]
    latencies: list[float] = []
    queue = iter(payloads)

    async def client() -> None:
        conn = Connection(parsed.host, parsed.port or 80)
        try:
            for body in queue:  # shared iterator: each payload is sent once
                t0 = time.perf_counter()
                status, answer = await conn.post(parsed.path, body)
                latencies.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    raise RuntimeError(f"{url}: {status} {answer[:200]!r}")
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return np.asarray(latencies), time.perf_counter() - started


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q))


def embedding_ms(router: Any, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Wall and thread-CPU ms of ``router.embed([q])`` per query, one at a time (the service's
    per-request call; the CPU time leaves out waiting for a core on a shared machine)."""
    wall, cpu = [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.thread_time()
        router.embed([q])
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return np.asarray(wall), np.asarray(cpu)


def run_service(
    args: argparse.Namespace, workers: int, provider: Process, queries: list[str], llm_ids: list[Any]
) -> list[dict[str, Any]]:
    """Start the service with ``workers`` processes, run every level, stop it; one row per level."""
    tmp = Path(tempfile.mkdtemp(prefix="serve-load-"))
    db = tmp / "decisions.sqlite"
    config = {
        "llms": {m["llm_id"]: {"base_url": f"http://127.0.0.1:{provider.port}/v1"} for m in llm_ids},
        "storage": {"url": f"sqlite:///{db}"},
        "server": {"blas_threads": args.blas_threads, "workers": workers},
    }
    (tmp / "serve.yaml").write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    port = ["--port", "0"]
    service = Process(
        [sys.executable, "-m", "irtrouter.cli", "serve", args.router_dir, "--config", str(tmp / "serve.yaml"), *port],
        r"Uvicorn running on http://127\.0\.0\.1:(\d+)",
        ready="Application startup complete",
        ready_count=workers,
    )
    print(
        f"workers {workers}: service up in {time.perf_counter() - started:.1f}s; "
        f"RSS after start {service.rss_mb()[0]:.0f} MB"
    )
    base = f"http://127.0.0.1:{service.port}"
    direct = f"http://127.0.0.1:{provider.port}/v1/chat/completions"

    def bodies(kind: str, start: int = 0) -> Iterator[dict[str, Any]]:
        for i in itertools.count(start):
            q = queries[i % len(queries)]
            if kind == "route":
                yield {"query": q}
            else:
                yield {"model": "irtrouter/auto", "messages": [{"role": "user", "content": q}], "max_tokens": 64}

    rows = []
    nan = float("nan")
    try:
        # Warm-up on other texts, enough requests that every worker has served some.
        asyncio.run(closed_loop(f"{base}/v1/route", bodies("route", -40 * workers), 4, 40 * workers))
        if not args.route_only:
            asyncio.run(closed_loop(f"{base}/v1/chat/completions", bodies("chat", -40), 4, 40))
        for clients in args.clients:
            load_before = os.getloadavg()[0]
            n = max(args.requests, 4 * clients)
            cpu0 = service.cpu_seconds()
            route_ms, route_s = asyncio.run(closed_loop(f"{base}/v1/route", bodies("route"), clients, n))
            route_cpu = (service.cpu_seconds() - cpu0) / n * 1000
            conn = sqlite3.connect(db)
            server_ms = np.array(
                [
                    r[0]
                    for r in conn.execute(
                        "SELECT routing_ms FROM decisions WHERE endpoint = 'route' ORDER BY created_at DESC LIMIT ?",
                        (n,),
                    )
                ]
            )
            conn.close()
            row: dict[str, Any] = {
                "workers": workers,
                "clients": clients,
                "n": n,
                "load_before": load_before,
                "route_p50": pct(route_ms, 50),
                "route_p99": pct(route_ms, 99),
                "route_rps": n / route_s,
                "route_cpu": route_cpu,
                "server_route_p50": pct(server_ms, 50),
                "server_route_p99": pct(server_ms, 99),
            }
            if args.route_only:
                row.update(
                    {k: nan for k in ("chat_cpu", "direct_p50", "direct_p99", "proxy_p50", "proxy_p99", "proxy_rps")}
                )
                row.update(added_p50=nan, added_p99=nan)
            else:
                direct_ms, _ = asyncio.run(closed_loop(direct, bodies("chat"), clients, n))
                cpu0 = service.cpu_seconds()
                proxy_ms, proxy_s = asyncio.run(closed_loop(f"{base}/v1/chat/completions", bodies("chat"), clients, n))
                row.update(
                    chat_cpu=(service.cpu_seconds() - cpu0) / n * 1000,
                    direct_p50=pct(direct_ms, 50),
                    direct_p99=pct(direct_ms, 99),
                    proxy_p50=pct(proxy_ms, 50),
                    proxy_p99=pct(proxy_ms, 99),
                    proxy_rps=n / proxy_s,
                    added_p50=pct(proxy_ms, 50) - pct(direct_ms, 50),
                    added_p99=pct(proxy_ms, 99) - pct(direct_ms, 99),
                )
            row["rss"], row["peak_rss"] = service.rss_mb()
            row["load_after"] = os.getloadavg()[0]
            rows.append(row)
    finally:
        service.stop()
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| clients | /v1/route p50 / p99 ms | route req/s | service CPU ms per route | service routing_ms p50 / p99 "
        "| provider direct p50 / p99 ms | via proxy p50 / p99 ms | added p50 / p99 ms | chat req/s "
        "| service CPU ms per chat | RSS (peak) MB | load avg before -> after |"
    )
    print("|---" * 12 + "|")
    for r in rows:
        print(
            f"| {r['clients']} | {r['route_p50']:.1f} / {r['route_p99']:.1f} | {r['route_rps']:.0f} "
            f"| {r['route_cpu']:.1f} | {r['server_route_p50']:.1f} / {r['server_route_p99']:.1f} "
            f"| {r['direct_p50']:.1f} / {r['direct_p99']:.1f} "
            f"| {r['proxy_p50']:.1f} / {r['proxy_p99']:.1f} | {r['added_p50']:.1f} / {r['added_p99']:.1f} "
            f"| {r['proxy_rps']:.0f} | {r['chat_cpu']:.1f} | {r['rss']:.0f} ({r['peak_rss']:.0f}) "
            f"| {r['load_before']:.1f} -> {r['load_after']:.1f} |"
        )


def print_verdicts(rows: list[dict[str, Any]], emb: np.ndarray, emb_cpu: np.ndarray, cores: int) -> None:
    """Issue 16's three service targets, as ratios to the embedding measured in this run.

    On a shared machine the service may not get ``cores`` cores: the last line per worker count
    also gives the cores it did get (route req/s x its CPU per route) and the throughput per
    core obtained against one core's embedding rate (1 / the embedding's mean thread CPU)."""
    e50, e99, emean = pct(emb, 50), pct(emb, 99), float(emb.mean())
    capacity = cores / (emean / 1000)  # requests/s if the cores did nothing but embed
    print("| workers | target | measured | ratio | limit | verdict |\n|---|---|---|---|---|---|")
    for r in rows:
        w = r["workers"]
        if r["clients"] == 1:
            for name, value, limit in (("p50", r["route_p50"], 1.5), ("p99", r["route_p99"], 3.0)):
                ratio = value / e50
                verdict = "met" if ratio <= limit else f"missed by {ratio / limit:.2f}x"
                print(
                    f"| {w} | `/v1/route` {name}, 1 client / embedding p50 | {value:.2f} ms / {e50:.2f} ms "
                    f"| {ratio:.2f} | <= {limit} | {verdict} |"
                )
        if r["clients"] == 10:
            ratio = r["route_rps"] / capacity
            verdict = "met" if ratio >= 0.8 else f"missed ({ratio / 0.8:.2f} of the target)"
            print(
                f"| {w} | route req/s, 10 clients / ({cores} cores / embedding mean {emean:.2f} ms) "
                f"| {r['route_rps']:.0f} / {capacity:.0f} | {ratio:.2f} | >= 0.8 | {verdict} |"
            )
            obtained = r["route_rps"] * r["route_cpu"] / 1000
            per_core = (r["route_rps"] / obtained) / (1000 / float(emb_cpu.mean()))
            print(
                f"| {w} | the same per core obtained ({obtained:.2f} cores) / (1 core / embedding CPU mean "
                f"{emb_cpu.mean():.2f} ms) | {r['route_rps'] / obtained:.0f} / {1000 / emb_cpu.mean():.0f} "
                f"| {per_core:.2f} | >= 0.8 | {'met' if per_core >= 0.8 else 'missed'} |"
            )
    print(
        f"\nembedding (this process, one BLAS thread, {len(emb)} calls): p50 {e50:.2f} ms, p99 {e99:.2f} ms, "
        f"mean {emean:.2f} ms, p99 / p50 {e99 / e50:.2f} (with cores / p50 instead of the mean the 10-client "
        f"capacity would be {cores / (e50 / 1000):.0f} req/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("router_dir", nargs="?")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint and level (after warm-up)")
    parser.add_argument("--blas-threads", type=int, default=1, help="the service's server.blas_threads")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server.workers, one service run each")
    parser.add_argument("--route-only", action="store_true", help="skip the chat-completion phases")
    parser.add_argument("--fake-provider", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_provider:
        run_provider()
        return
    if not args.router_dir:
        parser.error("ROUTER_DIR is required")

    from irtrouter.serve.workers import limit_blas_threads

    router = load_router(args.router_dir)
    limit_blas_threads(router, args.blas_threads)
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    queries = list(dict.fromkeys([*bench.test.queries, *bench.train.queries]))
    cores = os.cpu_count() or 1
    print(
        f"router {args.router_dir}: {router.predictor}, embedder {router.embedder_.name}, {len(router.llm_ids)} LLMs, "
        f"{len(router.neighbours_)} training queries; {len(queries)} distinct LLMRouter queries "
        f"(median {int(np.median([len(q) for q in queries]))} chars); {cores} cores"
    )
    # Every phase sends the same queries in the same order (a seeded shuffle of the pool), so
    # /v1/route, the direct calls, the proxied calls and the embedding are compared on equal texts.
    order = np.random.default_rng(0).permutation(len(queries))
    queries = [queries[i] for i in order]
    measured = queries[: max(args.requests, 4 * max(args.clients))]
    router.embed(queries[-20:])  # build the encoder
    embedding_ms(router, queries[-20:])
    load0 = os.getloadavg()[0]
    emb_before, cpu_before = embedding_ms(router, measured)

    provider = Process([sys.executable, __file__, "--fake-provider"], r"^(\d+)$")
    llm_ids = json.loads((Path(args.router_dir) / "config.json").read_text())["llms"]
    rows: list[dict[str, Any]] = []
    try:
        for workers in args.workers:
            rows += run_service(args, workers, provider, queries, llm_ids)
    finally:
        provider.stop()
    load1 = os.getloadavg()[0]
    emb_after, cpu_after = embedding_ms(router, measured)
    emb, emb_cpu = np.concatenate([emb_before, emb_after]), np.concatenate([cpu_before, cpu_after])

    print(
        f"\nembedding before the HTTP phases: p50 {pct(emb_before, 50):.2f} / p99 {pct(emb_before, 99):.2f} ms "
        f"(load {load0:.1f}); after: p50 {pct(emb_after, 50):.2f} / p99 {pct(emb_after, 99):.2f} ms "
        f"(load {load1:.1f} -> {os.getloadavg()[0]:.1f}); thread CPU of the embedding, both passes: "
        f"p50 {pct(emb_cpu, 50):.2f} / p99 {pct(emb_cpu, 99):.2f} / mean {emb_cpu.mean():.2f} ms"
    )
    for workers in args.workers:
        print(f"\nworkers {workers}:\n")
        print_table([r for r in rows if r["workers"] == workers])
    print()
    print_verdicts(rows, emb, emb_cpu, cores)


if __name__ == "__main__":
    main()
