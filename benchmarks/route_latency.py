"""Latency of routing one query, embedding included, with a saved router (issue 16's table).

Loads a router saved by ``irtrouter train`` (numpy only), then, in one run:

* routes N distinct real queries one at a time through ``router.route`` (what ``irtrouter route``
  and the service call), each preceded by its embedding alone (``router.embed``, capped text) and
  by the uncapped embedding (``router.embedder_.encode``): p50 / p99 of each;
* times the bare formula (the predictor's P-hat of one embedded query) and reports the decision
  overhead ``route p50 - embedding p50`` and its ratio to the formula;
* where the overhead goes: p50 of each step of routing one embedded query (neighbour search,
  prediction, rule and guard, explanation);
* the batch path on already embedded queries: ``route_many_embedded(..., explain=False)``
  (neighbour search, formula, guard, decisions) and ``choose`` on a ready ``Prediction``, in
  decisions per second;
* the load average before and after (the machine is shared: compare the ratios).

Separately times a few whole ``irtrouter route`` processes (start-up, imports and loading dominate).

    python benchmarks/route_latency.py ROUTER_DIR [--queries 1000] [--batch 20000] [--cli-runs 10]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.embed.threads import ROUTE_BLAS_THREADS, blas_threads
from irtrouter.routing import load_router


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (
        f"mean {a.mean():.2f} | p50 {np.percentile(a, 50):.2f} | p90 {np.percentile(a, 90):.2f} | "
        f"p99 {np.percentile(a, 99):.2f} | max {a.max():.2f}"
    )


def p50_p99(ms: list[float] | np.ndarray) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def best_of(fn, repeats: int = 5) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def decision_parts(router, X: np.ndarray, queries: list[str]) -> dict[str, float]:
    """p50 microseconds of each step of routing one embedded query (the overhead's breakdown)."""
    k = max(router.warmup_k_, router.relevance_k, router.knn_blend_[0] if router.knn_blend_ else 0)
    pred = router.predict_embedded(X[:1], queries[:1])
    steps = {
        "neighbour search": lambda i: router.neighbours_.search(X[i : i + 1], k),
        "bare formula": lambda i: router.predictor_.predict_proba(X[i : i + 1]),
        "prediction (search, warm-up, formula, blend, calibration, cost)": lambda i: router.predict_embedded(
            X[i : i + 1], queries[i : i + 1]
        ),
        "rule + guard on a ready Prediction": lambda i: router.choose(pred, alpha=0.8),
        "route_many_embedded, explain=False": lambda i: router.route_many_embedded(
            X[i : i + 1], queries[i : i + 1], explain=False
        ),
        "route_many_embedded, explained": lambda i: router.route_many_embedded(X[i : i + 1], queries[i : i + 1]),
    }
    out = {}
    with blas_threads(ROUTE_BLAS_THREADS):  # as route() runs one query
        for name, step in steps.items():
            step(0)
            times = []
            for i in range(len(X)):
                t0 = time.perf_counter()
                step(i)
                times.append(time.perf_counter() - t0)
            out[name] = float(np.median(times)) * 1e6
    return {**out, "k": float(k)}


def decision_alone(router, X: np.ndarray, queries: list[str]) -> tuple[float, float]:
    """p50 and p99 ms of routing one embedded query, explained (route() less its embedding)."""
    times = []
    with blas_threads(ROUTE_BLAS_THREADS):
        router.route_many_embedded(X[:1], queries[:1])
        for _ in range(3):
            for i in range(len(X)):
                t0 = time.perf_counter()
                router.route_many_embedded(X[i : i + 1], queries[i : i + 1])
                times.append((time.perf_counter() - t0) * 1000)
    return p50_p99(times)


def search_bounds(router, X: np.ndarray, k: int) -> tuple[float, float]:
    """Seconds of the exact search's similarity product and of its top-k selection alone, on ``X``
    (the floor of the batch path while the search is exact)."""
    E = router.neighbours_.embeddings
    block = X[:1024]
    blocks = -(-len(X) // len(block))
    product_s = best_of(lambda: [block @ E.T for _ in range(blocks)], 3)
    sims = block @ E.T
    select_s = best_of(lambda: [np.argpartition(-sims, k - 1, axis=1) for _ in range(blocks)], 3)
    return product_s, select_s


def without_neighbour_stages(router):
    """A copy of ``router`` that skips the warm-up and the kNN blend (and so the neighbour search)."""
    bare = copy.copy(router)
    bare.warmup_lambda = bare.warmup_lambda_ = 0.0
    bare.knn_blend_ = None
    return bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("router_dir")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=20000, help="queries of the batch-path measurement")
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()

    load_before = os.getloadavg()
    started = time.perf_counter()
    router = load_router(args.router_dir)
    load_ms = (time.perf_counter() - started) * 1000
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    pool = list(bench.test.queries) + list(bench.train.queries)
    queries = pool[: args.queries]
    router.route(queries[0])  # first call builds the embedding model; reported below as warm-up

    total, embed, raw = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        router.embedder_.encode([q])
        t1 = time.perf_counter()
        router.embed([q])
        t2 = time.perf_counter()
        router.route(q, alpha=0.8)
        t3 = time.perf_counter()
        raw.append((t1 - t0) * 1000)
        embed.append((t2 - t1) * 1000)
        total.append((t3 - t2) * 1000)

    # The bare formula: the predictor's P-hat of one embedded query, nothing else.
    x = router.embed(queries[:1])
    formula_ms = best_of(lambda: [router.predictor_.predict_proba(x) for _ in range(1000)]) / 1000 * 1000

    X = router.embed(queries)
    parts = decision_parts(router, X[:200], queries[:200])
    reps = -(-args.batch // len(queries))
    X_big, q_big = np.tile(X, (reps, 1))[: args.batch], (queries * reps)[: args.batch]
    batch_s = best_of(lambda: router.route_many_embedded(X_big, q_big, alpha=0.8, explain=False), 3)
    pred = router.predict_embedded(X_big, q_big)
    choose_s = best_of(lambda: router.choose(pred, alpha=0.8), 5)
    arrays_s = best_of(lambda: router.choose(router.predict_embedded(X_big, q_big), alpha=0.8), 3)
    search_s = best_of(lambda: router.neighbours_.search(X_big, int(parts["k"])), 3)
    bounds = search_bounds(router, X_big, int(parts["k"]))
    bare_s = best_of(lambda: without_neighbour_stages(router).route_many_embedded(X_big, q_big, explain=False), 3)
    alone = decision_alone(router, X[:200], queries[:200])
    load_after = os.getloadavg()

    chars = [len(q) for q in queries]
    print(
        f"router {args.router_dir}: predictor {router.predictor_kind_} (router.predictor={router.predictor}), "
        f"embedder {router.embedder_.name}, {len(router.llm_ids)} LLMs, {len(router.neighbours_)} training "
        f"queries, guard {router.guard_ is not None}, calibration {router.calibrator_ is not None}, "
        f"kNN blend {router.knn_blend_}; load {load_ms:.0f} ms"
    )
    print(
        f"{len(queries)} distinct queries (LLMRouter test then train; median {statistics.median(chars):.0f} "
        f"chars, max {max(chars)}), {os.cpu_count()} cores; load average before "
        f"{' '.join(f'{v:.2f}' for v in load_before)}, after {' '.join(f'{v:.2f}' for v in load_after)}"
    )
    route50, route99 = p50_p99(total)
    emb50, emb99 = p50_p99(embed)
    raw50, raw99 = p50_p99(raw)
    overhead = route50 - emb50
    print("| measure | p50 ms | p99 ms | p99 / p50 |")
    print("|---|---|---|---|")
    print(f"| route(), embedding included | {route50:.3f} | {route99:.3f} | {route99 / route50:.2f} |")
    print(f"| embedding (router.embed, capped) | {emb50:.3f} | {emb99:.3f} | {emb99 / emb50:.2f} |")
    print(f"| embedding, uncapped text | {raw50:.3f} | {raw99:.3f} | {raw99 / raw50:.2f} |")
    print(
        f"| the decision alone (route_many_embedded, one embedded query, explained) | {alone[0]:.3f} "
        f"| {alone[1]:.3f} | {alone[1] / alone[0]:.2f} |"
    )
    print(f"| bare formula (predict_proba, one query) | {formula_ms:.4f} | | |")
    print(
        f"decision overhead = route p50 - embedding p50 = {overhead:.3f} ms "
        f"= {overhead / formula_ms:.1f}x the bare formula; the decision alone: p50 {alone[0]:.3f} ms "
        f"= {alone[0] / formula_ms:.1f}x the formula"
    )
    print(
        f"decision overhead / embedding p50 = {overhead / emb50:.3f}; targets: overhead <= 0.1 ms, <= 10x the formula; "
        f"route p99 / p50 = {route99 / route50:.2f} (target <= 2; the capped embedding's own: {emb99 / emb50:.2f})"
    )
    print("where the decision's time goes, one embedded query (p50 over 200 queries, us):")
    print(" | ".join(f"{name} {us:.0f}" for name, us in parts.items() if name != "k"))
    print(
        f"batch path, {len(q_big)} embedded queries: route_many_embedded(explain=False) "
        f"{len(q_big) / batch_s:,.0f} decisions/s; as arrays (predict_embedded + choose, no decision objects) "
        f"{len(q_big) / arrays_s:,.0f}/s; the neighbour search alone (k={parts['k']:.0f}) {len(q_big) / search_s:,.0f}"
        f" queries/s; choose() on a ready Prediction {len(q_big) / choose_s:,.0f} decisions/s"
    )
    print(
        f"the exact search's two parts alone: the similarity product {len(q_big) / bounds[0]:,.0f} queries/s, "
        f"the top-{parts['k']:.0f} selection (argpartition) {len(q_big) / bounds[1]:,.0f} queries/s; "
        f"without the neighbour stages (warm-up off, no kNN blend: a diagnostic of the rest of the path, not "
        f"this router's method) route_many_embedded(explain=False) {len(q_big) / bare_s:,.0f} decisions/s"
    )

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
