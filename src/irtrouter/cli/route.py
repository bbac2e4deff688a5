"""``irtrouter route``: where would a query go, and how sure is the router?"""

from __future__ import annotations

import json
import sys

import click

from irtrouter.cli.common import check_trade_off, trade_off_options
from irtrouter.errors import DataError


@click.command()
@click.argument("router_dir", metavar="DIR")
@click.argument("query", required=False)
@trade_off_options
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def route(
    router_dir: str,
    query: str | None,
    alpha: float,
    beta: float | None,
    preference: float | None,
    rule: str | None,
    budget: float | None,
    allowed: tuple[str, ...],
    as_json: bool,
) -> None:
    """Route QUERY with the router saved in DIR (QUERY '-' or absent: read stdin).

    Prints the chosen LLM, every LLM's predicted performance P-hat, normalised cost C and score
    alpha * P - beta * C, the query's difficulty, and a one-line reason (difficulty percentile
    among training queries, chosen LLM vs runner-up). --json adds the full explanation.

    \b
    Example:
      irtrouter route my-router "What is the capital of Australia?" --alpha 0.5
      irtrouter route my-policy-router "Prove Fermat's little theorem" --preference 0.3
      irtrouter route my-router "Sort a list in Python" --rule chebyshev --budget 0.002
    """
    from irtrouter.routing.saved import load_router

    check_trade_off(preference, budget)

    if query is None or query == "-":
        query = sys.stdin.read()
    if not query.strip():
        raise DataError("the query is empty")
    router = load_router(router_dir)
    decision = router.route(query, alpha, beta, list(allowed) or None, preference=preference, rule=rule, budget=budget)
    if as_json:
        click.echo(json.dumps(decision.to_dict(), indent=2))
        return
    click.echo(
        f"-> {decision.llm_id}   (alpha={decision.alpha:.2f}, beta={decision.beta:.2f}, "
        f"difficulty={decision.difficulty:+.3f})"
    )
    if decision.rule == "policy":
        click.echo(f"   LLM Bandit policy at preference w={decision.extras['preference']:g}; score = its probability")
    elif decision.rule == "chebyshev":
        click.echo("   RADAR's Chebyshev rule; score = -max{alpha (1 - P), beta C}")
    if budget is not None:
        click.echo(
            f"   budget {budget:g} per query ({decision.extras['budget_unit']}): weight "
            f"{decision.extras['budget_weight']:g}, reference spend {decision.extras['budget_reference_spend']:.4g}"
        )
    if decision.explanation is not None:
        click.echo(f"   why: {decision.explanation.reason}")
    width = max(len(m) for m in decision.llm_ids)
    usd = decision.cost_usd is not None
    header = (
        f"   {'LLM':<{width}}  {'P-hat':>6}  {'cost C':>7}"
        + ("  {:>10}".format("USD est.") if usd else "")
        + "   score"
    )
    click.echo(header)
    order = sorted(range(len(decision.llm_ids)), key=lambda j: -decision.score[j])
    for j in order:
        mark = "*" if decision.llm_ids[j] == decision.llm_id else " " if decision.allowed[j] else "x"
        line = f" {mark} {decision.llm_ids[j]:<{width}}  {decision.p_hat[j]:6.3f}  {decision.cost[j]:7.4f}"
        if usd:
            line += f"  {decision.cost_usd[j]:10.6f}"  # type: ignore[index]
        click.echo(line + f"  {decision.score[j]:+.4f}")


command = route
