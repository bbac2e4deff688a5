"""LLM Bandit policy vs scalarised routers: cost-performance curves on the shared datasets.

For each dataset: trains the policy (:class:`~irtrouter.routing.policy.PolicyRouter`, defaults,
USE embeddings), MIRT-Router and RADAR's 2PL on the train split; sweeps the policy's preference
w over [0, 2] and the scalarised routers' alpha over [0, 1]; scores every point on the test split
(queries observed for every LLM) with realised performance and Total Cost (real USD where the data
has it, else modelled). Also scores the *scalarised identity model* (alpha * P - beta * C on the
policy's own p-hat): the policy minus the learned decision rule. On routellm's two LLMs it adds
RouteLLM's matrix-factorisation router from the registry when present.

Per router: hypervolume and AIQ (cost scaled by the dearest single LLM's Total Cost), Reward
(IRT-Router eq. 12) at alpha 0.8 and 0.5 (the policy at w = beta / alpha), the policy's cost
reduction at equal performance against each baseline's Pareto points, and its performance gain
at matched cost. The policy is trained for w in [0, 2], the trade-offs of alpha in [1/3, 1]; the
baselines' full sweep (alpha down to 0, cost alone) reaches cheaper points than any w can, so their
hypervolume is also given over alpha >= 1/3, and the two comparisons use that range.

    python benchmarks/bandit_curves.py [--datasets llmrouter ...] [--seed 0] [--out results.json]
    python benchmarks/bandit_curves.py --from-json results.json    # the tables again, no training
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.evaluate.curves import aiq, hypervolume, pareto_front
from irtrouter.evaluate.metrics import outcome, realised_costs
from irtrouter.routing import IRTRouter, TradeOff, load_router
from irtrouter.routing.policy.router import PolicyRouter

DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm")
ALPHAS = np.round(np.linspace(0.0, 1.0, 101), 4)
# The policy at the same trade-offs as the baselines' alphas, within its trained range w <= 2.
PREFERENCES = sorted({round((1 - a) / a, 6) for a in ALPHAS if a >= 1 / 3} | {2.0})
SHARES = np.round(np.linspace(0.0, 1.0, 101), 4)


def curve(scores: np.ndarray, costs: np.ndarray, routings: dict[float, np.ndarray]) -> list[tuple[float, float, float]]:
    """(weight, Total Cost, performance) for each weight's routing."""
    out = []
    for weight, routing in routings.items():
        o = outcome(scores, costs, routing)
        out.append((float(weight), o.total_cost, o.performance))
    return out


def cheapest_reaching(points: list[tuple[float, float, float]], perf: float) -> float:
    """Least Total Cost among points with performance >= perf (inf if none)."""
    reached = [c for _, c, p in points if p >= perf - 1e-12]
    return min(reached) if reached else float("inf")


def best_within(points: list[tuple[float, float, float]], budget: float) -> float:
    """Best performance among points costing <= budget (nan if none)."""
    within = [p for _, c, p in points if c <= budget + 1e-12]
    return max(within) if within else float("nan")


def compare(policy: list, base: list) -> dict[str, float]:
    """Cost reduction of the policy at each of the baseline's Pareto performances, and the
    policy's performance gain at each of its own costs (matched cost)."""
    costs = [c for _, c, _ in base]
    perfs = [p for _, _, p in base]
    reductions = []
    unreachable = 0
    for i in pareto_front(costs, perfs):
        need = cheapest_reaching(policy, perfs[i])
        if np.isinf(need):
            unreachable += 1
        elif costs[i] > 0:
            reductions.append(1.0 - need / costs[i])
    gains = [p - best_within(base, c) for _, c, p in policy if not np.isnan(best_within(base, c))]
    return {
        "cost_reduction_mean": float(np.mean(reductions)) if reductions else float("nan"),
        "cost_reduction_max": float(np.max(reductions)) if reductions else float("nan"),
        "cost_reduction_min": float(np.min(reductions)) if reductions else float("nan"),
        "unreachable_points": unreachable,
        "perf_gain_mean": float(np.mean(gains)) if gains else float("nan"),
    }


def run(name: str, seed: int, save: str | None = None, load: str | None = None) -> dict:
    bench = load_benchmark(name, default_data_root() / name, seed=seed)
    test = bench.test.complete()
    usd, cost_kind = realised_costs(test, bench.catalog)
    scores = test.scores
    result: dict = {"dataset": name, "test_queries": test.n_queries, "llms": list(test.llm_ids), "cost": cost_kind}
    curves: dict[str, list] = {}
    seconds: dict[str, float] = {}

    if load:
        policy = load_router(Path(load) / name)
        assert isinstance(policy, PolicyRouter), f"{load}/{name} is not a policy router"
    else:
        policy = PolicyRouter(random_state=seed).fit(bench.train, bench.catalog)
    seconds["llm-bandit policy"] = float(policy.training_["total_seconds"])  # type: ignore[arg-type]  # saved
    if save:
        policy.save(Path(save) / name)
    pred = policy.predict(test.queries)
    curves["llm-bandit policy"] = curve(scores, usd, {w: policy.choose(pred, preference=w) for w in PREFERENCES})
    # The same p-hat under IRT-Router's rule: the policy's contribution over scalarisation.
    linear = {a: policy.choose(pred, alpha=a, rule="linear") for a in ALPHAS}
    curves["scalarised identity IRT"] = curve(scores, usd, linear)
    summary: dict = policy.training_["policy"]  # type: ignore[assignment]
    result["policy_training"] = {k: summary[k] for k in ("kept_ppo_step", "validation_history", "seconds")}
    for label, predictor, dims in (("MIRT-Router", "mirt", 25), ("2PL (RADAR)", "2pl", 1)):
        started = time.perf_counter()
        router = IRTRouter(predictor=predictor, n_dims=dims, random_state=seed).fit(bench.train, bench.catalog)
        seconds[label] = time.perf_counter() - started
        p = router.predict(test.queries)
        curves[label] = curve(scores, usd, {a: router.choose(p, alpha=a) for a in ALPHAS})
    if test.n_llms == 2:  # RouteLLM's own setting: one strong and one weak LLM
        from irtrouter.evaluate.routers.contract import QueryBatch, TrainingData
        from irtrouter.evaluate.routers.registry import make_router

        started = time.perf_counter()
        mf = make_router("routellm-mf", random_state=seed)
        mf.fit(TrainingData(bench.train, bench.catalog, policy.neighbours_.embeddings, policy.embedder_))
        seconds["RouteLLM MF"] = time.perf_counter() - started
        decisions = mf.decide(QueryBatch(tuple(test.queries), policy.embed(test.queries)))
        # RouteLLM's own protocol: sweep the share of calls sent to the strong LLM.
        curves["RouteLLM MF"] = curve(scores, usd, {s: decisions.at_share(s) for s in SHARES})  # type: ignore[attr-defined]

    result["single_llms"] = [
        (m, float(usd[:, j].sum()), float(scores[:, j].mean())) for j, m in enumerate(test.llm_ids)
    ]
    result["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    result["curves"] = curves
    return result


def summarise(r: dict) -> dict[str, dict]:
    """Per router: hypervolume and AIQ (full sweep, and the baselines restricted to the policy's
    trade-off range alpha >= 1 / (1 + max w)), Reward at alpha 0.8 / 0.5, and the policy's cost
    reduction at equal performance / performance gain at matched cost against that range."""
    curves = r.get("curves") or {label: row["points"] for label, row in r["routers"].items()}
    seconds = r.get("seconds") or {label: row["train_seconds"] for label, row in r["routers"].items()}
    scale = max(cost for _, cost, _ in r["single_llms"])  # the dearest single LLM's Total Cost
    policy = [tuple(x) for x in curves["llm-bandit policy"]]
    lowest_alpha = TradeOff.of(preference=max(w for w, _, _ in policy)).alpha
    out = {}
    for label, pts in curves.items():
        pts = [tuple(x) for x in pts]
        is_policy = label == "llm-bandit policy"
        by_share = label == "RouteLLM MF"  # its weights are shares of strong calls, not alphas
        same = pts if is_policy or by_share else [x for x in pts if x[0] >= lowest_alpha - 1e-9]

        def at(alpha: float, pts: list = pts, is_policy: bool = is_policy, by_share: bool = by_share) -> float:
            if by_share:  # no point belongs to an alpha
                return float("nan")
            weight = (1 - alpha) / alpha if is_policy else alpha
            _, cost, perf = min(pts, key=lambda point: abs(point[0] - weight))
            return 100 * (alpha * perf - (1 - alpha) * cost / scale)

        row = {
            "hypervolume": hypervolume([x[1] for x in pts], [x[2] for x in pts], cost_ref=scale),
            "hypervolume_same_range": hypervolume([x[1] for x in same], [x[2] for x in same], cost_ref=scale),
            "aiq": aiq([x[1] for x in pts], [x[2] for x in pts], max_cost=max(scale, max(x[1] for x in pts))),
            "max_perf": max(x[2] for x in pts),
            "reward@0.8": at(0.8),
            "reward@0.5": at(0.5),
            "train_seconds": seconds.get(label, seconds.get("llm-bandit policy", float("nan"))),
        }
        if not is_policy:
            row["policy_vs"] = compare(policy, same)
        out[label] = row
    return out


def reward_text(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.2f}"


def markdown(r: dict) -> str:
    rows = summarise(r)
    lines = [
        f"### {r['dataset']}: {r['test_queries']} test queries x {len(r['llms'])} LLMs (cost: {r['cost']})",
        "",
        "| router | hypervolume (full sweep / alpha >= 1/3) | AIQ | best perf. | Reward @0.8 | Reward @0.5 | "
        "policy's cost reduction at equal perf. (mean / max) | policy's perf. gain at matched cost | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    costs = [cost for _, cost, _ in r["single_llms"]]
    flat = max(costs) - min(costs) <= 1e-9 * max(costs)  # every LLM costs the same: no trade-off to measure
    for label, row in rows.items():
        vs = row.get("policy_vs")
        red = (
            f"{100 * vs['cost_reduction_mean']:+.1f}% / {100 * vs['cost_reduction_max']:+.1f}%"
            + (f" ({vs['unreachable_points']} unreached)" if vs["unreachable_points"] else "")
            if vs
            else "-"
        )
        gain = f"{100 * vs['perf_gain_mean']:+.2f} pts" if vs else "-"
        hv = f"{row['hypervolume']:.4f}" + ("" if not vs else f" / {row['hypervolume_same_range']:.4f}")
        aiq_text = f"{row['aiq']:.4f}"
        if flat:
            hv, aiq_text, red = "n/a (equal costs)", "n/a", "n/a"
        lines.append(
            f"| {label} | {hv} | {aiq_text} | {row['max_perf']:.4f} | {reward_text(row['reward@0.8'])} | "
            f"{reward_text(row['reward@0.5'])} | {red} | {gain} | {row['train_seconds']:.0f} |"
        )
    best = max(r["single_llms"], key=lambda x: x[2])
    lines.append("")
    lines.append(f"Best single LLM on test: {best[0]} (perf {best[2]:.4f}, ${best[1]:.3f}).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="Also write every curve point to this JSON file.")
    parser.add_argument("--save", default=None, metavar="DIR", help="Save each trained policy router to DIR/<dataset>.")
    parser.add_argument(
        "--from-json", default=None, metavar="FILE", help="Print the tables of an --out file (no training)."
    )
    parser.add_argument(
        "--load", metavar="DIR", help="Use the policy routers saved by --save in DIR (no policy training)."
    )
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as fh:
            for r in json.load(fh):
                print(markdown(r), end="\n\n")
        return
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, seed {args.seed}\n")
    results = []
    for name in args.datasets:
        r = run(name, args.seed, args.save, args.load)
        results.append(r)
        print(markdown(r), flush=True)
        print()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
