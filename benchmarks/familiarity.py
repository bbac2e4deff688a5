"""How unfamiliar each test split is to ``default``'s novelty gate (issue 12).

For each setting (dataset, split, seed of the protocol) ``default`` is fitted on the training split
as ``benchmarks/pays.py`` fits it, then the test queries' familiarity (mean cosine similarity to
their 10 nearest training queries, :mod:`irtrouter.routing.familiarity`) is set against the
validation queries' and the gate's threshold, with the share of test queries the gate routes by the
model alone. Nothing here is tuned: the threshold is what the fit chose on its validation queries.

    python benchmarks/familiarity.py [--settings llmrouter:ID:0 llmrouter:OOD:0 ...]
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

SETTINGS = (
    "llmrouter:ID:0",
    "llmrouter:OOD:0",
    "routerbench_subset:ID:0",
    "routerbench_subset:OOD:0",
    "routerdc_7llm:ID:0",
    "routerdc_7llm:OOD:0",
    "routellm:ID:0",
    "routellm:OOD:0",
    "zeroeval:ID:0",
    "zeroeval:OOD:0",
)


def measure(spec: str) -> str:
    from irtrouter.embed.cache import CachedEmbedder
    from irtrouter.embed.registry import make_embedder
    from irtrouter.evaluate.harness import embed_setting
    from irtrouter.evaluate.protocol import named_setting
    from irtrouter.evaluate.routers.contract import TrainingData
    from irtrouter.evaluate.routers.registry import make_router
    from irtrouter.routing.familiarity import FAMILIAR_K

    setting = named_setting(spec)
    embedder = CachedEmbedder(make_embedder("use"))
    X_train, X_test = embed_setting(setting, embedder)
    adapter = make_router("default")
    adapter.fit(TrainingData(setting.train, setting.catalog, X_train, embedder))
    router = adapter.router_
    gate = router.familiarity_
    assert gate is not None, "default has the novelty gate"
    near = router.neighbours_.search(X_test, FAMILIAR_K)
    unfamiliar, f = gate.unfamiliar(X_test, router.neighbours_.embeddings, near)
    seen = gate.validation["validation_familiarity"]
    q10, q50 = np.quantile(f, [0.1, 0.5])
    return (
        f"| {spec} | {router.training_['selection']['chosen']} | {seen['q10']:.3f} | {seen['median']:.3f} "
        f"| {gate.threshold:.3f} | {q10:.3f} | {q50:.3f} "
        f"| {unfamiliar.mean():.1%} ({int(unfamiliar.sum())} of {len(f)}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help="dataset:split:seed")
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}\n")
    print(
        "| setting | family | validation familiarity q10 | median | threshold (validation q01) "
        "| test familiarity q10 | median | test queries unfamiliar |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.settings:
        print(measure(spec), flush=True)


if __name__ == "__main__":
    main()
