"""Reading and writing the tables of a batch job: Parquet, JSONL or CSV, chosen by the suffix.

The local engine reads its input in record batches (Parquet row groups, CSV blocks) and appends
each result batch to the output, so a job's memory is a few batches, not the file; a JSONL file
is parsed whole (pyarrow's streaming JSON reader came in 19) and then split, once.
:func:`inspect_input` runs first for both engines, so bad input is the same one-line error
whichever engine would have read it.

Examples
--------
>>> table_format("queries.parquet")
'parquet'
>>> table_format("queries.xlsx")
Traceback (most recent call last):
...
irtrouter.errors.DataError: queries.xlsx: unknown table format '.xlsx'; expected .parquet, .jsonl, .ndjson or .csv
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from irtrouter.errors import DataError

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def table_format(path: str | Path) -> str:
    """``parquet``, ``jsonl`` or ``csv`` from the file's suffix; a :class:`DataError` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        names = list(FORMATS)
        raise DataError(
            f"unknown table format {suffix or '(no suffix)'!r}; expected {', '.join(names[:-1])} or {names[-1]}",
            source=str(path),
        )
    return FORMATS[suffix]


def inspect_input(path: str | Path, query_column: str) -> pa.Schema:
    """The input's schema, after checking that the file exists, is not empty and has ``query_column``."""
    check_input_file(path)
    return check_first_batch(next(read_batches(path, 1024), None), path, query_column)


def check_input_file(path: str | Path) -> None:
    """The first half of :func:`inspect_input`: a file of a known format that is not empty."""
    path = Path(path)
    table_format(path)
    if not path.is_file():
        raise DataError("no such file", source=str(path))
    if path.stat().st_size == 0:
        raise DataError("empty file: expected one row per query", source=str(path))


def check_first_batch(first: pa.RecordBatch | None, path: str | Path, query_column: str) -> pa.Schema:
    """The second half of :func:`inspect_input`, on the input's first batch (None: there is none),
    so that a reader of the whole file can check its first batch without reading it twice."""
    path = Path(path)
    if first is None or first.num_rows == 0:
        raise DataError("no rows: expected one row per query", source=str(path))
    schema = first.schema if table_format(path) != "parquet" else _parquet_schema(path)
    if query_column not in schema.names:
        raise DataError(
            f"no column {query_column!r} (the query text; --query-column names another); "
            f"found: {', '.join(schema.names)}",
            source=str(path),
        )
    return schema


def _parquet_schema(path: Path) -> pa.Schema:
    import pyarrow.parquet as pq

    return pq.read_schema(path)


def read_batches(path: str | Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The file's rows in record batches of at most ``batch_rows`` (fewer at block ends)."""
    path = Path(path)
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        elif fmt == "csv":
            import pyarrow.csv as pcsv

            yield from _split(pcsv.open_csv(path), batch_rows)
        else:
            import pyarrow.json as pjson

            yield from _split(pjson.read_json(path).to_batches(), batch_rows)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {fmt}: {' '.join(str(exc).split())}", source=str(path)) from None


def count_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file from its footer; None for the other formats (known only once read)."""
    if table_format(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _split(batches: Any, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows)


class TableWriter:
    """Append tables to one Parquet, JSONL or CSV file (the first table fixes the schema).

    The rows go to ``PATH.partial``, renamed to ``PATH`` when the block ends without an error
    and removed when it fails, so a file at ``PATH`` is always a whole job's output.

    Examples
    --------
    >>> with TableWriter(tmp_path / "out.parquet") as out:  # doctest: +SKIP
    ...     out.write(pa.table({"llm_id": ["a"]}))
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.rows = 0
        self._writer: Any = None
        self._file: Any = None

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, table: pa.Table) -> None:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            if self._writer is None:
                self._writer = pq.ParquetWriter(self.partial, table.schema)
            self._writer.write_table(table)
        elif self.format == "csv":
            import pyarrow.csv as pcsv

            if self._writer is None:
                self._writer = pcsv.CSVWriter(self.partial, table.schema)
            self._writer.write_table(table)
        else:
            import json

            if self._file is None:
                self._file = self.partial.open("w", encoding="utf-8")
            for row in table.to_pylist():
                self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += table.num_rows

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
        if exc is not None:
            self.partial.unlink(missing_ok=True)
        elif self.rows or self._writer is not None or self._file is not None:
            self.partial.replace(self.path)
