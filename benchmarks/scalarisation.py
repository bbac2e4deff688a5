"""Linear vs Chebyshev routing (RADAR): cost-performance curves, hypervolume, CPT; the budget mode.

For each dataset and predictor, the router trained on the train split (the same cached routers
as ``benchmarks/onboard.py``: USE embeddings, paper defaults, seed 0) predicts P and the
normalised cost C of every test query; each scalarisation is swept over 201 weights w in [0, 1]
and every sweep point is scored on the test split (queries observed for every LLM):

* performance = mean realised score; cost = total USD (real for RouterBench, else modelled);
* hypervolume: cost divided by the dearest single LLM's total (RADAR: the dearest configuration),
  reference point (1, 0); the single LLMs' own front is given for comparison;
* CPT(x): cost to reach x of the best single LLM's performance (best by *train* mean score), as a
  share of that LLM's cost.

Budget mode: a second router is trained on 90% of the train split; the weight is calibrated by
bisection on the other 10% (validation) for caps of 10/25/50% of the reference LLM's mean cost
per query, then applied to the test split.

    python benchmarks/scalarisation.py [--datasets ...] [--predictors 2pl mirt] [--plot docs/img/scalarisation.png]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.data import default_data_root, load_benchmark, validation_split
from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import ConfigError
from irtrouter.evaluate.curves import cpt, hypervolume, pareto_front
from irtrouter.evaluate.metrics import realised_costs
from irtrouter.routing import IRTRouter, load_router
from irtrouter.routing.rule import RULES, choose
from irtrouter.routing.scalarise import calibrate_budget

DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm")
DIMS = {"2pl": 1, "mirt": 25}
WEIGHTS = np.linspace(0.0, 1.0, 201)
CPT_LEVELS = (0.8, 0.9, 0.95)
CAPS = (0.1, 0.25, 0.5)


def cached_router(path: Path, predictor: str, train: ResultsMatrix, catalog: LLMCatalog, embedder: Any) -> IRTRouter:
    if (path / "config.json").is_file():
        return load_router(path, embedder=embedder)
    router = IRTRouter(predictor=predictor, n_dims=DIMS[predictor], embedder="use", random_state=0)
    router.fit(train, catalog)
    router.save(path)
    return router


def sweep(p: np.ndarray, c: np.ndarray, scores: np.ndarray, usd: np.ndarray, method: str) -> np.ndarray:
    """(total cost, performance) of the routing at every weight."""
    rows = np.arange(len(p))
    points = []
    for w in WEIGHTS:
        chosen = choose(p, c, float(w), rule=method)
        points.append((usd[rows, chosen].sum(), scores[rows, chosen].mean()))
    return np.asarray(points)


def run(name: str, predictor: str, cache: Path, embedder: Any) -> dict[str, Any]:
    bench = load_benchmark(name, default_data_root() / name)
    train, test, catalog = bench.train, bench.test.complete(), bench.catalog
    encoder = CachedEmbedder(embedder)
    router = cached_router(cache / name / predictor / "full", predictor, train, catalog, embedder)
    test = test.select_llms(router.llm_ids)
    pred = router.predict_embedded(encoder.encode(test.queries), test.queries)
    usd, cost_kind = realised_costs(test, catalog)
    single_cost, single_perf = usd.sum(axis=0), test.scores.mean(axis=0)
    cost_ref = float(single_cost.max())
    ref = int(np.nanargmax(np.nanmean(train.select_llms(router.llm_ids).scores, axis=0)))
    out: dict[str, Any] = {
        "dataset": name,
        "predictor": predictor,
        "cost_kind": cost_kind,
        "n_test": test.n_queries,
        "reference": router.llm_ids[ref],
        "reference_perf": float(single_perf[ref]),
        "reference_cost": float(single_cost[ref]),
        "single": {
            "hv": hypervolume(single_cost, single_perf, cost_ref),
            "points": np.c_[single_cost, single_perf].tolist(),
        },
        "curves": {},
        "budget": [],
    }
    for method in RULES:
        pts = sweep(pred.p_hat, pred.cost, test.scores, usd, method)
        front = pareto_front(pts[:, 0], pts[:, 1])
        out["curves"][method] = {
            "hv": hypervolume(pts[:, 0], pts[:, 1], cost_ref),
            "cpt": {x: cpt(pts[:, 0], pts[:, 1], x, single_perf[ref], single_cost[ref]) for x in CPT_LEVELS},
            "points": pts.tolist(),
            "front_size": len(front),
            "distinct": len({tuple(p) for p in pts.round(9).tolist()}),
        }

    # Budget mode: calibrate on a validation share the router never trained on.
    fit_part, val = validation_split(train, 0.1, seed=0)
    budget_router = cached_router(cache / name / predictor / "fit90", predictor, fit_part, catalog, embedder)
    val = val.complete().select_llms(budget_router.llm_ids)
    pv = budget_router.predict_embedded(encoder.encode(val.queries), val.queries)
    val_usd, _ = realised_costs(val, catalog)
    pt = budget_router.predict_embedded(encoder.encode(test.queries), test.queries)
    rows = np.arange(test.n_queries)
    ref_per_query = float(val_usd[:, ref].mean())
    for share in CAPS:
        cap = share * ref_per_query
        for method in RULES:
            entry: dict[str, Any] = {"method": method, "share": share, "cap": cap}
            try:
                cal = calibrate_budget(pv.p_hat, pv.cost, cap, method, spend=val_usd)
            except ConfigError as exc:
                entry["error"] = str(exc)
                out["budget"].append(entry)
                continue
            chosen = cal.choose(pt.p_hat, pt.cost)
            within = single_cost / test.n_queries <= cap
            entry |= {
                "weight": cal.weight,
                "val_cost": cal.mean_cost,
                "test_cost": float(usd[rows, chosen].mean()),
                "test_perf": float(test.scores[rows, chosen].mean()),
                "best_single_within_cap": float(single_perf[within].max()) if within.any() else None,
            }
            out["budget"].append(entry)
    return out


def priced_alike(r: dict[str, Any]) -> bool:
    costs = np.asarray(r["single"]["points"])[:, 0]
    return bool(np.ptp(costs) <= 1e-12 * max(costs.max(), 1e-300))


def print_tables(results: list[dict[str, Any]]) -> None:
    print("### Linear vs Chebyshev: hypervolume and CPT on the test split\n")
    print(
        "Hypervolume: cost / the dearest single LLM's total, reference (1, 0). CPT(x): cost to reach x of the "
        "reference LLM's performance (best train mean), as a share of its cost (inf: never reached).\n"
    )
    print("| dataset | predictor | routing | hypervolume | CPT 80% / 90% / 95% | distinct points | reference LLM |")
    print("|---|---|---|---|---|---|---|")
    shown: set[str] = set()
    for r in results:
        if priced_alike(r):
            perf = np.asarray(r["curves"]["linear"]["points"])[:, 1]
            if r["dataset"] not in shown:
                best = max(p for _, p in r["single"]["points"])
                n_single = len(r["single"]["points"])
                print(
                    f"| {r['dataset']} | - | single LLMs | n/a: every LLM priced alike | - | {n_single} "
                    f"| best single perf {best:.3f} |"
                )
                shown.add(r["dataset"])
            print(
                f"| {r['dataset']} | {r['predictor']} | both | n/a | - | {r['curves']['linear']['distinct']} "
                f"| router perf {perf.max():.3f} at every weight |"
            )
            continue
        if r["dataset"] not in shown:
            ref = f"{r['reference']} (perf {r['reference_perf']:.3f}, ${r['reference_cost']:.3f})"
            print(
                f"| {r['dataset']} ({r['cost_kind']} cost) | - | single LLMs | {r['single']['hv']:.4f} | - | "
                f"{len(r['single']['points'])} | {ref} |"
            )
            shown.add(r["dataset"])
        for method, curve in r["curves"].items():
            cpts = " / ".join(f"{curve['cpt'][x]:.3f}" for x in CPT_LEVELS)
            print(
                f"| {r['dataset']} | {r['predictor']} | {method} | {curve['hv']:.4f} | {cpts} | {curve['distinct']} | |"
            )
    print("\n### Budget mode: weight calibrated on validation (10% of train), applied to test\n")
    print(
        "| dataset | predictor | routing | cap $/query (share of ref.) | weight | val $/query | test $/query | "
        "test perf | best single LLM within cap |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if priced_alike(r):
            continue
        for b in r["budget"]:
            head = f"| {r['dataset']} | {r['predictor']} | {b['method']} | {b['cap']:.3g} ({b['share']:.0%}) |"
            if "error" in b:
                print(f"{head} infeasible: cheapest routing spends more | | | | |")
                continue
            single = "none" if b["best_single_within_cap"] is None else f"{b['best_single_within_cap']:.3f}"
            print(
                f"{head} {b['weight']:.4f} | {b['val_cost']:.3g} | {b['test_cost']:.3g} | {b['test_perf']:.3f} "
                f"| {single} |"
            )


def draw(results: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [d for d in DATASETS if any(r["dataset"] == d and not priced_alike(r) for r in results)]
    fig, axes = plt.subplots(1, len(names), figsize=(4.3 * len(names), 3.8), squeeze=False)
    styles = {
        ("2pl", "linear"): ("tab:blue", "-"),
        ("2pl", "chebyshev"): ("tab:blue", "--"),
        ("mirt", "linear"): ("tab:orange", "-"),
        ("mirt", "chebyshev"): ("tab:orange", "--"),
    }
    for ax, name in zip(axes[0], names, strict=True):
        shown_single = False
        for r in (r for r in results if r["dataset"] == name):
            for method, curve in r["curves"].items():
                pts = np.asarray(curve["points"])
                order = np.argsort(pts[:, 0], kind="stable")
                colour, ls = styles[(r["predictor"], method)]
                ax.step(
                    pts[order, 0],
                    np.maximum.accumulate(pts[order, 1]),
                    where="post",
                    color=colour,
                    ls=ls,
                    label=f"{r['predictor']} {method} (HV {curve['hv']:.3f})",
                )
            if not shown_single:
                single = np.asarray(r["single"]["points"])
                ax.scatter(single[:, 0], single[:, 1], s=14, color="black", label="single LLMs", zorder=3)
                shown_single = True
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("total cost on test (USD)")
        ax.set_ylabel("performance")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--predictors", nargs="+", default=["2pl", "mirt"], choices=list(DIMS))
    parser.add_argument("--cache", default="runs/onboard-bench")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}\n")
    embedder = make_embedder("use")
    results = []
    for name in args.datasets:
        for predictor in args.predictors:
            started = time.perf_counter()
            results.append(run(name, predictor, Path(args.cache), embedder))
            print(f"{name}/{predictor}: {time.perf_counter() - started:.0f}s", flush=True)
    print()
    print_tables(results)
    if args.plot:
        draw(results, args.plot)


if __name__ == "__main__":
    main()
