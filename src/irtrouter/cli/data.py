"""``irtrouter data``: look at a dataset before training on it."""

from __future__ import annotations

import json
from typing import Any

import click
import numpy as np

from irtrouter.cli.common import data_source_options, load_dataset, since_option


@click.group()
def data() -> None:
    """Inspect and validate results data."""


@data.command("check")
@click.argument("data_path", metavar="DATA")
@click.option("--llms", metavar="CATALOG", help="LLM catalog (JSON/YAML). Required for results files.")
@data_source_options(
    split="train",
    on_missing="error",
    what="DATA",
    split_help="Which split of a benchmark directory.",
    missing_help="Rows with an empty/NaN score: fail, or drop them (the cell becomes unobserved).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def check(data_path: str, llms: str | None, fmt: str, split: str, on_missing: str, as_json: bool) -> None:
    """Validate DATA and summarise it: queries, LLMs, tasks, coverage, mean scores.

    Fails with one line naming the file, row and field of the first problem found.
    """
    results, catalog = load_dataset(data_path, llms, fmt, split, on_missing)
    summary: dict[str, Any] = {
        "source": results.source,
        "queries": results.n_queries,
        "llms": results.n_llms,
        "observed_cells": results.n_observed,
        "missing_cells": results.n_queries * results.n_llms - results.n_observed,
        "tasks": {t or "(none)": int(sum(1 for x in results.tasks if x == t)) for t in results.task_names()},
        "mean_score": {m: round(v, 4) for m, v in results.mean_scores().items()},
        "has_tokens": results.output_tokens is not None,
        "has_cost_usd": results.cost_usd is not None and not np.isnan(results.cost_usd).all(),
        "catalog": catalog.source,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{summary['source']}: {results.n_queries} queries x {results.n_llms} LLMs, "
        f"{results.n_observed} observed ({summary['missing_cells']} missing)"
    )
    click.echo(f"tasks: {', '.join(f'{k} ({v})' for k, v in summary['tasks'].items())}")
    width = max(len(m) for m in results.llm_ids)
    for m, v in summary["mean_score"].items():
        spec = catalog[m]
        click.echo(f"  {m:<{width}}  mean score {v:.3f}   ${spec.input_price:g}/${spec.output_price:g} per M tokens")


@data.command("export")
@click.option("--db", "url", required=True, envvar="IRTROUTER_DB", help="Decision log URL (sqlite:///PATH).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="results.parquet, .csv or .jsonl.")
@since_option()
def export(url: str, out: str, since: float | None) -> None:
    """Write the scored decisions of the log as long results, for `irtrouter train`.

    One row per (query, LLM that answered) with its feedback score (several scores for one
    request: the last wins) and the provider's tokens and cost. Requests logged without their text
    (storage.store_text off) cannot be retrained on: they are counted, not written.

    \b
    Example:
      irtrouter data export --db sqlite:///runs/serve.sqlite --out traffic.parquet
      irtrouter train traffic.parquet --llms llms.json --out routers/retrained
    """
    from irtrouter.errors import DataError
    from irtrouter.online.export import log_to_results, results_suffix, write_results
    from irtrouter.store import redact_url
    from irtrouter.store.reading import read_log

    results_suffix(out)
    log = read_log(url, since=since, with_feedback_only=True)
    exported = log_to_results(log)
    if exported.frame.empty:
        raise DataError(f"{redact_url(url)}: no scored decision with its query text to export")
    write_results(exported.frame, out)
    notes = []
    if exported.n_without_text:
        notes.append(f"{exported.n_without_text} scored requests without text skipped")
    if exported.n_repeated:
        notes.append(f"{exported.n_repeated} repeats of a query on one LLM: the latest kept")
    click.echo(
        f"wrote {out}: {len(exported.frame)} rows, {exported.frame['query_id'].nunique()} queries x "
        f"{exported.frame['llm_id'].nunique()} LLMs" + (f" ({'; '.join(notes)})" if notes else "")
    )


command = data
