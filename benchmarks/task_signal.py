"""How much of a pool's routing signal is the task? (issue 12: the routerbench_subset ID gap)

For each in-distribution setting (seed 0 of the protocol's splits), on the test split:

* **task accuracy**: how often the majority task of a query's 10 nearest training queries (USE
  embeddings, cosine) is its own task: how well the text tells the task;
* **Reward of the task oracle** (alpha 0.8) with the true labels and with the neighbours' guess
  (``task-oracle`` given the guessed task: a task classifier from the neighbours, then each task's
  best LLM);
* **AUC of P**: ``default``'s predicted P of each LLM against whether it answered (score >= 0.5),
  over all test queries (median over the LLMs) and **within a task** (median over the (task, LLM)
  pairs with more than 30 test queries and both outcomes): how much the router knows about a
  query beyond its task; the same for the kNN mean of the 50 nearest training queries (tuned
  kNN's predictor).

Read with ``task-oracle`` in ``benchmarks/pays.py`` (each query to the best LLM of its known task):
where the within-task AUC is near 0.5 the router's signal is the task, and no router over these
embeddings gets far past the task oracle. Only training data is fitted on; the test split is read
to measure, as in every table.

    python benchmarks/task_signal.py [--settings routerbench_subset:ID:0 ...]
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from carve import settings_and_embedder
from sklearn.metrics import roc_auc_score

from irtrouter.embed.cache import CachedEmbedder
from irtrouter.evaluate.metrics import outcome, realised_costs, single_llm_cost_scale
from irtrouter.evaluate.protocol import named_setting
from irtrouter.evaluate.routers.contract import QueryBatch, TrainingData
from irtrouter.evaluate.routers.registry import make_router
from irtrouter.routing import IRTRouter
from irtrouter.routing.neighbours import neighbour_mean

SETTINGS = ("llmrouter:ID:0", "routerbench_subset:ID:0", "routerdc_7llm:ID:0", "routellm:ID:0", "zeroeval:ID:0")
MIN_QUERIES = 30


def main() -> None:
    settings, embedder = settings_and_embedder(__doc__, "task_signal.py", SETTINGS)
    started = time.perf_counter()
    columns = (
        "setting", "tasks", "task accuracy (10 neighbours)", "task oracle @0.8: true / guessed task",
        "default's family", "AUC of P, all queries", "within a task", "kNN-50 mean, all queries", "within a task",
    )  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for spec in settings:
        print(_row(spec, embedder), flush=True)
    print(f"\n{(time.perf_counter() - started) / 60:.1f} minutes")


def _row(spec: str, embedder: CachedEmbedder) -> str:
    setting = named_setting(spec)
    train, test = setting.train, setting.test
    X_train, X_test = embedder.encode(train.queries), embedder.encode(test.queries)
    router = IRTRouter(predictor="auto").fit(train, setting.catalog, embedder=embedder, query_embeddings=X_train)
    p_default = router.predict_embedded(X_test, list(test.queries)).p_hat
    near = router.neighbours_.search(X_test, 50)
    p_knn = neighbour_mean(train.scores, near, 50, np.nanmean(train.scores, axis=0))
    train_tasks, test_tasks = np.asarray(train.tasks, dtype=object), np.asarray(test.tasks, dtype=object)
    guessed = np.asarray([Counter(train_tasks[row[:10]]).most_common(1)[0][0] for row in near], dtype=object)
    cells = [_aucs(p, test.scores, test_tasks) for p in (p_default, p_knn)]
    shown = " | ".join(f"{np.median(overall):.3f} | {np.median(within):.3f}" for overall, within in cells)
    oracle = make_router("task-oracle").fit(TrainingData(train, setting.catalog, X_train))
    costs, _ = realised_costs(test, setting.catalog)
    scale = single_llm_cost_scale(costs)
    rewards = []
    for labels in (test.tasks, tuple(guessed)):
        routing = oracle.decide(QueryBatch(test.queries, X_test, test.scores, costs, labels)).choose(0.8)
        rewards.append(outcome(test.scores, costs, np.asarray(routing)).reward(0.8, 0.2, scale))
    return (
        f"| {spec} | {len(set(test.tasks))} | {np.mean(guessed == test_tasks):.3f} | "
        f"{rewards[0]:.2f} / {rewards[1]:.2f} | {router.training_['selection']['chosen']} | {shown} |"
    )


def _aucs(p: np.ndarray, Y: np.ndarray, tasks: np.ndarray) -> tuple[list[float], list[float]]:
    """Per LLM, the AUC over every query; per (task, LLM) with enough queries, within the task."""
    overall, within = [], []
    for j in range(Y.shape[1]):
        right = Y[:, j] >= 0.5
        if 0 < right.mean() < 1:
            overall.append(roc_auc_score(right, p[:, j]))
        for task in sorted(set(tasks)):
            m = tasks == task
            if m.sum() > MIN_QUERIES and 0 < right[m].mean() < 1:
                within.append(roc_auc_score(right[m], p[m, j]))
    return overall, within


if __name__ == "__main__":
    main()
