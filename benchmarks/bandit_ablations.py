"""LLM Bandit ablations: which of our training choices earn their keep (one dataset, one seed).

Stage 1 (identity model) is trained once with the defaults, and its out-of-fold p-hat once; then
the policy is trained under each variant of :class:`~irtrouter.routing.policy.PolicySettings` and
scored on the test split: hypervolume of the w sweep (21 points over [0, 2]), Reward at alpha 0.8
and 0.5, and the validation reward that chose the PPO checkpoint (before PPO -> best kept).

Variants: the defaults; pre-training only (no PPO); pre-training on pairs only (the paper's
pairwise comparisons) with and without PPO; in-sample instead of out-of-fold p-hat; no mixup;
hidden width 128 (the re-implementation's); PPO checkpoints not chosen along the way (only the
pre-trained and the final policy compared). The scalarised identity model (alpha * P - beta * C
on the same p-hat) is the reference.

    python benchmarks/bandit_ablations.py [--dataset llmrouter] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.evaluate.curves import hypervolume
from irtrouter.evaluate.metrics import outcome, realised_costs, single_llm_cost_scale
from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.routing.policy.settings import PolicySettings
from irtrouter.routing.policy.training import out_of_fold_p_hat, train_policy

VARIANTS: dict[str, dict] = {
    "defaults (sets pre-training + PPO, out-of-fold p-hat)": {},
    "pre-training only": {"ppo_steps": 0},
    "pairs pre-training + PPO": {"pretrain_pairs": True},
    "pairs pre-training only": {"pretrain_pairs": True, "ppo_steps": 0},
    "in-sample p-hat": {"crossfit_folds": 0},
    "no mixup": {"mixup_alpha": 0.0},
    "hidden width 128": {"hidden_units": 128},
    "PPO checked only at its end (pre-trained vs final)": {"eval_every": 10_000},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="llmrouter")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bench = load_benchmark(args.dataset, default_data_root() / args.dataset, seed=args.seed)
    test = bench.test.complete()
    usd, cost_kind = realised_costs(test, bench.catalog)
    scale = single_llm_cost_scale(usd)
    stage1_only = {"pretrain_steps": 0, "ppo_steps": 0, "crossfit_folds": 0}
    router = PolicyRouter(random_state=args.seed, policy_params=stage1_only)
    router.fit(bench.train, bench.catalog)
    oof = out_of_fold_p_hat(router, bench.train, PolicySettings().crossfit_folds, args.seed)
    pred = router.predict(test.queries)

    def scores(choose) -> str:
        pts = [outcome(test.scores, usd, choose(w)) for w in np.linspace(0, 2, 21)]
        hv = hypervolume([o.total_cost for o in pts], [o.performance for o in pts], cost_ref=scale)
        r8 = outcome(test.scores, usd, choose(0.25)).reward(0.8, 0.2, scale)
        r5 = outcome(test.scores, usd, choose(1.0)).reward(0.5, 0.5, scale)
        return f"{hv:.4f} | {r8:.2f} | {r5:.2f}"

    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; {args.dataset}, seed {args.seed}, "
        f"{test.n_queries} test queries, cost {cost_kind}\n"
    )
    print("| policy variant | hypervolume | Reward @0.8 | Reward @0.5 | validation reward (pre-trained -> kept) | s |")
    print("|---|---|---|---|---|---|")
    # The same p-hat under IRT-Router's rule, alpha = 1 / (1 + w).
    reference = scores(lambda w: router.choose(pred, preference=w, rule="linear"))
    print(f"| scalarised identity IRT (reference) | {reference} | - | - |", flush=True)
    for label, change in VARIANTS.items():
        settings = PolicySettings.from_params(change)
        started = time.perf_counter()
        trained = train_policy(
            router,
            bench.train,
            settings,
            p_hat=oof if settings.crossfit_folds >= 2 else None,
            random_state=args.seed,
        )
        seconds = time.perf_counter() - started
        router.policy_weights_, router.settings_ = trained.params, settings
        history = trained.summary["validation_history"]
        kept = next(h["reward"] for h in history if h["step"] == trained.summary["kept_ppo_step"])
        result = scores(lambda w: router.choose(pred, preference=w))
        print(f"| {label} | {result} | {history[0]['reward']:.4f} -> {kept:.4f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
