"""LLM Bandit generalisation: unseen candidate sets, and an LLM never seen in training (quiz).

Per dataset (llmrouter, routerbench_subset: the pools with enough LLMs), one LLM is set aside as
the *newcomer* and never trained on. On the others:

1. **Held-out candidate sets.** Random subsets of 3 to 6 LLMs are drawn (seeded); the policy's PPO
   only ever sees 16 of them (``candidate_sets``), and is scored on 8 others it never saw, against
   MIRT-Router (trained on every LLM but the newcomer) choosing among the same subset. Reward (eq.
   12 x 100, cost scale of the subset's dearest LLM) at alpha 0.8 and 0.5; the policy at
   w = beta / alpha. The training subsets are scored too: the gap says what "unseen" costs.
2. **The newcomer by quiz.** It answers 30 training prompts (the variance rule; its real recorded
   scores); its identity is fitted with everything frozen and it joins the policy. Reward on the
   test split over the full pool, against (a) MIRT-Router retrained with the newcomer's full
   training data, (b) MIRT-Router with the newcomer added from the same 30 answers (MAP ability,
   :mod:`irtrouter.onboard`), (c) the policy without the newcomer. Also the share of queries sent
   to the newcomer.
3. **Cold-start accuracy** of the newcomer's predicted success on the test split (AUC against its
   real scores) for 20 / 30 / 50 quiz prompts chosen by variance, Fisher (D-optimal) or at random.

    python benchmarks/bandit_generalisation.py [--datasets llmrouter routerbench_subset] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import platform
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.data.results import ResultsMatrix
from irtrouter.evaluate.metrics import outcome, realised_costs, single_llm_cost_scale
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.onboard.identity_quiz import identity_from_answers, select_quiz
from irtrouter.onboard.newllm import ability_from_answers, onboard_llm
from irtrouter.routing import IRTRouter
from irtrouter.routing.policy.router import PolicyRouter

# The workhorse of each pool (the LLM MIRT-Router picks most at alpha 0.8): its absence matters.
NEWCOMER = {"llmrouter": "gemma-2-9b-it", "routerbench_subset": "zero-one-ai/Yi-34B-Chat"}
ALPHAS = (0.8, 0.5)

log = logging.getLogger("bandit_generalisation")


def subsets(llms: list[str], seed: int, n_train: int = 16, n_test: int = 8) -> tuple[list, list]:
    """Disjoint families of random candidate sets (3 to 6 LLMs)."""
    rng = np.random.default_rng(seed)
    every = [c for k in range(3, min(6, len(llms)) + 1) for c in itertools.combinations(llms, k)]
    pick = rng.permutation(len(every))[: n_train + n_test]
    chosen = [list(every[i]) for i in pick]
    return chosen[:n_train], chosen[n_train:]


def reward(test: ResultsMatrix, usd: np.ndarray, routing: np.ndarray, cols: list[int], alpha: float) -> float:
    """Reward of a routing among columns ``cols`` (indices into those columns)."""
    scores, costs = test.scores[:, cols], usd[:, cols]
    return outcome(scores, costs, routing).reward(alpha, 1 - alpha, single_llm_cost_scale(costs))


def run(name: str, seed: int) -> dict:
    bench = load_benchmark(name, default_data_root() / name, seed=seed)
    newcomer = NEWCOMER[name]
    known = [m for m in bench.train.llm_ids if m != newcomer]
    train_known = bench.train.select_llms(known)
    test = bench.test.complete()
    usd, cost_kind = realised_costs(test, bench.catalog)
    col = {m: j for j, m in enumerate(test.llm_ids)}
    out: dict = {"dataset": name, "newcomer": newcomer, "cost": cost_kind, "test_queries": test.n_queries}

    fit_sets, unseen_sets = subsets(known, seed)
    started = time.perf_counter()
    policy = PolicyRouter(random_state=seed).fit(train_known, bench.catalog, candidate_sets=fit_sets)
    out["policy_seconds"] = round(time.perf_counter() - started, 1)
    log.info("%s: policy trained in %.0fs", name, out["policy_seconds"])
    mirt = IRTRouter(random_state=seed).fit(train_known, bench.catalog)
    pol_pred, mirt_pred = policy.predict(test.queries), mirt.predict(test.queries)

    # 1. candidate sets seen and unseen in training
    for family, sets in (("trained sets", fit_sets), ("unseen sets", unseen_sets)):
        rows = {}
        for alpha in ALPHAS:
            pol, irt = [], []
            for s in sets:
                cols = [col[m] for m in s]
                local = {j: i for i, j in enumerate(cols)}
                pick = policy.choose(pol_pred, preference=(1 - alpha) / alpha, allowed_llms=s)
                pol.append(reward(test, usd, np.array([local[known_col(policy, j, col)] for j in pick]), cols, alpha))
                pick = mirt.choose(mirt_pred, alpha=alpha, allowed_llms=s)
                irt.append(reward(test, usd, np.array([local[known_col(mirt, j, col)] for j in pick]), cols, alpha))
            rows[alpha] = {"policy": float(np.mean(pol)), "mirt": float(np.mean(irt)), "n_sets": len(sets)}
        out[family] = rows
    full = [*known, newcomer]
    cols = [col[m] for m in full]
    without = {}  # the policy over the pool without the newcomer, for comparison
    for alpha in ALPHAS:
        before = policy.choose(pol_pred, preference=(1 - alpha) / alpha)
        without[alpha] = {
            "reward": _scored(test, usd, cols, alpha, before, policy, col)["reward"],
            "share_to_newcomer": 0.0,
        }

    # 2. the newcomer joins by a 30-prompt quiz
    j_new = bench.train.llm_ids.index(newcomer)
    X_pool = policy.neighbours_.embeddings
    asked = select_quiz(policy, X_pool, n_prompts=30)
    answers = bench.train.scores[asked, j_new]
    observed = ~np.isnan(answers)
    asked, answers = asked[observed], answers[observed]
    spent = None if bench.train.cost_usd is None else bench.train.cost_usd[asked, j_new]
    spec = bench.catalog[newcomer]
    estimate = identity_from_answers(policy, X_pool[asked], answers)
    onboard_llm(policy, spec, ability=estimate.mean, cost_usd=spent)
    theta, _ = ability_from_answers(mirt, mirt.embed([bench.train.queries[i] for i in asked]), answers)
    onboard_llm(mirt, spec, ability=theta, cost_usd=spent)
    mirt_all = IRTRouter(random_state=seed).fit(bench.train, bench.catalog)

    newcomer_rows = {}
    for alpha in ALPHAS:
        w = (1 - alpha) / alpha
        res = {}
        pp = policy.predict(test.queries)
        res["policy + quiz (30 prompts)"] = _scored(
            test, usd, cols, alpha, policy.choose(pp, preference=w), policy, col
        )
        for label, r in (("MIRT + quiz (30 prompts, MAP ability)", mirt), ("MIRT retrained with it", mirt_all)):
            res[label] = _scored(test, usd, cols, alpha, r.choose(r.predict(test.queries), alpha=alpha), r, col)
        res["policy without it"] = without[alpha]
        newcomer_rows[alpha] = res
    out["with_newcomer"] = newcomer_rows

    # 3. cold-start accuracy of the newcomer's p-hat
    truth = test.scores[:, col[newcomer]] > policy.predictor_.threshold_  # type: ignore[attr-defined]
    X_test = pp.features
    rng = np.random.default_rng(seed)
    auc = {}
    for n in (20, 30, 50):
        for method in ("variance", "fisher", "random"):
            if method == "random":
                pick = rng.choice(len(X_pool), size=n, replace=False)
            else:
                pick = select_quiz(policy, X_pool, n_prompts=n, method=method)
            y = bench.train.scores[pick, j_new]
            ok = ~np.isnan(y)
            est = identity_from_answers(policy, X_pool[pick[ok]], y[ok])
            p = NUMPY_OPS.sigmoid(
                policy.predictor_.logits(NUMPY_OPS, X_test, est.mean[None], policy.predictor_.params_, None)[:, 0]
            )
            auc[f"{method}@{n}"] = float(roc_auc_score(truth, p))
    trained = mirt_all.predict(test.queries).p_hat[:, mirt_all.llm_ids.index(newcomer)]
    auc["MIRT trained on all its data"] = float(roc_auc_score(truth, trained))
    out["cold_start_auc"] = auc
    return out


def known_col(router: IRTRouter, j: int, col: dict[str, int]) -> int:
    """The test-matrix column of the router's LLM number ``j``."""
    return col[router.llm_ids[int(j)]]


def _scored(test, usd, cols, alpha, chosen, router, col) -> dict[str, float]:
    idx = np.array([cols.index(known_col(router, j, col)) for j in chosen])
    return {"reward": reward(test, usd, idx, cols, alpha), "share_to_newcomer": float((idx == len(cols) - 1).mean())}


def markdown(r: dict) -> str:
    lines = [f"### {r['dataset']}: newcomer {r['newcomer']}, {r['test_queries']} test queries (cost: {r['cost']})", ""]
    lines += ["| candidate sets | Reward @0.8 policy / MIRT | Reward @0.5 policy / MIRT |", "|---|---|---|"]
    for family in ("trained sets", "unseen sets"):
        f = r[family]
        lines.append(
            f"| {family} ({f[0.8]['n_sets']}) | {f[0.8]['policy']:.2f} / {f[0.8]['mirt']:.2f} | "
            f"{f[0.5]['policy']:.2f} / {f[0.5]['mirt']:.2f} |"
        )
    lines += [
        "",
        "| full pool with the newcomer | Reward @0.8 (share to newcomer) | Reward @0.5 (share) |",
        "|---|---|---|",
    ]
    for label in r["with_newcomer"][0.8]:
        a, b = r["with_newcomer"][0.8][label], r["with_newcomer"][0.5][label]
        lines.append(
            f"| {label} | {a['reward']:.2f} ({100 * a['share_to_newcomer']:.0f}%) | "
            f"{b['reward']:.2f} ({100 * b['share_to_newcomer']:.0f}%) |"
        )
    lines += ["", "Cold-start AUC of the newcomer's predicted success on test: "]
    lines.append(", ".join(f"{k} {v:.3f}" for k, v in r["cold_start_auc"].items()))
    lines.append(f"\nPolicy training {r['policy_seconds']:.0f}s.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(NEWCOMER))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, seed {args.seed}\n")
    results = []
    for name in args.datasets:
        r = run(name, args.seed)
        results.append(r)
        print(markdown(r), flush=True)
        print()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
