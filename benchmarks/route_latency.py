"""Latency of routing one query, embedding included, with a saved router.

Loads a router saved by ``irtrouter train`` (numpy only), then routes N distinct real queries one
at a time through ``router.route`` (what ``irtrouter route`` and the service call) and reports
mean / p50 / p90 / p99 milliseconds, split into embedding and the rest. Separately times a few
whole ``irtrouter route`` processes (Python start-up, imports and router loading dominate those).

    python benchmarks/route_latency.py ROUTER_DIR [--queries 1000] [--cli-runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.routing import load_router


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (
        f"mean {a.mean():.2f} | p50 {np.percentile(a, 50):.2f} | p90 {np.percentile(a, 90):.2f} | "
        f"p99 {np.percentile(a, 99):.2f} | max {a.max():.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("router_dir")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()

    started = time.perf_counter()
    router = load_router(args.router_dir)
    load_ms = (time.perf_counter() - started) * 1000
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    pool = list(bench.test.queries) + list(bench.train.queries)
    queries = pool[: args.queries]
    router.route(queries[0])  # first call builds the embedding model; reported below as warm-up

    total, embed = [], []
    for q in queries:
        t0 = time.perf_counter()
        router.embedder_.encode([q])
        t1 = time.perf_counter()
        router.route(q, alpha=0.8)
        t2 = time.perf_counter()
        embed.append((t1 - t0) * 1000)
        total.append((t2 - t1) * 1000)
    chars = [len(q) for q in queries]
    print(
        f"router {args.router_dir}: predictor {router.predictor}, embedder {router.embedder_.name}, "
        f"{len(router.llm_ids)} LLMs, {len(router.neighbours_)} training queries; load {load_ms:.0f} ms"
    )
    print(
        f"{len(queries)} distinct queries (LLMRouter test then train; median {statistics.median(chars):.0f} "
        f"chars, max {max(chars)}), {os.cpu_count()} cores"
    )
    print(f"route() total, embedding included (ms): {percentiles(total)}")
    print(f"  of which embedding alone (ms):         {percentiles(embed)}")
    rest = np.asarray(total) - np.asarray(embed)
    print(f"  routing without embedding (ms):        mean {rest.mean():.2f} | p50 {np.percentile(rest, 50):.2f}")

    if args.cli_runs:
        runs = []
        for q in queries[: args.cli_runs]:
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "irtrouter.cli", "route", args.router_dir, q], check=True, capture_output=True
            )
            runs.append((time.perf_counter() - t0) * 1000)
        print(f"whole `irtrouter route` process over {len(runs)} runs (ms): {percentiles(runs)}")


if __name__ == "__main__":
    main()
