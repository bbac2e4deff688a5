"""The Ray engine: Ray Data reads the input, runs the job's callable class on a pool of actors
(``map_batches``: one router or embedder load per actor) and writes the results.

The same code runs on a laptop (a local Ray started here) and on a cluster (``address``, e.g.
``ray://head:10001`` or ``auto`` on a cluster node). Output to a folder is written by the
workers as Parquet parts (``Dataset.write_parquet``), the way for a cluster, whose workers do not
share the driver's disk unless the folder is on a shared file system or object store; output to
a single file is streamed back to the driver in input order and written there.

On one machine Ray adds work (actor start-up, one router load per actor, moving batches through
the object store) and buys nothing that the local engine's single process does not have:
``benchmarks/scale_batch.py`` measures that overhead.

Examples
--------
>>> job = BatchJob(Path("queries.parquet"), Path("decisions/"), BatchRouter, ("my-router",))  # doctest: +SKIP
>>> run_ray(job, address="auto", actors=8)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

import ray
import ray.data

from irtrouter.batch.job import BatchJob
from irtrouter.batch.tables import TableWriter, inspect_input, table_format
from irtrouter.errors import ConfigError, IRTRouterError

# CPUs the pool leaves free for Ray Data's own tasks (listing files, reading, splitting blocks;
# some of them reserve a whole CPU): a pool that held every CPU starved its own reads, and 2
# actors of 1 CPU (or of 0.85) on a 2-CPU Ray never finished.
READ_CPUS = 1.0


def run_ray(
    job: BatchJob,
    *,
    address: str | None = None,
    actors: int | None = None,
    num_cpus: float = 1.0,
    progress: bool = False,
) -> int:
    """Run ``job`` on Ray; returns the number of rows done.

    Parameters
    ----------
    job : BatchJob
    address : str, optional
        A running cluster; None uses the Ray already initialised in this process, else starts a
        local one (stopped again at the end).
    actors : int, optional
        Actors in the pool (default: as many as fit in the cluster's CPUs beside one read task).
    num_cpus : float
        CPUs reserved per actor.
    progress : bool
        Ray Data's progress bars (the CLI shows them on a terminal only).
    """
    if num_cpus <= 0:
        raise ConfigError(f"num_cpus must be > 0, got {num_cpus}")
    if actors is not None and actors < 1:
        raise ConfigError(f"actors must be >= 1, got {actors}")
    if job.input_is_local_file:  # a folder or URI is for Ray to list and read
        inspect_input(job.input, job.query_column)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        return _run(job, actors, num_cpus, progress)
    except ray.exceptions.RayTaskError as exc:
        # A DataError raised in an actor comes back wrapped; the CLI wants the one line.
        cause = getattr(exc, "cause", None)
        if isinstance(cause, IRTRouterError):
            raise cause from None
        raise
    finally:
        if started:
            ray.shutdown()


def _run(job: BatchJob, actors: int | None, num_cpus: float, progress: bool) -> int:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    ctx.execution_options.preserve_order = True  # output rows in input order, as the local engine
    cpus = float(ray.cluster_resources().get("CPU", 0))
    if actors is None:
        actors = max(1, int((cpus - READ_CPUS) // num_cpus))
    if actors * num_cpus + READ_CPUS > cpus:
        raise ConfigError(
            f"{actors} actors of {num_cpus:g} CPU leave no CPU to read with on a Ray of {cpus:g} CPUs: "
            f"give fewer actors or fewer CPUs per actor (at most {cpus - READ_CPUS:g} CPUs in all)"
        )
    # Blocks of one batch each (streaming, no shuffle): a one-file input is read as one block,
    # which would keep one actor busy and the others idle.
    ds = _read(str(job.input)).repartition(target_num_rows_per_block=job.batch_rows)
    ds = ds.map_batches(
        job.fn,
        fn_constructor_args=job.fn_args,
        fn_constructor_kwargs=job.fn_kwargs,
        batch_size=job.batch_rows,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
    )
    if job.output is None:
        return int(ds.count())
    if job.output_is_folder:
        ds.write_parquet(str(job.output))
        return int(ray.data.read_parquet(str(job.output)).count())
    with TableWriter(job.output) as out:
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            out.write(batch)
    return out.rows


def _read(path: str) -> Any:
    fmt = table_format(path) if PurePosixPath(path).suffix else "parquet"  # a folder or prefix of Parquet parts
    if fmt == "parquet":
        return ray.data.read_parquet(path)
    if fmt == "csv":
        return ray.data.read_csv(path)
    return ray.data.read_json(path, lines=True)
