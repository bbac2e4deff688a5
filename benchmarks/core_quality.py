"""Reward, Performance and Total Cost of MIRT-Router and NIRT-Router on published test splits.

Trains each router on a benchmark's train split (USE embeddings, paper defaults: N=25, Adam
lr 0.002, batch 512, early stopping on 10% of train; warm-up lambda 0.3, k=5) and scores it on
the test split, queries observed for every LLM only. Prints a Markdown table per dataset with the
best single LLM (for each alpha, the LLM with the best Reward on the *train* split), Random (exact
expectation) and the Oracle for context, and the training time.

    python benchmarks/core_quality.py [--datasets llmrouter routerbench_subset] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.evaluate.metrics import Outcome, outcome, realised_costs, single_llm_cost_scale
from irtrouter.routing import IRTRouter

ALPHAS = (0.8, 0.5, 0.2)


def oracle_choice(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Best realised score, cheapest among ties."""
    best = scores.max(axis=1, keepdims=True)
    return np.where(scores >= best, costs, np.inf).argmin(axis=1)


def run(name: str, seed: int) -> str:
    bench = load_benchmark(name, default_data_root() / name, seed=seed)
    test = bench.test.complete()
    costs, cost_kind = realised_costs(test, bench.catalog)
    scale = single_llm_cost_scale(costs)
    train = bench.train.complete()
    train_costs, _ = realised_costs(train, bench.catalog)
    train_scale = single_llm_cost_scale(train_costs)
    best: dict[float, int] = {}
    for a in ALPHAS:
        rewards = [
            outcome(train.scores, train_costs, np.full(train.n_queries, j)).reward(a, 1 - a, train_scale)
            for j in range(train.n_llms)
        ]
        best[a] = int(np.argmax(rewards))
    rows: list[tuple[str, dict[float, Outcome], str]] = [
        (
            "Best single LLM (chosen on train per alpha)",
            {a: outcome(test.scores, costs, np.full(test.n_queries, best[a])) for a in ALPHAS},
            "; ".join(f"@{a}: {bench.catalog.ids[best[a]]}" for a in ALPHAS),
        ),
        (
            "Random (expectation)",
            dict.fromkeys(ALPHAS, outcome(test.scores, costs, np.full(test.scores.shape, 1 / test.n_llms))),
            "",
        ),
        ("Oracle", dict.fromkeys(ALPHAS, outcome(test.scores, costs, oracle_choice(test.scores, costs))), ""),
    ]
    for predictor in ("mirt", "nirt"):
        router = IRTRouter(predictor=predictor, random_state=seed)
        started = time.perf_counter()
        router.fit(bench.train, bench.catalog)
        fit_seconds = time.perf_counter() - started
        pred = router.predict(test.queries)
        results = {a: outcome(test.scores, costs, router.choose(pred, a)) for a in ALPHAS}
        t = router.training_
        note = (
            f"fit {fit_seconds:.0f}s ({t['train_seconds']:.0f}s training, {t['epochs']} epochs, "
            f"best {t['best_epoch']}); cost model {router.cost_model_.kind}"
        )
        rows.append((f"{predictor.upper()}-Router", results, note))

    lines = [
        f"### {name}: test split, {test.n_queries} queries x {test.n_llms} LLMs "
        f"(Total Cost {'real USD' if cost_kind == 'real' else 'modelled USD: ' + cost_kind})",
        "",
        "| router | " + " | ".join(f"Perf / Cost / Reward @{a}" for a in ALPHAS) + " | notes |",
        "|---|" + "---|" * (len(ALPHAS) + 1),
    ]
    for label, res, note in rows:
        cells = [
            f"{res[a].performance:.4f} / ${res[a].total_cost:.3f} / {res[a].reward(a, 1 - a, scale):.2f}"
            for a in ALPHAS
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {note} |")
    lines.append("")
    lines.append(f"Notes from the loader: {'; '.join(bench.notes)}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["llmrouter", "routerbench_subset"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"seed {args.seed}\n"
    )
    for name in args.datasets:
        print(run(name, args.seed))
        print()


if __name__ == "__main__":
    main()
