"""``irtrouter explain``: an HTML report of what a router learned and where it sends queries."""

from __future__ import annotations

import click

from irtrouter.cli.common import data_source_options, load_dataset
from irtrouter.errors import ConfigError


@click.command()
@click.argument("router_dir", metavar="DIR")
@click.option("--out", "out_dir", required=True, metavar="REPORT_DIR", help="Directory to write the report to.")
@click.option(
    "--data",
    "data_path",
    metavar="FILE",
    help="Queries with observed scores to analyse: a results file (with --llms) or a benchmark directory "
    "(its --split). Use held-out queries.",
)
@click.option("--llms", metavar="CATALOG", help="LLM catalog of a results file given as --data.")
@data_source_options(
    split="test",
    on_missing="drop",
    what="--data",
    split_help="Which split of a benchmark directory to analyse.",
    missing_help="Rows of --data with an empty/NaN score: drop them, or fail.",
)
@click.option(
    "--alpha",
    default=0.8,
    show_default=True,
    type=float,
    help="Trade-off at which difficulty bands and example decisions are routed.",
)
@click.option(
    "--cache-dir",
    envvar="IRTROUTER_CACHE_DIR",
    metavar="DIR",
    help="Embedding cache folder (default ~/.cache/irtrouter). Env: IRTROUTER_CACHE_DIR.",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the embedding cache.")
def explain(
    router_dir: str,
    out_dir: str,
    data_path: str | None,
    llms: str | None,
    fmt: str,
    split: str,
    on_missing: str,
    alpha: float,
    cache_dir: str | None,
    no_cache: bool,
) -> None:
    """Write an HTML report on the router saved in DIR to --out REPORT_DIR.

    The report (index.html, one file with every figure embedded; it opens with no network) shows
    the ability of each LLM on each dimension and per-LLM summaries (with standard errors from
    each LLM's training answers, for MIRT and the 2PL), the difficulty of the
    training queries per task and, with --data, the difficulty of those queries against known
    levels and observed scores, the routing share per LLM across alpha, where each difficulty
    band goes, and example decisions with their reasons. The figures are also written as PNG
    files, and every number as summary.json.

    \b
    Examples:
      irtrouter explain my-router --out report
      irtrouter explain my-router --data ../shared/data/llmrouter --split test --out report
    """
    from irtrouter.explain.report import write_report
    from irtrouter.routing.rule import resolve_weights
    from irtrouter.routing.saved import load_router

    resolve_weights(alpha)  # a bad alpha fails before any work
    if llms and not data_path:
        raise ConfigError("--llms describes the LLMs of --data: pass --data too")
    router = load_router(router_dir)
    data = None
    if data_path:
        data, _ = load_dataset(data_path, llms, fmt, split, on_missing)
    report = write_report(router, out_dir, data, alpha=alpha, cache_dir=cache_dir, use_cache=not no_cache)
    click.echo(f"wrote {report.html_path} ({len(report.figures)} figures; numbers in summary.json)")


command = explain
