"""Do the learned abilities and difficulties mean anything? The tables of docs/BENCHMARKS.md, issue 6.

For each dataset, predictor and seed: train a router on the train split (USE embedder, default
settings), then

* Spearman(mean ability, mean accuracy) over the LLMs, for both summaries of
  :mod:`irtrouter.explain.abilities` (``mean_logit``, the identified one; ``mean_over_dims``,
  paper Fig. 4), against the mean accuracy on the train split (the issue's target, >= 0.9) and,
  as a held-out check, on the test split;
* on the **test** split (never trained on): Spearman of query difficulty against known levels
  (LLMRouter's logic-grid puzzles: number of houses), against each query's mean score over the
  LLMs, and per task (mean difficulty vs mean score). The logic-grid correlation is also given on
  the train split's puzzles, marked in-sample (the router fitted those queries' outcomes, though
  never their levels);
* how long the per-decision explanation takes next to the rest of routing.

    IRTROUTER_CACHE_DIR=/tmp/irtcache python benchmarks/explain_abilities.py \
        [--datasets llmrouter routerbench_subset] [--predictors mirt nirt] [--seeds 0 1 2] \
        [--save-dir runs/explain] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.explain import (
    ability_table,
    item_accuracy_correlation,
    known_levels,
    level_correlations,
    spearman,
    task_accuracy_correlation,
)
from irtrouter.routing import IRTRouter
from irtrouter.routing.explanation import explain_decisions
from irtrouter.routing.rule import allowed_mask, choose


def accuracy_vector(results: ResultsMatrix, llm_ids: tuple[str, ...]) -> np.ndarray:
    means = results.mean_scores()
    return np.array([means[m] for m in llm_ids])


def explanation_timing(router: IRTRouter, X: np.ndarray, queries: tuple[str, ...], n: int) -> tuple[float, float]:
    """Median ms per single query of (predict + choose) and of explain_decisions, embeddings given."""
    mask = allowed_mask(router.llm_ids, None)
    rest, expl = [], []
    for i in range(min(n, len(queries))):
        t0 = time.perf_counter()
        pred = router.predict_embedded(X[i : i + 1], queries[i : i + 1])
        chosen = choose(pred.p_hat, pred.cost, 0.8, 0.2, mask)
        t1 = time.perf_counter()
        explain_decisions(router, pred, chosen, 0.8, 0.2, mask)
        t2 = time.perf_counter()
        rest.append((t1 - t0) * 1000)
        expl.append((t2 - t1) * 1000)
    return statistics.median(rest), statistics.median(expl)


def run_one(name: str, predictor: str, seed: int, save_dir: Path | None) -> dict[str, Any]:
    bench = load_benchmark(name, default_data_root() / name)
    started = time.perf_counter()
    router = IRTRouter(predictor=predictor, random_state=seed).fit(bench.train, bench.catalog)
    fit_s = time.perf_counter() - started
    if save_dir is not None:
        router.save(save_dir / f"{name}_{predictor}_seed{seed}")
    table = ability_table(router)
    train_acc = accuracy_vector(bench.train, table.llm_ids)
    test_acc = accuracy_vector(bench.test, table.llm_ids)
    row: dict[str, Any] = {
        "dataset": name,
        "predictor": predictor,
        "seed": seed,
        "fit_s": fit_s,
        "epochs": router.training_["epochs"],
        "n_llms": len(table.llm_ids),
        "train_logit": spearman(table.mean_logit, train_acc),
        "train_dims": spearman(table.mean_over_dims, train_acc),
        "test_logit": spearman(table.mean_logit, test_acc),
        "test_dims": spearman(table.mean_over_dims, test_acc),
        "ranking": table.ranking(),
        "accuracy_ranking": tuple(table.llm_ids[j] for j in np.argsort(-train_acc, kind="stable")),
    }
    encoder = CachedEmbedder(router.embedder_)
    test = bench.test
    X_test = encoder.encode(list(test.queries))
    pred = router.predict_embedded(X_test, test.queries)
    levels = level_correlations(pred.difficulty, known_levels(test.queries, test.query_meta))
    row["test_levels"] = [(c.name, c.spearman, c.n) for c in levels]
    item = item_accuracy_correlation(pred.difficulty, test.scores)
    row["test_item"], row["n_item"] = item.spearman, item.n
    task = task_accuracy_correlation(pred.difficulty, test.tasks, test.scores)
    row["test_task"], row["n_tasks"] = task.spearman, task.n
    train_levels = known_levels(bench.train.queries, bench.train.query_meta)
    if train_levels:
        d_train = router.predictor_.query_difficulty(router.neighbours_.embeddings, router.train_relevance_)
        row["train_levels"] = [(c.name, c.spearman, c.n) for c in level_correlations(d_train, train_levels)]
    row["rest_ms"], row["explain_ms"] = explanation_timing(router, X_test, test.queries, 300)
    return row


def fmt(x: object) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:+.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["llmrouter", "routerbench_subset"])
    parser.add_argument("--predictors", nargs="+", default=["mirt", "nirt"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--save-dir", type=Path, default=None, help="Save each trained router here.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for training (default: torch's).")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}; seeds {args.seeds}\n"
    )
    rows = []
    for name in args.datasets:
        for predictor in args.predictors:
            for seed in args.seeds:
                row = run_one(name, predictor, seed, args.save_dir)
                rows.append(row)
                print(
                    f"# {name} {predictor} seed {seed}: fit {row['fit_s']:.0f}s ({row['epochs']} epochs); "
                    f"ability ranking {', '.join(row['ranking'])}; "
                    f"train-accuracy ranking {', '.join(row['accuracy_ranking'])}",
                    flush=True,
                )

    print("\n### Spearman(mean ability, mean accuracy) over the LLMs\n")
    print(
        "| dataset | predictor | seed | LLMs | vs train acc: mean logit | vs train acc: mean over dims "
        "| vs test acc: mean logit | vs test acc: mean over dims |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['dataset']} | {r['predictor']} | {r['seed']} | {r['n_llms']} | {fmt(r['train_logit'])} | "
            f"{fmt(r['train_dims'])} | {fmt(r['test_logit'])} | {fmt(r['test_dims'])} |"
        )

    print("\n### Difficulty on the test split (Spearman)\n")
    print(
        "| dataset | predictor | seed | vs known level (n) | vs query's mean score (n queries with a score) "
        "| per task: vs mean score (tasks) | in-sample: train logic grids (n) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lv = "; ".join(f"{fmt(s)} ({k})" for _, s, k in r["test_levels"]) or "none in the data"
        tr = "; ".join(f"{fmt(s)} ({k})" for _, s, k in r.get("train_levels", [])) or "n/a"
        print(
            f"| {r['dataset']} | {r['predictor']} | {r['seed']} | {lv} | {fmt(r['test_item'])} ({r['n_item']}) | "
            f"{fmt(r['test_task'])} ({r['n_tasks']}) | {tr} |"
        )

    print("\n### Explanation cost per routed query (median ms, one query at a time, embedding excluded)\n")
    print("| dataset | predictor | seed | predict + choose | explanation |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['predictor']} | {r['seed']} | {r['rest_ms']:.3f} | {r['explain_ms']:.3f} |")


if __name__ == "__main__":
    main()
