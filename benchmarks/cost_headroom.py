"""Would per-query costs pay? ``default`` routed with its cost model's C, and with the test split's
true per-query costs (a bound, not a router: it reads the test costs).

``default``'s cost model gives each LLM one cost per query from training data: each LLM's mean real
USD (``observed``, routerbench_subset) or the estimated input tokens and each LLM's mean output
tokens at list prices (``tokens``, zeroeval). A query's true cost differs: long prompts, long
answers. This script fits ``default`` on each setting (as :mod:`benchmarks.pays` does), routes its
test queries once with its own C and once with the true USD of every (query, LLM) cell divided by
the cost model's own reference, the guard and every stage kept, and prints the Reward of both. The
difference is the most any per-query cost predictor could add to ``default`` there. Only settings
whose cost model has a USD reference are run; the price model of the other datasets is not in USD.

    python benchmarks/cost_headroom.py [--settings routerbench_subset:ID:0 ...]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.harness import run_setting
from irtrouter.evaluate.protocol import named_setting
from irtrouter.routing.rule import TradeOff

SETTINGS = ("routerbench_subset:ID:0", "routerbench_subset:OOD:0", "zeroeval:ID:0", "zeroeval:OOD:0")
ALPHAS = (0.8, 0.5)


def headroom(spec: str, embedder: CachedEmbedder) -> str:
    """One table row: the setting's Rewards with ``default``'s own C and with the true costs."""
    setting = named_setting(spec)
    result = run_setting(setting, ["default"], embedder, alphas=ALPHAS)
    router = result.runs["default"].router.router_
    if router.cost_model_.kind not in ("observed", "tokens"):  # the models whose reference is USD
        return f"| {spec} | {router.cost_model_.kind} | not in USD: skipped | | | |"
    reference = router.cost_model_.reference_
    test = setting.test
    pred = router.predict_embedded(result.X_test, list(test.queries))
    cells = []
    for alpha in ALPHAS:
        t = TradeOff.of(alpha)
        for cost in (pred.cost, result.costs / reference):
            chosen = router.choose(replace(pred, cost=cost), alpha)  # guarded, as routing is
            cells.append(result.outcome_of(chosen).reward(t.alpha, t.beta, result.cost_scale))
    own8, true8, own5, true5 = cells
    return (
        f"| {spec} | {router.cost_model_.kind} | {own8:.2f} | {true8:.2f} ({true8 - own8:+.2f}) "
        f"| {own5:.2f} | {true5:.2f} ({true5 - own5:+.2f}) |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help="dataset:split:seed")
    args = parser.parse_args(argv)
    embedder = CachedEmbedder(make_embedder("use"))
    print("| setting | cost model | Reward @0.8, own C | @0.8, true costs | @0.5, own C | @0.5, true costs |")
    print("|---|---|---|---|---|---|")
    for spec in args.settings:
        print(headroom(spec, embedder), flush=True)


if __name__ == "__main__":
    main()
