"""Routing latency and memory of a saved LLM Bandit policy router (numpy only, no torch).

Loads a policy router saved by ``PolicyRouter.save`` (e.g. by ``bandit_curves.py --save``) in a
fresh process and routes N distinct real queries one at a time, each with a new preference w,
timing: the embedding (USE, uncached), the identity model's p-hat, the policy, and the whole
``router.route`` call (which embeds again). Memory: resident set size after importing irtrouter,
after loading the router, and after the first route (the embedding model loads lazily), plus the
bytes of the policy's own arrays (identity vectors, policy and identity-model weights) and of the
whole saved weights file.

    python benchmarks/bandit_latency.py ROUTER_DIR [--queries 500]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    """Resident set size of this process, MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(ms: list[float]) -> str:
    a = np.asarray(ms)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return f"mean {a.mean():.2f} | p50 {p50:.2f} | p90 {p90:.2f} | p99 {p99:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("router_dir")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    import sys

    base = rss_mb()
    from irtrouter.data import default_data_root, load_benchmark
    from irtrouter.irt.ops import NUMPY_OPS
    from irtrouter.routing import load_router
    from irtrouter.routing.policy.network import policy_logits, set_costs
    from irtrouter.routing.policy.router import PolicyRouter

    imported = rss_mb()
    started = time.perf_counter()
    router = load_router(args.router_dir)
    load_ms = (time.perf_counter() - started) * 1000
    loaded = rss_mb()
    if not isinstance(router, PolicyRouter):
        raise SystemExit(f"{args.router_dir} is not a policy router")
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    pool = list(bench.test.queries) + list(bench.train.queries)
    queries = pool[: args.queries]
    router.route(queries[0], preference=0.5)  # builds the embedding model
    warm = rss_mb()

    rng = np.random.default_rng(0)
    embed, p_hat, policy, total = [], [], [], []
    for q in queries:
        w = float(rng.uniform(0, router.settings_.max_preference))
        t0 = time.perf_counter()
        X = router.embed([q])
        t1 = time.perf_counter()
        pred = router.predict_embedded(X, [q])
        t2 = time.perf_counter()
        logits = policy_logits(
            NUMPY_OPS,
            router.policy_weights_,
            X,
            router.predictor_.abilities_,
            set_costs(pred.cost).astype(np.float32),
            pred.p_hat.astype(np.float32),
            np.array([w], np.float32),
            router.settings_.n_heads,
        )
        NUMPY_OPS.softmax(logits).argmax()
        t3 = time.perf_counter()
        router.route(q, preference=w)
        t4 = time.perf_counter()
        embed.append((t1 - t0) * 1000)
        p_hat.append((t2 - t1) * 1000)
        policy.append((t3 - t2) * 1000)
        total.append((t4 - t3) * 1000)
    assert "torch" not in sys.modules, "routing imported torch"

    policy_bytes = sum(v.nbytes for v in router.policy_weights_.values())
    identity_bytes = sum(np.asarray(v).nbytes for v in router.predictor_.params_.values())
    identity_bytes += router.predictor_.abilities_.nbytes
    weights = Path(args.router_dir) / "weights.npz"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; router "
        f"{args.router_dir}: {len(router.llm_ids)} LLMs, embedder {router.embedder_.name}; load {load_ms:.0f} ms"
    )
    print(f"{len(queries)} distinct queries (LLMRouter test then train), one at a time, w ~ U(0, 2); ms per query:")
    print("| step | ms |")
    print("|---|---|")
    print(f"| embedding (USE) | {summary(embed)} |")
    print(f"| identity p-hat | {summary(p_hat)} |")
    print(f"| policy (SetTransformer + softmax) | {summary(policy)} |")
    print(f"| route() end to end | {summary(total)} |")
    print()
    print(
        f"memory: RSS {base:.0f} MB at start, {imported:.0f} MB after imports, {loaded:.0f} MB after loading, "
        f"{warm:.0f} MB after the first route (embedding model loaded); policy arrays {policy_bytes / 1e6:.2f} MB, "
        f"identity model {identity_bytes / 1e6:.2f} MB, weights.npz {weights.stat().st_size / 1e6:.1f} MB "
        f"(includes the training-query embeddings); torch never imported"
    )


if __name__ == "__main__":
    main()
