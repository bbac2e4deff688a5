"""Helpers shared by CLI commands: the data options, reading a dataset argument, progress defaults."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from irtrouter.data.benchmarks import BENCHMARKS, detect_benchmark, load_benchmark
from irtrouter.data.catalog import LLMCatalog, load_catalog
from irtrouter.data.readers import LONG_FORMAT_SUFFIXES, read_results
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import DataError

F = TypeVar("F", bound=Callable[..., object])


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
        )(command)
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
        return read_results(path, catalog=catalog, on_missing=on_missing), catalog  # type: ignore[arg-type]
    bench = load_benchmark(name, path, seed=seed)
    parts = {"train": bench.train, "test": bench.test, "ood": bench.ood}
    results = parts.get(split)
    if results is None:
        raise DataError(f"benchmark {name} has no {split!r} split", source=data)
    return results, catalog or bench.catalog
