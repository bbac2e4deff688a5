"""LLM Bandit cold start on a pool of many LLMs: zeroeval ID, newcomers held out and quizzed in.

Issue 12, item 7. On zeroeval's ID setting (27 LLMs observed on every test query, seeded split):

1. **Reference.** A policy trained with every LLM (and MIRT-Router, for comparison).
2. **Newcomers.** From the LLMs the reference routes at least ``MIN_SHARE`` of the *training*
   queries to (mean over alpha 0.8 and 0.5), ``--n-newcomers`` spread across price (evenly spaced
   in the price order). The pool has one column per same-weights group (the ID setting keeps only
   LLMs observed on every test query, which leaves out the other providers of Llama-3.1-405B and
   -70B), so no newcomer has a near-duplicate left in the pool; the script checks it.
3. **Held-out policy.** Trained on the other LLMs with the same settings and seed.
4. **Quiz.** Each newcomer answers ``--quiz`` training prompts (the variance rule; its real recorded
   scores and answer lengths); its identity is fitted with everything frozen and it joins the
   held-out policy unchanged. MIRT-Router trained on the same LLMs gets the same answers (MAP).

Per newcomer, over the pool "known LLMs + that newcomer", on the test split: the share of queries
routed to it and Reward (eq. 12 x 100, cost scale of the pool's dearest LLM) at alpha 0.8 and 0.5,
for the quizzed policy and the reference restricted to the same pool (and MIRT the same way). Then
all newcomers at once (the full pool). The identity diagnosis: norms of trained vs quizzed
identities and the newcomer's logit gap to the best candidate.

    python benchmarks/bandit_coldstart.py --save runs/coldstart   # trains both policies (~9 min)
    python benchmarks/bandit_coldstart.py --load runs/coldstart   # reuses them (quiz variants only)
    python benchmarks/bandit_coldstart.py --cold-start-rate 0.5 --own-score --newcomers A B C --save DIR

``--cold-start-rate`` and ``--own-score`` set the policy settings of those names for both policies
(docs/BENCHMARKS.md, "LLM Bandit cold start on zeroeval").
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.data.zeroeval import SAME_WEIGHTS
from irtrouter.evaluate.metrics import outcome, realised_costs, single_llm_cost_scale
from irtrouter.evaluate.protocol import benchmark_settings
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.onboard.identity_quiz import identity_from_answers, select_quiz
from irtrouter.onboard.newllm import ability_from_answers, onboarded
from irtrouter.routing import IRTRouter
from irtrouter.routing.policy.network import encode, set_costs
from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.routing.saved import load_router

ALPHAS = (0.8, 0.5)
MIN_SHARE = 0.01

log = logging.getLogger("bandit_coldstart")


def reward(scores: np.ndarray, usd: np.ndarray, picked: np.ndarray, alpha: float) -> float:
    """Reward of routing ``picked`` (column indices of ``scores``), cost scale of the dearest column."""
    return outcome(scores, usd, picked).reward(alpha, 1 - alpha, single_llm_cost_scale(usd))


def route(router: IRTRouter, queries: tuple[np.ndarray, list[str]], pool: list[str], alpha: float) -> np.ndarray:
    """The chosen LLM id for each of the embedded ``queries`` (embeddings, texts), among ``pool``."""
    pred = router.predict_embedded(*queries)
    if isinstance(router, PolicyRouter):
        pick = router.choose(pred, preference=(1 - alpha) / alpha, allowed_llms=pool)
    else:
        pick = router.choose(pred, alpha=alpha, allowed_llms=pool)
    return np.asarray(router.llm_ids, dtype=object)[pick]


def scored(test, usd, pool: list[str], chosen: np.ndarray, alpha: float) -> dict:
    cols = [test.llm_ids.index(m) for m in pool]
    local = {m: i for i, m in enumerate(pool)}
    idx = np.array([local[m] for m in chosen])
    share = {m: float((chosen == m).mean()) for m in pool}
    return {"reward": reward(test.scores[:, cols], usd[:, cols], idx, alpha), "share": share}


def choose_newcomers(reference: PolicyRouter, train, catalog, n: int) -> tuple[list[str], dict]:
    """The rule of the module docstring; also returns the reference's training shares."""
    shares = {m: 0.0 for m in reference.llm_ids}
    for alpha in ALPHAS:
        embedded = (reference.neighbours_.embeddings, list(train.queries))
        chosen = route(reference, embedded, list(reference.llm_ids), alpha)
        for m in shares:
            shares[m] += float((chosen == m).mean()) / len(ALPHAS)
    eligible = sorted((m for m, s in shares.items() if s >= MIN_SHARE), key=lambda m: catalog[m].output_price)
    at = np.unique(np.round(np.linspace(0, len(eligible) - 1, min(n, len(eligible)))).astype(int))
    picked = [eligible[i] for i in at]
    for group in SAME_WEIGHTS:
        for m in picked:
            if m in group and any(o in reference.llm_ids for o in group if o != m):
                raise SystemExit(f"newcomer {m} has a same-weights column in the pool: pick another")
    return picked, shares


def quiz_answers(router: IRTRouter, train, newcomer: str, n_prompts: int):
    """The quiz prompts (indices into train), the newcomer's real scores and output tokens there."""
    X_pool = router.neighbours_.embeddings
    asked = select_quiz(router, X_pool, n_prompts=n_prompts)
    j = train.llm_ids.index(newcomer)
    y = train.scores[asked, j]
    ok = ~np.isnan(y)
    asked = asked[ok]
    tokens = None if train.output_tokens is None else train.output_tokens[asked, j]
    return asked, y[ok], tokens


def logit_diagnosis(
    policy: PolicyRouter, queries: tuple[np.ndarray, list[str]], pool: list[str], newcomer: str, alpha: float
) -> dict:
    """The newcomer's policy logit minus the best other candidate's, over the test queries."""
    from irtrouter.routing.policy.network import candidate_logits

    pred = policy.predict_embedded(*queries)
    cand = [policy.llm_ids.index(m) for m in pool]
    ids = np.asarray(policy.predictor_.abilities_[cand], dtype=np.float32)
    s, q = encode(
        NUMPY_OPS,
        policy.policy_weights_,
        np.asarray(pred.features, dtype=np.float32),
        ids,
        set_costs(pred.cost[:, cand]).astype(np.float32),
        pred.p_hat[:, cand].astype(np.float32),
        policy.settings_.n_heads,
    )
    w = np.full(len(pred.p_hat), (1 - alpha) / alpha, dtype=np.float32)
    c, p = set_costs(pred.cost[:, cand]).astype(np.float32), pred.p_hat[:, cand].astype(np.float32)
    logits = np.asarray(candidate_logits(NUMPY_OPS, policy.policy_weights_, s, q, ids, w, c, p), dtype=np.float64)
    k = pool.index(newcomer)
    others = np.delete(logits, k, axis=1)
    return {
        "newcomer_logit_mean": float(logits[:, k].mean()),
        "best_other_logit_mean": float(others.max(axis=1).mean()),
        "gap_mean": float((logits[:, k] - others.max(axis=1)).mean()),
        "logit_spread_mean": float(logits.std(axis=1).mean()),
    }


def fit_or_load(path: Path | None, load: bool, make, train, catalog) -> IRTRouter:
    if load and path is not None and path.exists():
        return load_router(path)
    started = time.perf_counter()
    router = make().fit(train, catalog)
    log.info("trained %s in %.0fs", type(router).__name__, time.perf_counter() - started)
    if path is not None:
        router.save(path)
    return router


def run(args: argparse.Namespace) -> dict:
    bench = load_benchmark("zeroeval", default_data_root() / "zeroeval", seed=args.seed)
    setting = benchmark_settings(bench, splits=("ID",))[0]
    train, test, catalog = setting.train, setting.test, setting.catalog
    if args.test_queries and test.n_queries > args.test_queries:
        test = test.take(np.random.default_rng(args.seed).permutation(test.n_queries)[: args.test_queries])
    usd, cost_kind = realised_costs(test, catalog)
    texts = list(test.queries)
    policy_params: dict = {} if args.ppo_steps is None else {"ppo_steps": args.ppo_steps}
    if args.cold_start_rate:
        policy_params["cold_start_rate"] = args.cold_start_rate
    if args.own_score:
        policy_params["own_score"] = True
    save = Path(args.save or args.load) if (args.save or args.load) else None

    def policy_maker():
        return PolicyRouter(random_state=args.seed, policy_params=policy_params or None)

    def mirt_maker():
        return IRTRouter(random_state=args.seed)

    t0 = time.perf_counter()
    reference = fit_or_load(save and save / "reference", bool(args.load), policy_maker, train, catalog)
    ref_seconds = time.perf_counter() - t0
    newcomers, train_shares = choose_newcomers(reference, train, catalog, args.n_newcomers)
    if args.newcomers:
        newcomers = args.newcomers
    log.info("newcomers: %s", newcomers)
    queries = (reference.embed(texts), texts)  # one USE encoding of the test queries for every router
    known = [m for m in train.llm_ids if m not in newcomers]
    train_known = train.select_llms(known)
    t0 = time.perf_counter()
    heldout = fit_or_load(save and save / "heldout", bool(args.load), policy_maker, train_known, catalog)
    held_seconds = time.perf_counter() - t0
    mirt_all = fit_or_load(save and save / "mirt-all", bool(args.load), mirt_maker, train, catalog)
    mirt_known = fit_or_load(save and save / "mirt-heldout", bool(args.load), mirt_maker, train_known, catalog)

    out: dict = {
        "seed": args.seed,
        "test_queries": test.n_queries,
        "train_queries": train.n_queries,
        "n_llms": train.n_llms,
        "cost": cost_kind,
        "newcomers": newcomers,
        "train_share_reference": train_shares,
        "quiz_prompts": args.quiz,
        "prior": args.prior,
        "policy_seconds": {"reference": round(ref_seconds, 1), "heldout": round(held_seconds, 1)},
        "ppo_steps": args.ppo_steps,
        "cold_start_rate": args.cold_start_rate,
        "own_score": args.own_score,
    }
    trained_norms = np.linalg.norm(heldout.predictor_.abilities_, axis=1)
    ref_norms = {
        m: float(np.linalg.norm(reference.predictor_.abilities_[reference.llm_ids.index(m)])) for m in newcomers
    }
    out["identity_norms"] = {
        "heldout_trained_min_median_max": [float(v) for v in np.percentile(trained_norms, [0, 50, 100])],
        "reference_newcomers": ref_norms,
    }

    def compare(pool: list[str], policy: IRTRouter, mirt: IRTRouter, alpha: float, who: str) -> dict:
        """The five routers on ``pool`` (``who``: the newcomer, "it", or all of them, "them"); the
        policy without the newcomers routes the known LLMs."""
        return {
            f"policy reference (trained with {who})": scored(
                test, usd, pool, route(reference, queries, pool, alpha), alpha
            ),
            "policy + quiz": scored(test, usd, pool, route(policy, queries, pool, alpha), alpha),
            f"policy without {who}": scored(test, usd, known, route(heldout, queries, known, alpha), alpha),
            f"MIRT trained with {who}": scored(test, usd, pool, route(mirt_all, queries, pool, alpha), alpha),
            "MIRT + quiz": scored(test, usd, pool, route(mirt, queries, pool, alpha), alpha),
        }

    quizzed_policy, quizzed_mirt = heldout, mirt_known
    per: dict = {}
    for m in newcomers:
        asked, y, tokens = quiz_answers(heldout, train, m, args.quiz)
        est = identity_from_answers(heldout, heldout.neighbours_.embeddings[asked], y, prior=args.prior)
        spec = catalog[m]
        pol = onboarded(heldout, spec, ability=est.mean, output_tokens=tokens)
        theta, _ = ability_from_answers(mirt_known, mirt_known.embed([train.queries[i] for i in asked]), y)
        irt = onboarded(mirt_known, spec, ability=theta, output_tokens=tokens)
        quizzed_policy = onboarded(quizzed_policy, spec, ability=est.mean, output_tokens=tokens)
        quizzed_mirt = onboarded(quizzed_mirt, spec, ability=theta, output_tokens=tokens)
        pool = [*known, m]
        rows = {}
        for alpha in ALPHAS:
            rows[alpha] = compare(pool, pol, irt, alpha, "it")
            rows[alpha]["logits"] = logit_diagnosis(pol, queries, pool, m, alpha)
            rows[alpha]["logits_reference"] = logit_diagnosis(reference, queries, pool, m, alpha)
        per[m] = {
            "quiz_answers": len(y),
            "quiz_mean_score": float(y.mean()),
            "quizzed_norm": float(np.linalg.norm(est.mean)),
            "rows": rows,
        }
    out["per_newcomer"] = per
    full = list(train.llm_ids)
    together = {}
    for alpha in ALPHAS:
        together[alpha] = compare(full, quizzed_policy, quizzed_mirt, alpha, "them")
    out["together"] = together
    return out


def markdown(r: dict) -> str:
    n = r["newcomers"]
    lines = [
        f"zeroeval ID, seed {r['seed']}: {r['train_queries']} train / {r['test_queries']} test queries x "
        f"{r['n_llms']} LLMs (cost: {r['cost']}); newcomers {', '.join(n)}; quiz {r['quiz_prompts']} prompts "
        f"(variance rule), identity prior {r['prior']}, policy cold_start_rate {r.get('cold_start_rate', 0.0)}, "
        f"own_score {r.get('own_score', False)}",
        "",
        "| newcomer | router | share @0.8 | Reward @0.8 | share @0.5 | Reward @0.5 |",
        "|---|---|---|---|---|---|",
    ]
    for m, d in r["per_newcomer"].items():
        a, b = d["rows"][0.8], d["rows"][0.5]
        for label in a:
            if label.startswith("logits"):
                continue
            sa = a[label]["share"].get(m)
            sb = b[label]["share"].get(m)
            fmt = lambda s: "-" if s is None else f"{100 * s:.1f}%"  # noqa: E731
            lines.append(
                f"| {m} | {label} | {fmt(sa)} | {a[label]['reward']:.2f} | {fmt(sb)} | {b[label]['reward']:.2f} |"
            )
    lines += ["", "Miss against the target (policy + quiz minus the reference, same pool):", ""]
    lines += [
        "| newcomer | share gap @0.8 | Reward gap @0.8 | share gap @0.5 | Reward gap @0.5 | met |",
        "|---|---|---|---|---|---|",
    ]
    for m, d in r["per_newcomer"].items():
        cells, ok = [], True
        for alpha in ALPHAS:
            row = d["rows"][alpha]
            ds = 100 * (row["policy + quiz"]["share"][m] - row["policy reference (trained with it)"]["share"][m])
            dr = row["policy + quiz"]["reward"] - row["policy reference (trained with it)"]["reward"]
            ok = ok and abs(ds) <= 10 and dr >= -1
            cells += [f"{ds:+.1f} pts", f"{dr:+.2f}"]
        lines.append(f"| {m} | {' | '.join(cells)} | {'yes' if ok else 'no'} |")
    lines += ["", "All newcomers at once (full pool):", ""]
    lines += ["| router | Reward @0.8 | Reward @0.5 | share to the newcomers @0.8 / @0.5 |", "|---|---|---|---|"]
    for label in r["together"][0.8]:
        a, b = r["together"][0.8][label], r["together"][0.5][label]
        sa = sum(a["share"].get(m, 0.0) for m in n)
        sb = sum(b["share"].get(m, 0.0) for m in n)
        lines.append(f"| {label} | {a['reward']:.2f} | {b['reward']:.2f} | {100 * sa:.1f}% / {100 * sb:.1f}% |")
    nm = r["identity_norms"]
    lines += ["", "Identity norms and logits (alpha 0.8):", ""]
    lines.append(
        "trained identities of the held-out policy: min / median / max norm "
        + " / ".join(f"{v:.2f}" for v in nm["heldout_trained_min_median_max"])
    )
    lines += [
        "",
        "| newcomer | norm in the reference | quizzed norm | logit gap to the best other (quizzed / reference) "
        "| logit spread |",
        "|---|---|---|---|---|",
    ]
    for m, d in r["per_newcomer"].items():
        lg, lr = d["rows"][0.8]["logits"], d["rows"][0.8]["logits_reference"]
        lines.append(
            f"| {m} | {nm['reference_newcomers'][m]:.2f} | {d['quizzed_norm']:.2f} | "
            f"{lg['gap_mean']:+.2f} / {lr['gap_mean']:+.2f} | {lg['logit_spread_mean']:.2f} |"
        )
    ps = r["policy_seconds"]
    lines.append(f"\nPolicy training: reference {ps['reference']:.0f}s, held-out {ps['heldout']:.0f}s (0 = loaded).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-newcomers", type=int, default=4)
    parser.add_argument("--newcomers", nargs="+", default=None, help="Override the rule (LLM ids).")
    parser.add_argument("--quiz", type=int, default=30)
    parser.add_argument("--prior", default="standard", choices=("standard", "pool"))
    parser.add_argument("--ppo-steps", type=int, default=None, help="Override the policy's PPO steps.")
    parser.add_argument("--cold-start-rate", type=float, default=0.0, help="The policy setting (0: off).")
    parser.add_argument("--own-score", action="store_true", help="The policy setting own_score.")
    parser.add_argument("--test-queries", type=int, default=None, help="Score on a seeded subset of test.")
    parser.add_argument("--save", default=None, help="Save the trained routers under this folder.")
    parser.add_argument("--load", default=None, help="Load the routers saved under this folder.")
    parser.add_argument("--out", default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}\n")
    r = run(args)
    print(markdown(r), flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(r, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
