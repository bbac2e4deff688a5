"""``irtrouter batch``: route or embed a whole table of queries, in one process or on Ray."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from irtrouter.batch.job import DEFAULT_BATCH_ROWS, BatchJob
from irtrouter.cli.common import check_trade_off, progress_default, trade_off_options
from irtrouter.errors import ConfigError

F = TypeVar("F", bound=Callable[..., object])


def _engine_options(command: F) -> F:
    for option in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="local: this process; ray: Ray Data map_batches over a pool of actors (local Ray or --address).",
            ),
            click.option(
                "--address",
                default=None,
                help="Ray cluster to run on (ray://HOST:10001, or auto on a cluster node); implies --engine ray.",
            ),
            click.option(
                "--actors",
                type=click.IntRange(1),
                default=None,
                help="Ray actors, each loading the router once (default: as many as the CPUs hold).",
            ),
            click.option(
                "--actor-cpus",
                type=click.FloatRange(0, min_open=True),
                default=1.0,
                show_default=True,
                help="CPUs Ray reserves for each actor.",
            ),
            click.option(
                "--batch-rows",
                type=click.IntRange(1),
                default=DEFAULT_BATCH_ROWS,
                show_default=True,
                help="Queries per call of the router or embedder (the same on both engines).",
            ),
            click.option("--query-column", default="query", show_default=True, help="Column holding the query text."),
        ]
    ):
        command = option(command)
    return command


@click.group()
def batch() -> None:
    """Batch jobs over a table of queries (Parquet, JSONL or CSV; one row per query)."""


@batch.command("route")
@click.argument("router_dir", metavar="DIR")
@click.argument("input_path", metavar="IN")
@click.option(
    "--out",
    "out",
    required=True,
    metavar="OUT",
    help="Decisions: a .parquet, .jsonl or .csv file; with --engine ray also a folder (Parquet parts).",
)
@trade_off_options
@click.option("--cache-dir", default=None, metavar="DIR", help="Read and fill the embedding cache in DIR.")
@_engine_options
def route(
    router_dir: str,
    input_path: str,
    out: str,
    alpha: float,
    beta: float | None,
    preference: float | None,
    rule: str | None,
    budget: float | None,
    allowed: tuple[str, ...],
    cache_dir: str | None,
    engine: str,
    address: str | None,
    actors: int | None,
    actor_cpus: float,
    batch_rows: int,
    query_column: str,
) -> None:
    """Route every query of IN with the router saved in DIR; one decision row per query in OUT.

    OUT keeps IN's columns and adds llm_id (the chosen LLM), p_hat_<LLM> for every LLM, cost (the
    chosen LLM's normalised cost), expected_cost_usd, difficulty, rule, alpha, beta and reason.

    \b
    Examples:
      irtrouter batch route my-router queries.parquet --out decisions.parquet
      irtrouter batch route my-router queries.jsonl --out decisions.csv --alpha 0.5
      irtrouter batch route my-router s3://bucket/q.parquet --out s3://bucket/decisions --address auto
    """
    from irtrouter.batch.route import BatchRouter, RouteOptions

    check_trade_off(preference, budget)
    options = RouteOptions(alpha, beta, preference, rule, budget, tuple(allowed) or None)
    job = BatchJob(
        input_path,
        out,
        BatchRouter,
        (router_dir, options, query_column, cache_dir),
        query_column=query_column,
        batch_rows=batch_rows,
    )
    rows = _run(job, engine, address, actors, actor_cpus)
    click.echo(f"routed {rows} queries -> {out}", err=True)


@batch.command("embed")
@click.argument("input_path", metavar="IN")
@click.option("--embedder", "spec", default=None, help="Embedder spec (hashing:64, use, e5...).")
@click.option("--router", "router_dir", default=None, metavar="DIR", help="Use the embedder of the router in DIR.")
@click.option(
    "--out", default=None, metavar="OUT", help="Write IN's rows with an 'embedding' column (.parquet/.jsonl)."
)
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Fill the embedding cache (what irtrouter train reads: $IRTROUTER_CACHE_DIR or --cache-dir).",
)
@click.option("--cache-dir", default=None, metavar="DIR", help="Embedding cache folder.")
@_engine_options
def embed(
    input_path: str,
    spec: str | None,
    router_dir: str | None,
    out: str | None,
    cache: bool,
    cache_dir: str | None,
    engine: str,
    address: str | None,
    actors: int | None,
    actor_cpus: float,
    batch_rows: int,
    query_column: str,
) -> None:
    """Embed every query of IN: fill the embedding cache and/or write a Parquet of embeddings.

    \b
    Examples:
      irtrouter batch embed queries.parquet --embedder use                  # fill the cache
      irtrouter batch embed queries.parquet --router my-router --out emb.parquet --no-cache
    """
    from irtrouter.batch.embed import BatchEmbedder
    from irtrouter.embed.cache import default_cache_dir

    if (spec is None) == (router_dir is None):
        raise click.UsageError("give one of --embedder SPEC or --router DIR")
    if out is None and not cache:
        raise click.UsageError("nothing to do: give --out, or keep --cache")
    if out is not None and Path(out).suffix.lower() == ".csv":
        raise click.UsageError("embeddings are vectors: write them to .parquet or .jsonl, not .csv")
    if router_dir is not None:
        spec = _router_embedder_spec(router_dir)
    folder = str(cache_dir or default_cache_dir()) if cache else None
    job = BatchJob(
        input_path,
        out,
        BatchEmbedder,
        (spec, query_column, folder, out is not None),
        query_column=query_column,
        batch_rows=batch_rows,
    )
    rows = _run(job, engine, address, actors, actor_cpus)
    where = " and ".join(x for x in (out, folder and f"cache {folder}") if x)
    click.echo(f"embedded {rows} queries -> {where}", err=True)


def _router_embedder_spec(router_dir: str) -> str:
    from irtrouter.routing.persistence import read_router_dir

    config, _ = read_router_dir(router_dir)
    spec = config.get("embedder", {}).get("spec")
    if not spec:
        raise ConfigError(f"{router_dir}: the router was trained with a custom embedder; give --embedder SPEC")
    return str(spec)


def _run(job: BatchJob, engine: str, address: str | None, actors: int | None, actor_cpus: float) -> int:
    progress = progress_default()
    if engine == "local" and address is None:
        from irtrouter.batch.local import run_local

        return run_local(job, progress=progress)
    try:
        from irtrouter.batch.ray import run_ray
    except ImportError as exc:
        raise ConfigError(f"--engine ray needs Ray ({exc}): pip install 'irtrouter[ray]'") from None
    import logging

    if logging.getLogger().level > logging.INFO:  # Ray Data's plan and progress notes only with -v
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    return run_ray(job, address=address, actors=actors, num_cpus=actor_cpus, progress=progress)


command = batch
