"""What capping the embedded text costs in routing quality and saves in embedding time (issue 16).

For every dataset of the shared data with query text, on its ID split:

* the length distribution of the queries (characters) and the share each cap would cut;
* MIRT-Router (the harness's ``mirt``: USE embeddings, paper defaults) trained and tested with
  the embeddings of the capped texts, for each cap: Reward at alpha 0.8 and 0.5, and the
  difference from the uncapped run with a 95% paired bootstrap interval over the test queries
  (the fits held fixed); with several ``--seeds``, the mean over them and the uncapped run's
  spread between seeds, the noise a cap's difference is read against;
* p50 / p99 of one query's USE embedding (one BLAS thread, as routing runs it) with each cap, on
  the 1,000-query set of ``benchmarks/route_latency.py`` (LLMRouter's test then train queries),
  the caps interleaved per query so that the machine's load hits them alike.

Capped texts are embedded once and kept in the embedding cache under their own keys
($IRTROUTER_CACHE_DIR); the uncapped ones are usually there already.

    python benchmarks/capping.py [--datasets ...] [--caps 512 1024 2048 4096 none] [--seeds 0]
        [--max-train N] [--max-test N] [--timing-queries 1000] [--embedder use]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.embed.base import Embedder, cap_text
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.local import USEEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.harness import embed_setting, run_setting
from irtrouter.evaluate.metrics import paired_bootstrap, query_rewards, reward_contributions
from irtrouter.evaluate.protocol import Setting, benchmark_settings, subsample
from irtrouter.routing.rule import resolve_weights

DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm", "zeroeval")
ALPHAS = (0.8, 0.5)
ROUTER = "mirt"


def parse_cap(text: str) -> int | None:
    return None if text.lower() in ("none", "off", "0") else int(text)


def cap_label(cap: int | None) -> str:
    return "none" if cap is None else str(cap)


def machine_line() -> str:
    return f"machine: {os.cpu_count()} CPUs (nproc), load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}"


def note(line: str) -> None:
    """Progress, on stderr: stdout is the tables."""
    print(line, file=sys.stderr)


def id_setting(name: str, max_train: int | None, max_test: int | None) -> Setting:
    setting = benchmark_settings(load_benchmark(name, default_data_root() / name), ["ID"])[0]
    return subsample(setting, max_train, max_test, seed=0)


def length_table(settings: Sequence[Setting], caps: Sequence[int | None]) -> str:
    cut = [c for c in caps if c is not None]
    lines = [
        "| dataset | train / test queries | p50 | p90 | p99 | max | " + " | ".join(f"> {c}" for c in cut) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(cut),
    ]
    for s in settings:
        n = np.array([len(q) for q in (*s.train.queries, *s.test.queries)])
        p50, p90, p99 = np.percentile(n, [50, 90, 99])
        shares = " | ".join(f"{(n > c).mean():.1%}" for c in cut)
        lines.append(
            f"| {s.dataset} | {s.train.n_queries} / {s.test.n_queries} | {p50:.0f} | {p90:.0f} | {p99:.0f} | "
            f"{n.max()} | {shares} |"
        )
    return "\n".join(lines)


def routing_quality(
    settings: Sequence[Setting],
    variants: Sequence[tuple[str, Embedder]],
    seeds: Sequence[int],
    reference: str,
    log: Callable[[str], None] = note,
) -> str:
    """The Reward table of ``ROUTER`` trained and tested with each embedder of ``variants``, with
    each one's difference from the ``reference`` variant (a paired bootstrap over test queries)."""
    lines = [
        "| dataset | embedding | "
        + " | ".join(f"Reward @{a} | vs {reference} @{a} [95% CI]" for a in ALPHAS)
        + " | fit s | embed s |",
        "|---|---|" + "---|---|" * len(ALPHAS) + "---|---|",
    ]
    for setting in settings:
        per_query: dict[str, dict[float, list[np.ndarray]]] = {}
        rewards: dict[str, dict[float, list[float]]] = {}
        seconds: dict[str, tuple[float, float]] = {}
        for label, embedder in variants:
            started = time.perf_counter()
            embeddings = embed_setting(setting, embedder)
            embed_s = time.perf_counter() - started
            per_query[label] = {a: [] for a in ALPHAS}
            rewards[label] = {a: [] for a in ALPHAS}
            fit_s = 0.0
            for seed in seeds:
                result = run_setting(
                    setting, [ROUTER], embedder, alphas=ALPHAS, sweep=(), overrides={"random_state": seed},
                    embeddings=embeddings,
                )  # fmt: skip
                run = result.runs[ROUTER]
                fit_s += run.fit_seconds
                for a in ALPHAS:
                    contributions = reward_contributions(
                        setting.test.scores, result.costs, *resolve_weights(a), result.cost_scale
                    )
                    q = query_rewards(contributions, run.decisions.choose(a))
                    per_query[label][a].append(q)
                    rewards[label][a].append(float(q.sum()))
            seconds[label] = (fit_s / len(seeds), embed_s)
            log(f"  {setting.dataset} {label}: " + ", ".join(f"@{a} {np.mean(rewards[label][a]):.2f}" for a in ALPHAS))
        for label, _ in variants:
            cells = []
            for a in ALPHAS:
                mean = np.mean(rewards[label][a])
                spread = f" ± {np.std(rewards[label][a], ddof=1):.2f}" if len(seeds) > 1 else ""
                cells.append(f"{mean:.2f}{spread}")
                if label == reference:
                    cells.append("-")
                    continue
                diff = np.mean(per_query[label][a], axis=0) - np.mean(per_query[reference][a], axis=0)
                low, high = paired_bootstrap(diff)
                cells.append(f"{diff.sum():+.2f} [{low:+.2f}, {high:+.2f}]")
            fit_s, embed_s = seconds[label]
            lines.append(f"| {setting.dataset} | {label} | " + " | ".join(cells) + f" | {fit_s:.1f} | {embed_s:.1f} |")
    return "\n".join(lines)


def timing_queries(n: int) -> list[str]:
    """The query set of benchmarks/route_latency.py: LLMRouter's test, then train, queries."""
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    return (list(bench.test.queries) + list(bench.train.queries))[:n]


def embedding_times(queries: Sequence[str], caps: Sequence[int | None]) -> str:
    use = USEEmbedder(threads=1, max_chars=None)
    use.encode(["warm-up"])
    times: dict[int | None, list[float]] = {c: [] for c in caps}
    for q in queries:
        for c in caps:
            text = cap_text(q, c)
            t0 = time.perf_counter()
            use.encode([text])
            times[c].append((time.perf_counter() - t0) * 1000)
    lengths = np.array([len(q) for q in queries])
    base = np.percentile(times[None], 50) if None in times else None
    lines = [
        f"{len(queries)} queries (p50 {np.percentile(lengths, 50):.0f}, p99 {np.percentile(lengths, 99):.0f}, "
        f"max {lengths.max()} characters); USE, one thread, one query a call",
        "",
        "| cap | queries cut | p50 ms | p90 ms | p99 ms | max ms | p99 / p50 | p99 / uncapped p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in caps:
        a = np.asarray(times[c])
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        cut = 0.0 if c is None else float((lengths > c).mean())
        vs = f"{p99 / base:.2f}" if base else "n/a"
        cells = [cap_label(c), f"{cut:.1%}", *(f"{x:.2f}" for x in (p50, p90, p99, a.max(), p99 / p50)), vs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--caps", nargs="+", type=parse_cap, default=[None, 4096, 2048, 1024, 512])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--max-train", type=int, default=None, help="subsample each train split (seeded)")
    parser.add_argument("--max-test", type=int, default=None, help="subsample each test split (seeded)")
    parser.add_argument("--timing-queries", type=int, default=1000, help="0: skip the timing table")
    parser.add_argument("--embedder", default="use", help="embedder spec (irtrouter.embed.registry)")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    caps = list(dict.fromkeys(args.caps))

    print(machine_line())
    settings = [id_setting(n, args.max_train, args.max_test) for n in args.datasets]
    print("\n### Query length (characters), ID split; share of queries longer than each cap\n")
    print(length_table(settings, caps))
    if not args.skip_quality:
        variants = []
        for c in caps:
            inner = make_embedder(args.embedder)
            inner.max_chars = c  # type: ignore[attr-defined]  # every local embedder declares it
            variants.append((f"cap {cap_label(c)}", CachedEmbedder(inner)))
        for _, emb in variants:  # embed first, so the fits below time training alone
            for s in settings:
                texts = [*s.train.queries, *s.test.queries]
                encode_texts(emb, texts, progress=True, desc=f"{s.dataset} {emb.max_chars}")
        seeds = ", ".join(map(str, args.seeds))
        print(
            f"\n### {ROUTER} on the ID split, {args.embedder} embeddings of the capped texts, seeds {seeds}\n\n"
            + routing_quality(settings, variants, args.seeds, reference=f"cap {cap_label(caps[0])}")
        )
    if args.timing_queries:
        print(f"\n### USE embedding time per query\n\n{embedding_times(timing_queries(args.timing_queries), caps)}")
    print(f"\n{machine_line()} (after)")


if __name__ == "__main__":
    main()
