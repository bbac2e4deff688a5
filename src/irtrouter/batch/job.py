"""What a batch job is, for either engine: an input table, a callable class that maps a batch of
rows to a batch of result rows, and where the results go.

The callable class is given as the class and its arguments, not as an object, because Ray Data
builds it on each actor (one router or embedder load per actor) while the local engine builds
it once in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from irtrouter.batch.tables import table_format
from irtrouter.errors import ConfigError

DEFAULT_BATCH_ROWS = 1024


@dataclass(frozen=True)
class BatchJob:
    """One batch job.

    Parameters
    ----------
    input : path or URI
        A Parquet, JSONL or CSV file with one row per query; on the Ray engine also a folder
        of Parquet files or a URI Ray reads (``s3://bucket/queries/``: no suffix, Parquet).
    output : path, URI or None
        A Parquet, JSONL or CSV file (by its suffix); on the Ray engine also a folder or URI
        without a suffix, which the workers write as Parquet parts (the way to write on a cluster).
        None: results are discarded (a job run for its side effect, filling the embedding cache).
    fn : class
        Called as ``fn(*fn_args, **fn_kwargs)`` once per process or actor; the object maps a
        ``pyarrow.Table`` to a ``pyarrow.Table`` of the same rows.
    query_column : str
    batch_rows : int
        Rows per call of the object (the same on both engines, so both call it on the same batches).
    """

    input: str | Path
    output: str | Path | None
    fn: Callable[..., Callable[[pa.Table], pa.Table]]
    fn_args: tuple[Any, ...] = ()
    fn_kwargs: dict[str, Any] = field(default_factory=dict)
    query_column: str = "query"
    batch_rows: int = DEFAULT_BATCH_ROWS

    def __post_init__(self) -> None:
        # Kept as text: a URI is not a local path (Path("s3://b/k") would drop a slash).
        object.__setattr__(self, "input", str(self.input))
        object.__setattr__(self, "output", None if self.output is None else str(self.output))
        if self.batch_rows < 1:
            raise ConfigError(f"batch_rows must be >= 1, got {self.batch_rows}")
        if self.output is not None and not self.output_is_folder:
            table_format(str(self.output))

    @property
    def output_is_folder(self) -> bool:
        return self.output is not None and not PurePosixPath(str(self.output)).suffix

    @property
    def input_is_local_file(self) -> bool:
        return "://" not in str(self.input) and bool(PurePosixPath(str(self.input)).suffix)

    def build(self) -> Callable[[pa.Table], pa.Table]:
        return self.fn(*self.fn_args, **self.fn_kwargs)
