"""The local engine: one process reads the input in batches, calls the job's object on each and
appends the results to the output, so memory stays a few batches whatever the file's size
(JSONL: see :mod:`irtrouter.batch.tables`).

Examples
--------
>>> job = BatchJob(Path("queries.parquet"), Path("decisions.parquet"), BatchRouter, ("my-router",))  # doctest: +SKIP
>>> run_local(job)  # doctest: +SKIP
100000
"""

from __future__ import annotations

import itertools

from irtrouter.batch.job import BatchJob
from irtrouter.batch.tables import TableWriter, check_first_batch, check_input_file, count_rows, read_batches
from irtrouter.errors import ConfigError


def run_local(job: BatchJob, progress: bool = False) -> int:
    """Run ``job`` in this process; returns the number of rows done."""
    from contextlib import nullcontext

    import pyarrow as pa
    from tqdm.auto import tqdm

    if job.output_is_folder:
        raise ConfigError(f"{job.output}: the local engine writes one file (.parquet, .jsonl or .csv), not a folder")
    if not job.input_is_local_file:
        raise ConfigError(f"{job.input}: the local engine reads one local file; folders and URIs need --engine ray")
    check_input_file(job.input)
    batches = read_batches(job.input, job.batch_rows)  # checked on its first batch, then run: read once
    first = next(batches, None)
    check_first_batch(first, job.input, job.query_column)
    fn = job.build()
    done = 0
    writer = TableWriter(job.output) if job.output is not None else nullcontext()
    bar = tqdm(total=count_rows(job.input), desc="batch", unit="query", disable=not progress, leave=False)
    try:
        with writer as out:
            for batch in itertools.chain([first], batches):
                result = fn(pa.Table.from_batches([batch]))
                if out is not None:
                    out.write(result)
                done += batch.num_rows
                bar.update(batch.num_rows)
    finally:
        bar.close()
    return done
