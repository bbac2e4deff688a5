"""Helpers shared by CLI commands: the data options, the trade-off options of routing, reading a
dataset argument, progress defaults."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from irtrouter.data.benchmarks import BENCHMARKS, detect_benchmark, load_benchmark
from irtrouter.data.catalog import LLMCatalog, load_catalog
from irtrouter.data.readers import KNOWN_COLUMNS, LONG_FORMAT_SUFFIXES, parse_column_map, read_results
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import DataError
from irtrouter.store.reading import parse_time

F = TypeVar("F", bound=Callable[..., object])
READ_OPTIONS = "irtrouter.read_options"  # the click context's meta key: load_dataset reads them


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name is not None:
        if param.name == "delimiter":
            value = {"tab": "\t", "\\t": "\t"}.get(value, value)
            if len(value) != 1:
                raise click.BadParameter(f"expected one character (or 'tab'), got {value!r}")
        if param.name == "columns":
            value = parse_column_map(value)
        ctx.meta.setdefault(READ_OPTIONS, {})[param.name] = value
    return value


def reading_options(command: F) -> F:
    """``--encoding / --delimiter / --columns / --ignore-extra-columns``: how a results file is
    read. Their values go to the click context, where :func:`load_dataset` finds them."""
    options = [
        click.option(
            "--ignore-extra-columns",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_keep,
            help="Drop columns of a results file irtrouter does not know (logged with -v). Without it they are "
            "an error, so that a misspelt optional column (task, output_tokens, cost_usd) cannot vanish unseen.",
        ),
        click.option(
            "--columns",
            metavar="OURS=THEIRS,...",
            expose_value=False,
            callback=_keep,
            help=f"Map the results file's column names to ours ({', '.join(KNOWN_COLUMNS)}), "
            "e.g. --columns query=prompt,llm_id=model_name,score=correct.",
        ),
        click.option(
            "--delimiter",
            metavar="CHAR",
            expose_value=False,
            callback=_keep,
            help="Field delimiter of a CSV/TSV results file (default ',' for .csv, tab for .tsv; 'tab' for a tab).",
        ),
        click.option(
            "--encoding",
            metavar="NAME",
            expose_value=False,
            callback=_keep,
            help="Text encoding of a CSV/TSV/JSONL/JSON results file (default utf-8; e.g. cp1252, latin-1).",
        ),
    ]
    for option in options:
        command = option(command)
    return command


def data_source_options(
    *, split: str, on_missing: str, what: str, split_help: str, missing_help: str
) -> Callable[[F], F]:
    """The ``--format / --split / --on-missing`` options of every command that reads results data;
    ``what`` names the data argument in the help ("DATA", "--data")."""

    def decorate(command: F) -> F:
        command = click.option(
            "--on-missing",
            default=on_missing,
            show_default=True,
            type=click.Choice(["error", "drop"]),
            help=missing_help,
        )(reading_options(command))
        command = click.option(
            "--split", default=split, show_default=True, type=click.Choice(["train", "test", "ood"]), help=split_help
        )(command)
        return click.option(
            "--format",
            "fmt",
            default="auto",
            show_default=True,
            type=click.Choice(["auto", "long", *BENCHMARKS]),
            help=f"Format of {what}; 'auto' detects benchmark directories.",
        )(command)

    return decorate


def trade_off_options(command: F) -> F:
    """``--alpha / --beta / --preference / --rule / --budget / --allow``: the trade-off of every
    command that routes (``irtrouter route``, ``irtrouter batch route``); check them together with
    :func:`check_trade_off`."""
    options = [
        click.option(
            "--alpha",
            default=0.8,
            show_default=True,
            type=float,
            help="Weight of performance; cost gets 1 - alpha unless --beta is given.",
        ),
        click.option("--beta", default=None, type=float, help="Weight of cost (default 1 - alpha)."),
        click.option(
            "--preference",
            type=float,
            default=None,
            metavar="W",
            help="Weight of cost against quality 1 (instead of --alpha/--beta; same as --alpha 1 --beta W). "
            "A policy router (LLM Bandit) takes W in its trained range, default [0, 2].",
        ),
        click.option(
            "--rule",
            type=click.Choice(["linear", "chebyshev", "policy"]),
            default=None,
            help="Routing rule: linear (alpha * P - beta * C), chebyshev (RADAR: min max{alpha (1 - P), beta C}), "
            "policy (LLM Bandit routers). Default: the router's own.",
        ),
        click.option(
            "--budget",
            type=float,
            default=None,
            metavar="COST",
            help="RADAR's budget mode: the best routing whose mean cost per query on the router's reference "
            "queries stays within COST (expected USD where the cost model estimates it, else normalised cost C); "
            "replaces --alpha/--beta/--preference.",
        ),
        click.option(
            "--allow", "allowed", multiple=True, metavar="LLM", help="Only consider these LLMs (repeat the option)."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_trade_off(preference: float | None, budget: float | None) -> None:
    """A usage error when the options of :func:`trade_off_options` name more than one trade-off."""
    ctx = click.get_current_context()
    given = [
        f"--{name}"
        for name in ("alpha", "beta")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if preference is not None and given:
        raise click.UsageError("give either --preference or --alpha/--beta, not both")
    if budget is not None and (given or preference is not None):
        raise click.UsageError("--budget sets the trade-off itself: give it without --alpha/--beta/--preference")


def since_option(help: str = "Only decisions from TIME on (unix seconds or ISO 8601).") -> Callable[[F], F]:
    """``--since TIME`` of the commands that read the decision log, given to them as unix seconds
    (None when absent; a bad TIME is one line, from :func:`irtrouter.store.reading.parse_time`)."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
        return None if value is None else parse_time(value)

    return click.option("--since", metavar="TIME", callback=parse, help=help)


def progress_default() -> bool:
    return sys.stderr.isatty()


def load_dataset(
    data: str, llms: str | None, fmt: str, split: str, on_missing: str, seed: int = 0
) -> tuple[ResultsMatrix, LLMCatalog]:
    """Results and catalog from a long-format file (+ ``--llms``) or a benchmark directory."""
    path = Path(data)
    catalog = load_catalog(llms) if llms else None
    name = fmt if fmt != "auto" else (detect_benchmark(path) if path.is_dir() else "long")
    if name is None or (name == "long" and path.is_dir()):  # detect_benchmark found none
        raise DataError(
            f"a directory, but not a benchmark irtrouter knows ({', '.join(BENCHMARKS)}); "
            f"pass a results file ({', '.join(LONG_FORMAT_SUFFIXES)}) or --format",
            source=data,
        )
    if name == "long":
        if catalog is None:
            raise click.UsageError("a results file needs --llms CATALOG (prices and profiles of its LLMs)")
        ctx = click.get_current_context(silent=True)
        reading = ctx.meta.get(READ_OPTIONS, {}) if ctx is not None else {}
        return read_results(path, catalog=catalog, on_missing=on_missing, **reading), catalog  # type: ignore[arg-type]
    bench = load_benchmark(name, path, seed=seed)
    parts = {"train": bench.train, "test": bench.test, "ood": bench.ood}
    results = parts.get(split)
    if results is None:
        raise DataError(f"benchmark {name} has no {split!r} split", source=data)
    return results, catalog or bench.catalog
