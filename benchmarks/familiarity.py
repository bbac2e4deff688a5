"""How unfamiliar each test split is to ``default``'s novelty gate (issue 12).

For each setting (dataset, split, seed of the protocol) ``default`` is fitted on the training split
as ``benchmarks/pays.py`` fits it, then the test queries' familiarity (mean cosine similarity to
their 10 nearest training queries, :mod:`irtrouter.routing.familiarity`) is set against the
validation queries' and the gate's threshold, with the share of test queries the gate routes by the
model alone. Nothing here is tuned: the threshold is what the fit chose on its validation queries.

``--routes`` adds where the router sends the test queries at alpha 0.8, gated and not, with their
mean realised score (test outcomes, read for the diagnosis only); ``--default-spec SPEC`` fits a
variant in ``default``'s place (as ``benchmarks/fit_time.py`` does).

    python benchmarks/familiarity.py [--settings llmrouter:ID:0 llmrouter:OOD:0 ...] [--routes]
        [--default-spec SPEC]
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from irtrouter.evaluate.suite import DATASETS

SETTINGS = tuple(f"{dataset}:{split}:0" for dataset in DATASETS for split in ("ID", "OOD"))


def measure(spec: str, router_spec: str = "default", routes: bool = False) -> tuple[str, str | None]:
    """The setting's row of the familiarity table, and with ``routes`` of the routes table."""
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
    adapter = make_router(router_spec)
    adapter.fit(TrainingData(setting.train, setting.catalog, X_train, embedder))
    router = adapter.router_
    gate = router.familiarity_
    assert gate is not None, "default has the novelty gate"
    near = router.neighbours_.search(X_test, FAMILIAR_K)
    unfamiliar, f = gate.unfamiliar(X_test, router.neighbours_.embeddings, near)
    seen = gate.validation["validation_familiarity"]
    q10, q50 = np.quantile(f, [0.1, 0.5])
    selection = router.training_["selection"]
    familiar_row = (
        f"| {spec} | {selection['chosen']} | {seen['q10']:.3f} | {seen['median']:.3f} "
        f"| {gate.threshold:.3f} | {q10:.3f} | {q50:.3f} "
        f"| {unfamiliar.mean():.1%} ({int(unfamiliar.sum())} of {len(f)}) |"
    )
    if not routes:
        return familiar_row, None
    # Where the router sends the test queries at alpha 0.8, gated or not, and how well they are
    # answered there (the test outcomes, read for this diagnosis only).
    prediction = router.predict_embedded(X_test, setting.test.queries)
    chosen = np.asarray(router.llm_ids)[router.choose(prediction, alpha=0.8)]
    column = {llm: j for j, llm in enumerate(setting.test.llm_ids)}
    score = setting.test.scores[np.arange(len(chosen)), [column[c] for c in chosen]]
    kept = next(row for row in selection["cross_validation"]["table"] if row["kept"])
    cells = [spec, f"{selection['chosen']}, {kept['calibration']}"]
    for mask in (np.asarray(prediction.unfamiliar), ~np.asarray(prediction.unfamiliar)):
        names, counts = np.unique(chosen[mask], return_counts=True)
        top = ", ".join(f"{names[i]} {counts[i]}" for i in np.argsort(-counts, kind="stable")[:3])
        cells += [
            f"{int(mask.sum())}: {top}" if mask.any() else "0",
            f"{score[mask].mean():.3f}" if mask.any() else "-",
        ]
    return familiar_row, "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help="dataset:split:seed")
    parser.add_argument("--default-spec", default="default", help="router spec fitted in default's place")
    parser.add_argument("--routes", action="store_true", help="also where the test queries go at alpha 0.8")
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}\n")
    print(
        "| setting | family | validation familiarity q10 | median | threshold (validation q01) "
        "| test familiarity q10 | median | test queries unfamiliar |"
    )
    print("|---|---|---|---|---|---|---|---|")
    routes = []
    for spec in args.settings:
        familiar_row, routes_row = measure(spec, args.default_spec, args.routes)
        print(familiar_row, flush=True)
        routes.append(routes_row)
    if args.routes:
        print(
            "\n| setting | family, configuration | unfamiliar: queries, top LLMs at 0.8 | their mean score "
            "| the others: queries, top LLMs | their mean score |"
        )
        print("|---|---|---|---|---|---|")
        print("\n".join(row for row in routes if row is not None))


if __name__ == "__main__":
    main()
