"""On a task left out of the training split: does ``default`` beat its own model alone?

The novelty gate routes a query unlike every training query by the IRT model alone, without the
stages fitted on validation queries (kNN blend or stack, calibration, guard). Whether that is the
better way to route a *new task* can be asked of the training data: for each task T of a
setting's training split, train on the other tasks and route T's queries. Four routers are
compared there: ``best-single``, ``knn-tuned``, ``default``, and ``default`` with every stage off
(its model alone: ``knn_blend=false, stacking=false, calibration="none", guard=false``). The
setting's test split is never read.

Printed per setting: the mean Reward over its left-out tasks at alpha 0.8 and 0.5, and in how many
tasks the model alone beats ``default``.

    python benchmarks/left_out_tasks.py [dataset:split:seed ...]
"""

from __future__ import annotations

import platform
import statistics
import sys
import time

SETTINGS = [
    "llmrouter:ID:0",
    "llmrouter:OOD:0",
    "routerbench_subset:ID:0",
    "routerbench_subset:OOD:0",
    "routerdc_7llm:ID:0",  # its OOD setting trains on the same split
    "routellm:ID:0",
    "routellm:OOD:0",
    "zeroeval:ID:0",
    "zeroeval:OOD:0",
]
MODEL_ALONE = 'default:knn_blend=false,stacking=false,calibration="none",guard=false'
ROUTERS = ("best-single", "knn-tuned", "default", MODEL_ALONE)
ALPHAS = (0.8, 0.5)


def left_out_rewards(spec: str) -> dict[str, dict[float, list[float]]]:
    """Per router and alpha, the Reward on each left-out task of the setting's training split."""
    from irtrouter.data.splits import split_out_of_distribution
    from irtrouter.embed.cache import CachedEmbedder
    from irtrouter.embed.registry import make_embedder
    from irtrouter.errors import DataError
    from irtrouter.evaluate.harness import run_setting
    from irtrouter.evaluate.protocol import fully_observed_llms, make_setting, named_setting

    setting = named_setting(spec)
    embedder = CachedEmbedder(make_embedder("use"))
    out: dict[str, dict[float, list[float]]] = {r: {a: [] for a in ALPHAS} for r in ROUTERS}
    for task in setting.train.task_names():
        train, held = split_out_of_distribution(setting.train, (task,))
        llms = fully_observed_llms(train, held)  # holes are whole tasks on zeroeval
        if len(llms) < 2:
            continue
        try:
            inner = make_setting(
                setting.dataset, f"left out {task}", train.select_llms(llms), held.select_llms(llms), setting.catalog
            )
        except DataError:  # no query of the task is observed for every LLM
            continue
        result = run_setting(inner, ROUTERS, embedder, alphas=ALPHAS)
        for row in result.rows["routing"]:
            if row["router"] in out and row["alpha"] in ALPHAS:
                out[row["router"]][row["alpha"]].append(row["reward"])
    return out


def main(settings: list[str]) -> None:
    print(f"{platform.machine()}, CPython {platform.python_version()}")
    header = " | ".join(f"{name} @{a}" for a in ALPHAS for name in ("best-single", "knn-tuned", "default", "alone"))
    print(f"| setting | left-out tasks | {header} | alone beats default @0.8 / @0.5 |")
    print("|---|---|" + "---|" * (4 * len(ALPHAS)) + "---|")
    for spec in settings:
        started = time.perf_counter()
        rewards = left_out_rewards(spec)
        n = len(rewards["default"][ALPHAS[0]])
        if n == 0:
            print(f"| {spec} | 0 |" + " - |" * (4 * len(ALPHAS) + 1), flush=True)
            continue
        cells = [f"{statistics.mean(rewards[r][a]):.2f}" for a in ALPHAS for r in ROUTERS]
        wins = [
            sum(alone > staged for alone, staged in zip(rewards[MODEL_ALONE][a], rewards["default"][a], strict=True))
            for a in ALPHAS
        ]
        print(f"| {spec} | {n} | " + " | ".join(cells) + f" | {wins[0]} / {wins[1]} of {n} |", flush=True)
        print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:] or SETTINGS)
