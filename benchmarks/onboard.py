"""Onboarding a new LLM without retraining: hold each LLM out, bring it back, compare with retraining.

For each dataset with query text and each predictor (2PL, MIRT), for every LLM k in turn:

1. train the router on the train split *without* k (USE embeddings, paper defaults, seed 0);
2. bring k back from
   * its **profile** alone (no query run);
   * an **adaptive quiz** of 10/20/30/50 queries (Fisher information / D-optimal, MAP with the
     prior named in the table) whose answers are k's real scores on those *training* queries;
   * a **uniform quiz** of the same sizes (mean of ``--uniform-repeats`` random draws);
   * **all** of k's training answers through the same frozen query side (the quiz's ceiling);
3. score on the test split (queries observed for every LLM): AUC/ACC/RMSE/MAE of k's predicted
   P (IRT-Router Table 4) and the Reward (paper eq. 12 x 100, alpha 0.8) of the router with k;
4. against **full retraining**: the router trained with every LLM (one model per dataset and
   predictor: "retrain with k's training data").

Trained routers are cached under ``--cache`` (``runs/onboard-bench``), so a rerun only re-scores;
per (dataset, predictor) results go to JSON there; ``--report`` prints the Markdown tables and
draws the plot from those files.

    python benchmarks/onboard.py --datasets llmrouter routerbench_subset --predictors 2pl mirt
    python benchmarks/onboard.py --report --plot docs/img/onboard.png
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.metrics import outcome, realised_costs, single_llm_cost_scale
from irtrouter.evaluate.prediction import prediction_quality
from irtrouter.onboard.newllm import ability_prior, quiz_bank
from irtrouter.onboard.quiz import map_ability
from irtrouter.onboard.simulate import Newcomer, simulate_onboarding
from irtrouter.routing import IRTRouter, load_router

DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm")
BUDGETS = (10, 20, 30, 50)
ALPHA = 0.8
DIMS = {"2pl": 1, "mirt": 25}


def trained(
    cache: Path,
    name: str,
    predictor: str,
    train: ResultsMatrix,
    catalog: LLMCatalog,
    held_out: str | None,
    embedder: Any,
) -> tuple[IRTRouter, float]:
    """The router on ``train`` without ``held_out`` (None: every LLM), from the cache or trained."""
    path = cache / name / predictor / ("full" if held_out is None else "without-" + held_out.replace("/", "__"))
    if (path / "config.json").is_file():
        router = load_router(path, embedder=embedder)
        return router, float(router.training_["train_seconds"])
    part = train if held_out is None else train.select_llms([m for m in train.llm_ids if m != held_out])
    router = IRTRouter(predictor=predictor, n_dims=DIMS[predictor], embedder="use", random_state=0)
    router.fit(part, catalog)
    router.save(path)
    return router, float(router.training_["train_seconds"])


def score(router: IRTRouter, X_test: np.ndarray, test: ResultsMatrix, catalog: LLMCatalog, llm: str) -> dict:
    """Quality of ``llm``'s predicted P and the Reward of the whole router on the test queries."""
    pred = router.predict_embedded(X_test, test.queries)
    ordered = test.select_llms(router.llm_ids)
    usd, _ = realised_costs(ordered, catalog)
    reward = outcome(ordered.scores, usd, router.choose(pred, ALPHA)).reward(
        ALPHA, 1 - ALPHA, single_llm_cost_scale(usd)
    )
    j = router.llm_ids.index(llm)
    q = prediction_quality(ordered.scores[:, j], pred.p_hat[:, j])
    return {
        "auc": q.auc,
        "acc": q.acc,
        "rmse": q.rmse,
        "mae": q.mae,
        "reward": reward,
        "share": float(np.mean(router.choose(pred, ALPHA) == j)),
    }


def run(name: str, predictor: str, args: argparse.Namespace, embedder: Any) -> dict:
    bench = load_benchmark(name, default_data_root() / name)
    train, test, catalog = bench.train, bench.test.complete(), bench.catalog
    encoder = CachedEmbedder(embedder)
    X_train, X_test = encoder.encode(train.queries), encoder.encode(test.queries)
    cache = Path(args.cache)
    full, full_seconds = trained(cache, name, predictor, train, catalog, None, embedder)
    prior = args.prior
    out: dict[str, Any] = {
        "dataset": name,
        "predictor": predictor,
        "prior": prior,
        "budgets": list(BUDGETS),
        "n_train": train.n_queries,
        "n_test": test.n_queries,
        "alpha": ALPHA,
        "full_train_seconds": full_seconds,
        "notes": list(bench.notes),
        "llms": {},
    }
    for k, llm in enumerate(train.llm_ids):
        started = time.perf_counter()
        router, seconds = trained(cache, name, predictor, train, catalog, llm, embedder)
        row = hold_out(router, full, train, k, X_train, X_test, test, catalog, args)
        row["train_seconds"] = seconds
        out["llms"][llm] = row
        print(
            f"  {name}/{predictor}: {llm} done in {time.perf_counter() - started:.0f}s "
            f"(training {seconds:.0f}s; AUC full {row['full']['auc']:.3f}, profile {row['profile']['auc']:.3f}, "
            f"adaptive@30 {row['adaptive@30']['auc']:.3f}, uniform@30 {row['uniform@30']['auc']:.3f})",
            flush=True,
        )
    return out


def hold_out(
    router: IRTRouter,
    full: IRTRouter,
    train: ResultsMatrix,
    k: int,
    X_train: np.ndarray,
    X_test: np.ndarray,
    test: ResultsMatrix,
    catalog: LLMCatalog,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Every way of bringing LLM ``k`` back into ``router`` (trained without it), scored on test."""
    llm = train.llm_ids[k]
    y = train.scores[:, k]
    # Every variant gets k's mean real cost on the train split (observed cost model) or its catalog's
    # expected tokens: the rows compare abilities, not pricing.
    observed_cost = router.cost_model_.kind == "observed"
    newcomer = Newcomer(catalog[llm], y, cost_usd=train.cost_usd[:, k] if observed_cost else None)
    row: dict[str, Any] = {"full": score(full, X_test, test, catalog, llm)}
    row["not added"] = {"reward": score_without(router, X_test, test, catalog)}
    bank = quiz_bank(router, X_train)
    prior = ability_prior(router, args.prior)
    observed = np.flatnonzero(~np.isnan(y))
    theta_all, _ = map_ability(bank, observed, y[observed], prior)

    def variant(theta: np.ndarray | None) -> dict:
        """Scores with k added at ``theta`` (None: from its profile), and the distance of the
        ability from the all-answers estimate through the same frozen query side."""
        grown = newcomer.into(router, theta)
        res = score(grown, X_test, test, catalog, llm)
        res["ability_error"] = float(np.linalg.norm(grown.predictor_.abilities_[-1] - theta_all))
        return res

    row["profile"] = variant(None)
    quiz_started = time.perf_counter()
    adaptive = simulate_onboarding(router, newcomer, X_train, prior=prior, max_items=max(BUDGETS))
    row["quiz_ms"] = 1000 * (time.perf_counter() - quiz_started)
    uniform = [
        simulate_onboarding(
            router, newcomer, X_train, prior=prior, selection="uniform", max_items=max(BUDGETS), random_state=s
        )
        for s in range(args.uniform_repeats)
    ]
    for n in BUDGETS:
        row[f"adaptive@{n}"] = variant(adaptive.ability_after(n))
        draws = [variant(u.ability_after(n)) for u in uniform]
        row[f"uniform@{n}"] = {m: float(np.mean([d[m] for d in draws])) for m in draws[0]}
    row[f"all {len(observed)}"] = variant(theta_all)
    return row


def score_without(router: IRTRouter, X_test: np.ndarray, test: ResultsMatrix, catalog: LLMCatalog) -> float:
    """Reward of the router that never got the new LLM (cost scale of the full pool)."""
    pred = router.predict_embedded(X_test, test.queries)
    usd_all, _ = realised_costs(test, catalog)
    ordered = test.select_llms(router.llm_ids)
    usd, _ = realised_costs(ordered, catalog)
    return outcome(ordered.scores, usd, router.choose(pred, ALPHA)).reward(
        ALPHA, 1 - ALPHA, single_llm_cost_scale(usd_all)
    )


# -- report ----------------------------------------------------------------------------------------

METHODS = ["profile", *[f"uniform@{n}" for n in BUDGETS], *[f"adaptive@{n}" for n in BUDGETS], "all", "full"]


def mean_over_llms(res: dict, method: str, metric: str) -> float:
    vals = []
    for row in res["llms"].values():
        key = method if method != "all" else next(k for k in row if k.startswith("all "))
        vals.append(row[key][metric])
    return float(np.nanmean(vals))


def cell(res: dict, metric: str, method: str) -> str:
    value = mean_over_llms(res, method, metric)
    return f"{value:.3f}" if metric == "auc" else f"{value:.2f}"


def report(cache: Path, plot: str | None) -> None:
    files = sorted(cache.glob("results-*.json"))
    results = [json.loads(f.read_text()) for f in files]
    results.sort(key=lambda r: (DATASETS.index(r["dataset"]), r["predictor"], r["prior"]))
    print("### Hold one LLM out, bring it back: AUC of its predicted P and Reward (alpha 0.8), test split\n")
    print(
        "Mean over the held-out LLMs. Quiz queries are training queries answered with the held-out LLM's real "
        "scores; uniform = mean of the random draws.\n"
    )
    print(
        "| dataset / predictor (prior) | LLMs | without it | profile | uniform 10/20/30/50 | adaptive 10/20/30/50 "
        "| all train answers | full retraining | adaptive@30 - full |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for metric in ("auc", "reward"):
            uni = " / ".join(cell(r, metric, f"uniform@{n}") for n in BUDGETS)
            ada = " / ".join(cell(r, metric, f"adaptive@{n}") for n in BUDGETS)
            gap = mean_over_llms(r, "adaptive@30", metric) - mean_over_llms(r, "full", metric)
            label = f"{r['dataset']} / {r['predictor']} ({r['prior']}) {metric.upper()}"
            without = cell(r, metric, "not added") if metric == "reward" else "-"
            print(
                f"| {label} | {len(r['llms'])} | {without} | {cell(r, metric, 'profile')} | {uni} | {ada} "
                f"| {cell(r, metric, 'all')} | {cell(r, metric, 'full')} | {gap:+.3f} |"
            )
    print("\n### Target: adaptive@30 within 0.02 AUC of full retraining, per held-out LLM\n")
    print("| dataset / predictor (prior) | met (LLMs) | worst gap | mean full retraining time | quiz time (50 q) |")
    print("|---|---|---|---|---|")
    for r in results:
        gaps = [row["adaptive@30"]["auc"] - row["full"]["auc"] for row in r["llms"].values()]
        met = sum(g >= -0.02 for g in gaps)
        train_s = np.mean([row["train_seconds"] for row in r["llms"].values()])
        quiz_ms = np.mean([row["quiz_ms"] for row in r["llms"].values()])
        print(
            f"| {r['dataset']} / {r['predictor']} ({r['prior']}) | {met} of {len(gaps)} | {min(gaps):+.3f} | "
            f"{train_s:.0f}s (all LLMs: {r['full_train_seconds']:.0f}s) | {quiz_ms:.0f} ms |"
        )
    print("\n### Ability error: distance of the estimate from the all-answers estimate (same frozen query side)\n")
    print("| dataset / predictor (prior) | profile | uniform 10/20/30/50 | adaptive 10/20/30/50 |")
    print("|---|---|---|---|")
    for r in results:
        uni = " / ".join(f"{mean_over_llms(r, f'uniform@{n}', 'ability_error'):.3f}" for n in BUDGETS)
        ada = " / ".join(f"{mean_over_llms(r, f'adaptive@{n}', 'ability_error'):.3f}" for n in BUDGETS)
        prof = mean_over_llms(r, "profile", "ability_error")
        print(f"| {r['dataset']} / {r['predictor']} ({r['prior']}) | {prof:.3f} | {uni} | {ada} |")
    print("\n### New-LLM prediction quality (IRT-Router Table 4 metrics), mean over held-out LLMs\n")
    print("| dataset / predictor (prior) | method | AUC | ACC | RMSE | MAE |")
    print("|---|---|---|---|---|---|")
    for r in results:
        for method in ("profile", "uniform@30", "adaptive@30", "full"):
            vals = " | ".join(f"{mean_over_llms(r, method, m):.3f}" for m in ("auc", "acc", "rmse", "mae"))
            print(f"| {r['dataset']} / {r['predictor']} ({r['prior']}) | {method} | {vals} |")
    if plot:
        draw(results, plot)


def draw(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [d for d in DATASETS if any(r["dataset"] == d for r in results)]
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 6.5), squeeze=False)
    colours = {("2pl", "standard"): "tab:blue", ("mirt", "pool"): "tab:orange", ("mirt", "standard"): "tab:grey"}
    for col, name in enumerate(names):
        for row, metric in enumerate(("auc", "reward")):
            ax = axes[row, col]
            lines_drawn: set[str] = set()
            for r in (r for r in results if r["dataset"] == name):
                c = colours.get((r["predictor"], r["prior"]), "tab:green")
                tag = r["predictor"] + ("" if r["predictor"] == "2pl" else f" ({r['prior']} prior)")
                ax.plot(
                    BUDGETS,
                    [mean_over_llms(r, f"adaptive@{n}", metric) for n in BUDGETS],
                    "-",
                    marker="o",
                    color=c,
                    label=f"{tag}: adaptive quiz",
                )
                ax.plot(
                    BUDGETS,
                    [mean_over_llms(r, f"uniform@{n}", metric) for n in BUDGETS],
                    ":",
                    marker="x",
                    color=c,
                    label=f"{tag}: uniform quiz",
                )
                if r["predictor"] in lines_drawn:  # retraining and profile do not depend on the prior
                    continue
                lines_drawn.add(r["predictor"])
                ax.axhline(
                    mean_over_llms(r, "full", metric),
                    color=c,
                    lw=1.2,
                    ls="--",
                    label=f"{r['predictor']}: full retraining",
                )
                ax.axhline(
                    mean_over_llms(r, "profile", metric),
                    color=c,
                    lw=1,
                    ls=(0, (1, 2)),
                    label=f"{r['predictor']}: profile only",
                )
            ax.set_title(f"{name}: {'AUC of the new LLM' if metric == 'auc' else 'Reward @0.8 with it'}", fontsize=9)
            ax.set_xlabel("quiz queries")
            ax.set_xticks(BUDGETS)
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--predictors", nargs="+", default=["2pl", "mirt"], choices=list(DIMS))
    parser.add_argument("--prior", default="pool", choices=["pool", "standard"])
    parser.add_argument("--uniform-repeats", type=int, default=5)
    parser.add_argument("--cache", default="runs/onboard-bench")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--report", action="store_true", help="print tables (and --plot) from the cached results")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    cache = Path(args.cache)
    if args.report:
        report(cache, args.plot)
        return
    import torch

    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"torch threads {args.threads}",
        flush=True,
    )
    embedder = make_embedder("use")
    for name in args.datasets:
        for predictor in args.predictors:
            started = time.perf_counter()
            res = run(name, predictor, args, embedder)
            res["seconds"] = time.perf_counter() - started
            cache.mkdir(parents=True, exist_ok=True)
            out = cache / f"results-{name}-{predictor}-{args.prior}.json"
            out.write_text(json.dumps(res, indent=1))
            print(f"{name}/{predictor}: {res['seconds']:.0f}s -> {out}", flush=True)


if __name__ == "__main__":
    main()
