"""A static embedder (WordLlama's bundled model) against USE: routing quality and latency (issue 16).

For every dataset of the shared data with query text, on its ID split (the protocol of
``benchmarks/capping.py``): MIRT-Router trained and tested with each embedder's embeddings, Reward
at alpha 0.8 and 0.5 and the difference from USE with a 95% paired bootstrap interval over the test
queries. Then, on the 1,000-query set of ``benchmarks/route_latency.py``, in one run: p50 / p99 of
one query's embedding (one thread, the embedders interleaved per query) and the throughput of
batches. Texts are capped at the library default (:data:`irtrouter.embed.base.MAX_CHARS`) for both.

    python benchmarks/embedders.py [--embedders use wordllama] [--datasets ...] [--seeds 0]
        [--max-train N] [--max-test N] [--timing-queries 1000] [--batch 64 256]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from capping import DATASETS, ROUTER, id_setting, machine_line, routing_quality, timing_queries

from irtrouter.embed.base import MAX_CHARS, cap_texts
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.registry import make_embedder


def latency_table(specs: list[str], queries: list[str], batches: list[int]) -> str:
    embedders = {s: make_embedder(s) for s in specs}
    texts = cap_texts(queries, MAX_CHARS)
    for emb in embedders.values():
        emb.encode(["warm-up"])
    one: dict[str, list[float]] = {s: [] for s in specs}
    for text in texts:
        for s, emb in embedders.items():
            t0 = time.perf_counter()
            emb.encode([text])
            one[s].append((time.perf_counter() - t0) * 1000)
    base = float(np.percentile(one[specs[0]], 50))
    lines = [
        f"{len(texts)} queries, capped at {MAX_CHARS} characters; USE on one BLAS thread, WordLlama as it comes",
        "",
        "| embedder | dim | p50 ms | p99 ms | p99 / p50 | p50 vs "
        + specs[0]
        + " | "
        + " | ".join(f"batch {b}: queries/s" for b in batches)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(batches),
    ]
    for s, emb in embedders.items():
        p50, p99 = np.percentile(one[s], [50, 99])
        rates = []
        for b in batches:
            started = time.perf_counter()
            for i in range(0, len(texts), b):
                emb.encode(texts[i : i + b])
            rates.append(f"{len(texts) / (time.perf_counter() - started):,.0f}")
        lines.append(
            f"| {emb.name} | {emb.dim} | {p50:.3f} | {p99:.3f} | {p99 / p50:.2f} | {p50 / base:.3f}x | "
            + " | ".join(rates)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", nargs="+", default=["use", "wordllama"])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--max-train", type=int, default=None, help="subsample each train split (seeded)")
    parser.add_argument("--max-test", type=int, default=None, help="subsample each test split (seeded)")
    parser.add_argument("--timing-queries", type=int, default=1000, help="0: skip the latency table")
    parser.add_argument("--batch", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()

    print(machine_line())
    if not args.skip_quality:
        settings = [id_setting(n, args.max_train, args.max_test) for n in args.datasets]
        variants = [(s, CachedEmbedder(make_embedder(s))) for s in args.embedders]
        for label, emb in variants:  # embed first, so the fits below time training alone
            for st in settings:
                encode_texts(emb, [*st.train.queries, *st.test.queries], progress=True, desc=f"{st.dataset} {label}")
        seeds = ", ".join(map(str, args.seeds))
        print(
            f"\n### {ROUTER} on the ID split with each embedder (texts capped at {MAX_CHARS}), seeds {seeds}\n\n"
            + routing_quality(settings, variants, args.seeds, reference=args.embedders[0])
        )
    if args.timing_queries:
        print(
            "\n### Embedding latency per query and batch throughput\n\n"
            + latency_table(args.embedders, timing_queries(args.timing_queries), args.batch)
        )
    print(f"\n{machine_line()} (after)")


if __name__ == "__main__":
    main()
