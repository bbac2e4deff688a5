"""Issue 15 part (a): routing against the size of the training set, exact vs approximate neighbours.

A router (MIRT with the query warm-up and the kNN blend, 9 LLMs, 384-d embeddings) is fitted once
on a few thousand synthetic queries; then, for each training-set size N (10k / 100k / 1M synthetic
training queries, clustered unit vectors as real query embeddings are), its neighbour set is
replaced by N queries with their scores, searched by the exact index and by the HNSW index
(:mod:`irtrouter.routing.index`). For each it reports

* the build time of the index and its memory (float32 rows + the serialised graph), and the
  process's peak RSS;
* route latency with the embedding excluded: ``route_many_embedded`` of one embedded query at a
  time (neighbour search, warm-up, formula, blend, rule, explanation), p50 / p99;
* recall@k of the approximate neighbours against the exact ones (k = the blend's k), and the share
  of routing decisions (chosen LLM) that differ between the two, with the largest P-hat change.

Parts (b) and (c) of the issue are benchmarks/scale_batch.py and benchmarks/scale_training.py.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--queries 200] [--exact-queries-1m 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix, query_id_for
from irtrouter.routing import IRTRouter
from irtrouter.routing.index import ApproximateIndex, NeighbourIndex

DIM, N_LLMS, N_TOPICS, N_SUBTOPICS = 384, 9, 100, 50


class World:
    """Query embeddings in topics and subtopics (as sentence embeddings cluster) and 0/1 scores
    from a fixed random logistic model."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        topics = rng.standard_normal((N_TOPICS, 1, DIM))
        self.centres = (topics + 0.7 * rng.standard_normal((N_TOPICS, N_SUBTOPICS, DIM))).reshape(-1, DIM)
        self.centres = self.centres.astype(np.float32)
        self.W = rng.standard_normal((N_LLMS, DIM)).astype(np.float32) * 0.15
        self.bias = np.linspace(-1.0, 1.5, N_LLMS).astype(np.float32)

    def queries(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        X = np.empty((n, DIM), dtype=np.float32)
        Y = np.empty((n, N_LLMS), dtype=np.float32)
        for start in range(0, n, 100_000):  # bounded temporaries at 1M
            m = min(100_000, n - start)
            picked = self.centres[rng.integers(len(self.centres), size=m)]
            x = picked + 0.6 * rng.standard_normal((m, DIM), dtype=np.float32)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            p = 1 / (1 + np.exp(-(x @ self.W.T * np.sqrt(DIM) * 0.3 + self.bias)))
            X[start : start + m], Y[start : start + m] = x, rng.random((m, N_LLMS)) < p
        return X, Y


def fitted_router(world: World) -> IRTRouter:
    X, Y = world.queries(3000, seed=1)
    texts = tuple(f"synthetic query {i}" for i in range(len(X)))
    llms = tuple(f"llm-{j}" for j in range(N_LLMS))
    results = ResultsMatrix(
        query_ids=tuple(query_id_for(t) for t in texts), queries=texts, llm_ids=llms, scores=Y.astype(np.float64),
        tasks=("synthetic",) * len(X), source="synthetic",
    )  # fmt: skip
    catalog = LLMCatalog([LLMSpec(m, 0.1 * (j + 1), 0.2 * (j + 1), f"model {m}") for j, m in enumerate(llms)])
    router = IRTRouter(
        predictor="mirt", embedder=f"hashing:{DIM}", knn_blend=True, calibration="none", guard=False,
        predictor_params={"max_epochs": 10}, random_state=0,
    )  # fmt: skip
    return router.fit(results, catalog, query_embeddings=X, use_cache=False)


def with_neighbours(router: IRTRouter, index: NeighbourIndex, scores: np.ndarray) -> IRTRouter:
    """The router searching ``index`` (and blending ``scores``) instead of its own training set."""
    router.neighbours_, router.train_scores_, router.train_tasks_ = index, scores, None
    return router


def one_at_a_time_ms(router: IRTRouter, X: np.ndarray, queries: list[str]) -> np.ndarray:
    router.route_many_embedded(X[:1], queries[:1])  # warm
    ms = []
    for i in range(len(X)):
        t0 = time.perf_counter()
        router.route_many_embedded(X[i : i + 1], queries[i : i + 1])
        ms.append((time.perf_counter() - t0) * 1000)
    return np.asarray(ms)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200, help="test queries routed one at a time")
    parser.add_argument("--exact-queries-1m", type=int, default=30, help="fewer for exact search at >= 1M rows")
    parser.add_argument("--compare", type=int, default=500, help="test queries for recall and decision change")
    args = parser.parse_args()

    load_before = os.getloadavg()
    world = World()
    router = fitted_router(world)
    k = router.knn_blend_[0] if router.knn_blend_ else router.warmup_k_
    X_test, _ = world.queries(max(args.queries, args.compare), seed=2)
    queries = [f"test query {i}" for i in range(len(X_test))]
    print(
        f"router: MIRT, warm-up lambda {router.warmup_lambda_} k {router.warmup_k_}, kNN blend {router.knn_blend_}, "
        f"{N_LLMS} LLMs, {DIM}-d; {os.cpu_count()} cores, load average {' '.join(f'{v:.2f}' for v in load_before)}"
    )
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        X_train, Y_train = world.queries(n, seed=3)
        exact = NeighbourIndex(X_train)
        t0 = time.perf_counter()
        approx = ApproximateIndex(X_train)
        build_s = time.perf_counter() - t0
        print(f"{n:,} training queries: HNSW built in {build_s:.1f} s", flush=True)
        graph_mb = approx.state()[1]["graph"].nbytes / 1e6
        n_one = args.exact_queries_1m if n >= 1_000_000 else args.queries
        lat_exact = one_at_a_time_ms(with_neighbours(router, exact, Y_train), X_test[:n_one], queries[:n_one])
        d_exact = router.route_many_embedded(X_test[: args.compare], queries[: args.compare], explain=False)
        near_exact = exact.search(X_test[: args.compare], k)
        lat_approx = one_at_a_time_ms(with_neighbours(router, approx, Y_train), X_test[: args.queries], queries)
        d_approx = router.route_many_embedded(X_test[: args.compare], queries[: args.compare], explain=False)
        near_approx = approx.search(X_test[: args.compare], k)
        recall = np.mean([len(set(a) & set(e)) / k for a, e in zip(near_approx, near_exact, strict=True)])
        changed = np.mean([a.llm_id != e.llm_id for a, e in zip(d_approx, d_exact, strict=True)])
        dp = max(float(np.max(np.abs(np.subtract(a.p_hat, e.p_hat)))) for a, e in zip(d_approx, d_exact, strict=True))
        rows.append(
            f"| {n:,} | exact | - | {X_train.nbytes / 1e6:.0f} | {np.percentile(lat_exact, 50):.2f} | "
            f"{np.percentile(lat_exact, 99):.2f} ({len(lat_exact)} q) | 1 | 0 | | {peak_rss_mb():.0f} |"
        )
        rows.append(
            f"| {n:,} | HNSW (usearch i8) | {build_s:.1f} | {X_train.nbytes / 1e6 + graph_mb:.0f} | "
            f"{np.percentile(lat_approx, 50):.2f} | {np.percentile(lat_approx, 99):.2f} ({len(lat_approx)} q) | "
            f"{recall:.3f} | {changed:.1%} | {dp:.4f} | {peak_rss_mb():.0f} |"
        )
        print(rows[-2], rows[-1], sep="\n", flush=True)
        del exact, approx, X_train, Y_train
    load_after = os.getloadavg()
    print(f"\nload average after {' '.join(f'{v:.2f}' for v in load_after)}; recall@{k} and changes on {args.compare}")
    print(
        "| training queries | index | build s | memory MB (rows + graph) | route p50 ms | route p99 ms | "
        f"recall@{k} | decisions changed | max abs P change | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
