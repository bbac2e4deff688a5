"""Readers for long interaction records in CSV, TSV, JSONL, JSON and Parquet files.

Each reader keeps the file's own numbering for messages: a CSV error names the line of the file
(the header is line 1), a JSONL error the line, a Parquet error the row (1-based).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import MissingPolicy, ResultsMatrix, results_from_frame
from irtrouter.errors import DataError

LONG_FORMAT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet")


def read_results(
    path: str | Path,
    *,
    catalog: LLMCatalog | None = None,
    on_missing: MissingPolicy = "error",
) -> ResultsMatrix:
    """Read a long results file into a validated :class:`ResultsMatrix`.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``, ``.json`` (a list of records) or ``.parquet``.
    catalog : LLMCatalog, optional
        Every ``llm_id`` must be in it.
    on_missing : {"error", "drop"}
        Policy for rows with an empty/NaN score (see :mod:`irtrouter.data.results`).

    Examples
    --------
    >>> results = read_results("results.csv", catalog=load_catalog("llms.json"))  # doctest: +SKIP
    """
    import pandas as pd

    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataError("no such file", source=source)
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv"}:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={"query_id": str, "llm_id": str})
            rows, kind = np.arange(2, len(frame) + 2), "line"
        elif suffix in {".jsonl", ".ndjson"}:
            frame, rows = _read_jsonl(path)
            kind = "line"
        elif suffix == ".json":
            records = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise DataError("expected a JSON list of objects (one per query and LLM)", source=source)
            frame = pd.DataFrame.from_records(records)
            rows, kind = np.arange(1, len(frame) + 1), "record"
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
            rows, kind = np.arange(1, len(frame) + 1), "row"
        else:
            raise DataError(
                f"unsupported file type {suffix!r}; expected one of {', '.join(LONG_FORMAT_SUFFIXES)}",
                source=source,
            )
    except DataError:
        raise
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot parse {suffix.lstrip('.')} file: {exc}", source=source) from None
    return results_from_frame(frame, source, catalog=catalog, on_missing=on_missing, row_numbers=rows, row_kind=kind)


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    import pandas as pd

    records, lines = [], []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON: {exc.msg}", source=str(path), row=lineno, row_kind="line") from None
            if not isinstance(rec, dict):
                raise DataError("expected a JSON object", source=str(path), row=lineno, row_kind="line")
            records.append(rec)
            lines.append(lineno)
    return pd.DataFrame.from_records(records), np.asarray(lines)
