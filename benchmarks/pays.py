"""Does routing pay? ``default`` against the best single LLM and tuned kNN, over seeded splits.

For every dataset of ../shared/data with query text, ID and OOD, and each split seed, the harness
(:func:`irtrouter.evaluate.harness.run_setting`, the IRT-Router protocol, as
:func:`irtrouter.evaluate.suite.run_suite` runs it) trains every router on the train split and
scores it on the test split. This script prints, per alpha, the mean Reward and its standard
deviation over the seeds for every router and setting, then the claims of issue 12:

* ``default`` (what ``irtrouter train`` builds) against ``best-single`` (the best single LLM chosen
  on the training split): mean difference and how many seeds it is below;
* ``default`` against ``knn-tuned``: settings won, and those lost by more than 0.5 Reward;
* the share of the gap from the best single LLM (in hindsight, as in the tables) to the oracle
  that ``default`` closes, of the mean Rewards, beside what ``task-oracle`` (each query to the best
  LLM of its known task: what the task alone is worth) closes when it ran;
* the training time of ``default`` against MIRT's, on the same data (fit seconds, median over
  settings and seeds).

Each difference comes with its standard error: over the seeds where a setting has several (paired:
the same split on both sides), and over the test queries where it has one split (the fixed
splits: each row keeps every test query's share of its Reward, ``query_rewards``, so the two
routers' shares are paired query by query; the SE of the summed difference is ``sqrt(n) * sd``).

    python benchmarks/pays.py --seeds 0 1 2 3 4 [--datasets ...] [--routers ...] [--json runs/pays.json]

Embeddings are cached ($IRTROUTER_CACHE_DIR; ``--embedder e5`` embeds with multilingual-e5-small
instead of USE, every router alike); the splits depend on the seed, the routers'
random_state stays 0. ``--reuse OLD.json`` takes the rows of routers not rerun from an earlier run
(same datasets and seeds; for routers whose code did not change), and ``--from-json`` accepts
several files, whose rows are concatenated (e.g. fixed-split datasets run on seed 0 alone).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from fit_time import warm_up_torch

from irtrouter.data.benchmarks import default_data_root, load_benchmark
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.harness import SettingResult, run_setting, unsupported
from irtrouter.evaluate.metrics import gap_closed, query_rewards, reward_contributions
from irtrouter.evaluate.protocol import benchmark_settings
from irtrouter.evaluate.suite import DATASETS, SuiteConfig
from irtrouter.routing.rule import resolve_weights

ROUTERS = ("best-single", "knn-tuned", "mirt", "nirt", "2pl", "default", "task-oracle", "oracle")
ALPHAS = (0.8, 0.5)


def collect(
    seeds: list[int], datasets: list[str], routers: list[str], embedder_spec: str = "use"
) -> list[dict[str, Any]]:
    """The routing rows of every setting and seed (as :func:`irtrouter.evaluate.suite.run_suite`
    scores them), each with its test queries' shares of the Reward."""
    # The first torch step of a process loads parts of torch (seconds): untimed here, or the first
    # torch-trained fit would carry it (before the numpy engine, MIRT's: that flattered default).
    warm_up_torch()
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        config = SuiteConfig(datasets=datasets, routers=routers, ablations=(), seed=seed, embedder=embedder_spec)
        embedder = CachedEmbedder(make_embedder(config.embedder), config.cache_dir)
        for name in datasets:
            for setting in benchmark_settings(load_benchmark(name, default_data_root() / name, seed=seed)):
                result = run_setting(setting, routers, embedder, alphas=config.alphas, sweep=config.sweep)
                shares = query_shares(result)
                for r in result.rows["routing"]:
                    rows.append({**r, "seed": seed, "query_rewards": shares.get((r["router"], r["alpha"]))})
        print(f"seed {seed}: {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return rows


def query_shares(result: SettingResult) -> dict[tuple[str, float], list[float]]:
    """(router, alpha) -> each test query's share of the router's Reward (they sum to it)."""
    test, out = result.setting.test, {}
    for alpha in ALPHAS:
        a, b = resolve_weights(alpha)
        cells = reward_contributions(test.scores, result.costs, a, b, result.cost_scale)
        for name, run in result.runs.items():
            if unsupported(run.decisions, alpha) is None:
                out[(name, alpha)] = np.round(query_rewards(cells, run.decisions.choose(alpha)), 6).tolist()
    return out


def paired_error(mine: dict[int, dict[str, Any]], other: dict[int, dict[str, Any]]) -> str:
    """The standard error of ``mean(mine) - mean(other)`` as words: over the seeds when there are
    several, else over the test queries of the one split (paired query by query)."""
    seeds = sorted(set(mine) & set(other))
    if len(seeds) > 1:
        paired = [mine[s]["reward"] - other[s]["reward"] for s in seeds]
        return f"standard error {statistics.stdev(paired) / len(paired) ** 0.5:.2f} over {len(seeds)} seeds"
    if len(seeds) == 1:
        x, y = mine[seeds[0]].get("query_rewards"), other[seeds[0]].get("query_rewards")
        if x is not None and y is not None and len(x) == len(y) > 1:
            d = np.asarray(x) - np.asarray(y)
            return f"standard error {len(d) ** 0.5 * d.std(ddof=1):.2f} over {len(d)} test queries"
    return "no standard error"


def summarise(rows: list[dict[str, Any]]) -> str:
    settings = list(dict.fromkeys((r["dataset"], r["split"]) for r in rows))
    names = list(dict.fromkeys(r["router"] for r in rows))
    routers = sorted(names, key=lambda n: (ROUTERS.index(n) if n in ROUTERS else len(ROUTERS), names.index(n)))
    seeds = sorted({r["seed"] for r in rows})
    by: dict[tuple[str, str, str, float], dict[int, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["dataset"], r["split"], r["router"], r["alpha"]), {})[r["seed"]] = r

    def rewards(d: str, s: str, router: str, a: float) -> list[float]:
        return [by[(d, s, router, a)][seed]["reward"] for seed in seeds if seed in by.get((d, s, router, a), {})]

    per_setting = {ds: sorted({r["seed"] for r in rows if (r["dataset"], r["split"]) == ds}) for ds in settings}
    seed_sets = sorted({tuple(v) for v in per_setting.values()})
    described = "; ".join(
        f"seeds {', '.join(map(str, ss))}: "
        + ", ".join(f"{d} {s}" for (d, s), v in per_setting.items() if tuple(v) == ss)
        for ss in seed_sets
    )
    out = [f"Mean Reward (standard deviation over the seeds); {described}.", ""]
    for a in ALPHAS:
        out += [f"#### Reward at alpha = {a}", ""]
        out.append("| Router | " + " | ".join(f"{d} {s}" for d, s in settings) + " |")
        out.append("|---|" + "---|" * len(settings))
        for router in routers:
            cells = []
            for d, s in settings:
                v = rewards(d, s, router, a)
                cells.append(f"{statistics.mean(v):.2f} ({statistics.pstdev(v):.2f})" if v else "n/a")
            out.append(f"| {router} | " + " | ".join(cells) + " |")
        out.append("")
    if "default" in routers:
        out += ["#### Claims", ""]
        for a in ALPHAS:
            wins, big_losses, below, ties, to_knn = 0, [], [], [], []
            for d, s in settings:
                dv, bs, kn = (rewards(d, s, name, a) for name in ("default", "best-single", "knn-tuned"))
                seeded = {name: by.get((d, s, name, a), {}) for name in ("default", "best-single", "knn-tuned")}
                if dv and bs:
                    diff = statistics.mean(dv) - statistics.mean(bs)
                    n_below = sum(x < y - 1e-9 for x, y in zip(dv, bs, strict=True))
                    se = paired_error(seeded["default"], seeded["best-single"])
                    (ties if abs(diff) < 0.005 else below if diff < 0 else []).append(
                        f"{d} {s} ({diff:+.2f}, {se}, below on {n_below}/{len(dv)} seeds)"
                    )
                if dv and kn:
                    gap = statistics.mean(dv) - statistics.mean(kn)
                    wins += gap > 0
                    if gap < -0.5:
                        big_losses.append(f"{d} {s} ({gap:+.2f})")
                    to_knn.append(f"{d} {s} {gap:+.2f} ({paired_error(seeded['default'], seeded['knn-tuned'])})")
            out.append(
                f"* alpha {a}: default below best-single (mean) in: {', '.join(below) or 'none'}; ties: "
                f"{', '.join(ties) or 'none'}; beats knn-tuned in {wins} of {len(settings)} settings; loses by "
                f"more than 0.5 in: {', '.join(big_losses) or 'none'}"
            )
            if to_knn:
                out.append(f"  * default - knn-tuned: {'; '.join(to_knn)}")
            for d, s in settings:
                dv = rewards(d, s, "default", a)
                runs = by.get((d, s, "default", a), {})
                ref = [runs[seed]["best_single_reward"] for seed in seeds if seed in runs]
                orc = [runs[seed]["oracle_reward"] for seed in seeds if seed in runs]
                if dv and ref:
                    share = gap_closed(statistics.mean(dv), statistics.mean(ref), statistics.mean(orc))
                    # What knowing each query's task would close (a reference reading the test labels).
                    task = rewards(d, s, "task-oracle", a)
                    known = ""
                    if task:
                        by_task = gap_closed(statistics.mean(task), statistics.mean(ref), statistics.mean(orc))
                        known = f"; the task oracle {100 * by_task:.0f}%"
                    out.append(f"  * {d} {s}: gap closed {100 * share:.0f}% (of the mean Rewards){known}")
        fit = {
            (r["router"], r["dataset"], r["split"], r["seed"]): r["fit_seconds"]
            for r in rows
            if r["router"] in ("mirt", "default") and r["alpha"] == ALPHAS[0]
        }
        pairs = [
            (v, fit[("mirt", *key[1:])]) for key, v in fit.items() if key[0] == "default" and ("mirt", *key[1:]) in fit
        ]
        if pairs:
            ratio = [d / m for d, m in pairs if m > 0]
            out.append(
                f"* fit time, median over settings and seeds: mirt {statistics.median(m for _, m in pairs):.1f}s, "
                f"default {statistics.median(d for d, _ in pairs):.1f}s (ratio median {statistics.median(ratio):.2f}, "
                f"max {max(ratio):.2f}, {len(ratio)} fits)"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--routers", nargs="+", default=list(ROUTERS))
    parser.add_argument("--embedder", default="use", help="embedder spec of every router (use, e5, ...)")
    parser.add_argument("--json", type=Path, default=None, help="write the per-seed rows here")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None, help="summarise saved rows instead")
    parser.add_argument("--reuse", type=Path, default=None, help="rows of routers not rerun, from this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.from_json:
        rows = [r for path in args.from_json for r in json.loads(path.read_text())["rows"]]
    else:
        started = time.perf_counter()
        rows = collect(args.seeds, args.datasets, args.routers, args.embedder)
        if args.reuse:
            ran = {(r["dataset"], r["seed"]) for r in rows}
            reused = [
                r
                for r in json.loads(args.reuse.read_text())["rows"]
                if (r["dataset"], r["seed"]) in ran and r["router"] not in args.routers
            ]
            print(f"reused {len(reused)} rows of {sorted({r['router'] for r in reused})} from {args.reuse}")
            rows = reused + rows
        meta = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}",
            "wall_seconds": round(time.perf_counter() - started, 1),
            "command": "python benchmarks/pays.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        }
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"meta": meta, "rows": rows}, default=float))
        print(f"{meta['command']}\n{meta['machine']}, {meta['wall_seconds'] / 60:.1f} minutes\n")
    print(summarise(rows))


if __name__ == "__main__":
    main()
