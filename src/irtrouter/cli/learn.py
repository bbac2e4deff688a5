"""``irtrouter learn``: a new router version from the feedback in the decision log."""

from __future__ import annotations

import json

import click

from irtrouter.cli.common import since_option


@click.command("learn")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.option("--db", "url", required=True, envvar="IRTROUTER_DB", help="Decision log URL (sqlite:///PATH).")
@click.option("--out", required=True, type=click.Path(), help="The new router's directory (must not exist).")
@since_option("Use decisions from TIME on (unix seconds or ISO 8601). "
              "Default: when DIR was written, so its own feedback is never counted twice.")  # fmt: skip
@click.option("--prior-scale", default=1.0, show_default=True, type=float,
              help="Widen (>1) or narrow the prior of a trained router's abilities.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
def command(directory: str, url: str, out: str, since: float | None, prior_scale: float, as_json: bool) -> None:
    """Re-estimate each LLM's ability from the feedback on the queries it answered.

    The query side stays frozen and each LLM's current ability is the prior (the parent's posterior
    for a learnt router); DIR is only read. The new router in --out records its lineage: version
    (DIR's + 1), parent, and per LLM the ability shift, its standard error and the feedback rows
    used. Several scores for one request: the last one wins.

    \b
    Example:
      irtrouter learn routers/v0 --db sqlite:///runs/serve.sqlite --out routers/v1
    """
    from irtrouter.online.learn import learn_router

    report = learn_router(directory, url, out, since=since,
                          prior_scale=prior_scale)  # fmt: skip
    if as_json:
        body = {"out": str(report.out), "version": report.version, "since": report.since, "counts": report.counts,
                "llms": {u.llm_id: u.to_json() for u in report.updates}}  # fmt: skip
        click.echo(json.dumps(body, indent=2))
        return
    c = report.counts
    skipped = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in c.items() if k not in ("used", "feedback_rows") and v)
    click.echo(f"wrote {report.out} (version {report.version}): {c['used']} scored requests used"
               f"{f' (skipped: {skipped})' if skipped else ''}")  # fmt: skip
    if not report.updates:
        click.echo("no feedback since then: abilities unchanged")
    width = max((len(u.llm_id) for u in report.updates), default=0)
    for u in report.updates:
        click.echo(f"  {u.llm_id:<{width}}  {u.n_rows:>6} rows  mean score {u.mean_score:.3f}  "
                   f"shift |{float((u.shift**2).sum()) ** 0.5:.3f}|  se {float(u.standard_error.max()):.3f} "
                   f"(prior {float(u.prior_standard_error.max()):.3f})")  # fmt: skip
