"""``irtrouter shadow``: how a candidate router would have done on the logged traffic."""

from __future__ import annotations

import json

import click

from irtrouter.cli.common import since_option


@click.command("shadow")
@click.argument("directory", metavar="NEWDIR", type=click.Path(exists=True, file_okay=False))
@click.option("--db", "url", required=True, envvar="IRTROUTER_DB", help="Decision log URL (sqlite:///PATH).")
@since_option()
@click.option("--level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999), help="Interval level.")
@click.option("--bootstrap", "n_boot", default=1000, show_default=True, type=click.IntRange(100), help="Replicates.")
@click.option("--seed", default=0, show_default=True, help="Seeds the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the estimates as JSON.")
def command(directory: str, url: str, since: float | None, level: float, n_boot: int, seed: int, as_json: bool) -> None:
    """Estimate NEWDIR's performance, cost and Reward on the logged traffic, against the live router.

    Off-policy estimates from the logged propensities: IPS and doubly robust (the candidate's
    predictions as the reward model), with bootstrap intervals; and the share of decisions that
    would change. Under a deterministic live router (no exploration) only the decisions where the
    candidate agrees carry observed rewards: run the service with an exploration share for honest
    estimates of changed decisions.

    \b
    Example:
      irtrouter shadow routers/v1 --db sqlite:///runs/serve.sqlite
    """
    from irtrouter.online.shadow import shadow_evaluate
    from irtrouter.routing import load_router
    from irtrouter.store.reading import read_log

    log = read_log(url, since=since)
    report = shadow_evaluate(load_router(directory), log, level=level, n_boot=n_boot, random_state=seed)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    click.echo(f"{report.n_decisions} decisions, {report.n_scored} scored; the candidate changes "
               f"{100 * report.share_changed:.1f}% of decisions ({100 * report.share_changed_scored:.1f}% of "
               f"scored ones); {100 * report.share_explored:.1f}% of scored ones were explored")  # fmt: skip
    pct = f"{100 * level:g}%"
    click.echo(f"{'':<12} {'live':>22} {'candidate IPS':>22} {'candidate DR':>22} {'DR - live':>22}   ({pct})")
    for q, label, fmt in (("performance", "performance", ".4f"), ("cost_usd", "cost USD/req", ".3g"),
                          ("reward", "Reward", ".2f")):  # fmt: skip
        cells = [report.estimates[q][m] for m in ("live", "ips", "dr", "dr_minus_live")]
        text = [f"{e.value:{fmt}} [{e.low:{fmt}}, {e.high:{fmt}}]" for e in cells]
        click.echo(f"{label:<12} " + " ".join(f"{t:>22}" for t in text))
    missing = report.counts.get("propensity_missing", 0)
    if missing:
        click.echo(f"note: {missing} scored decisions had no propensity (taken as 1)")
