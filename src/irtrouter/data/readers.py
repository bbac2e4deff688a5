"""Readers for long interaction records in CSV, TSV, JSONL, JSON and Parquet files.

Each reader keeps the file's own numbering for messages: a CSV error names the line of the file
(the header is line 1), a JSONL error the line, a Parquet error the row (1-based). Text files are
decoded first, whole (``encoding``, UTF-8 by default), so a byte that is not in the encoding is
reported with its line and its byte offset in the file; JSON failures say which kind they are
(:mod:`irtrouter.data.jsontext`). A CSV read as one column whose header holds another likely
delimiter names it. ``columns`` maps our column names to the file's; columns we do not know are
an error (a misspelt optional column such as ``taks`` would otherwise vanish silently) unless
``ignore_extra_columns``, which drops them with a logged note.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.jsontext import parse_json
from irtrouter.data.results import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    MissingPolicy,
    ResultsMatrix,
    results_from_frame,
)
from irtrouter.errors import DataError

log = logging.getLogger(__name__)

LONG_FORMAT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Delimiters a one-column CSV header is searched for, with how to pass each on the command line.
_DELIMITERS = {";": ("semicolon", "';'"), "\t": ("tab", "tab"), "|": ("pipe", "'|'"), ",": ("comma", "','")}


def read_results(
    path: str | Path,
    *,
    catalog: LLMCatalog | None = None,
    on_missing: MissingPolicy = "error",
    encoding: str = "utf-8",
    delimiter: str | None = None,
    columns: Mapping[str, str] | None = None,
    ignore_extra_columns: bool = False,
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
    encoding : str
        Of the text formats (CSV, TSV, JSONL, JSON); ``"latin-1"``, ``"cp1252"``...
    delimiter : str, optional
        Of a CSV/TSV file (default ``,`` for ``.csv``, tab for ``.tsv``).
    columns : mapping, optional
        Our column name -> the file's (``{"query": "prompt", "llm_id": "model_name"}``).
    ignore_extra_columns : bool
        Drop columns irtrouter does not know (logged) instead of failing on them.

    Examples
    --------
    >>> results = read_results("results.csv", catalog=load_catalog("llms.json"))  # doctest: +SKIP
    >>> read_results("runs.csv", columns={"query": "prompt"}, ignore_extra_columns=True)  # doctest: +SKIP
    """
    import pandas as pd

    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataError("no such file", source=source)
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv"}:
            sep = delimiter or ("\t" if suffix == ".tsv" else ",")
            text = _decode(path.read_bytes(), encoding, source)
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype={"query_id": str, "llm_id": str})
            _check_delimiter(frame, text, sep, source, columns)
            rows, kind = np.arange(2, len(frame) + 2), "line"
        elif suffix in {".jsonl", ".ndjson"}:
            frame, rows = _read_jsonl(_decode(path.read_bytes(), encoding, source), source)
            kind = "line"
        elif suffix == ".json":
            records = parse_json(_decode(path.read_bytes(), encoding, source), source=source)
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
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot parse {suffix.lstrip('.')} file: {exc}", source=source) from None
    frame = _select_columns(frame, source, columns or {}, ignore_extra_columns)
    return results_from_frame(frame, source, catalog=catalog, on_missing=on_missing, row_numbers=rows, row_kind=kind)


def parse_column_map(text: str) -> dict[str, str]:
    """``"query=prompt,llm_id=model_name"`` -> ``{"query": "prompt", "llm_id": "model_name"}``.

    Examples
    --------
    >>> parse_column_map("query=prompt, llm_id=model")
    {'query': 'prompt', 'llm_id': 'model'}
    """
    mapping: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        ours, eq, theirs = item.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not eq or not ours or not theirs:
            raise DataError(f"--columns: expected OURS=THEIRS pairs separated by commas, got {item!r}")
        if ours not in KNOWN_COLUMNS:
            raise DataError(f"--columns: {ours!r} is not one of our columns; ours are {', '.join(KNOWN_COLUMNS)}")
        if ours in mapping:
            raise DataError(f"--columns: {ours!r} is mapped twice")
        mapping[ours] = theirs
    return mapping


def _decode(raw: bytes, encoding: str, source: str) -> str:
    """The text of a file, or a DataError with the line and byte offset of the first bad byte."""
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}", source=source) from None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"not valid {encoding} at byte {exc.start} of the file (0x{raw[exc.start : exc.start + 1].hex()}); "
            "if the file is in another encoding, pass it with --encoding (e.g. --encoding cp1252 or latin-1)",
            source=source,
            row=line,
            row_kind="line",
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not part of the first column's name


def _check_delimiter(frame: pd.DataFrame, text: str, sep: str, source: str, columns: Mapping[str, str] | None) -> None:
    """A one-column frame whose header holds another delimiter was read with the wrong one."""
    if len(frame.columns) != 1 or (columns and str(frame.columns[0]) in columns.values()):
        return
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in _DELIMITERS if d != sep}
    likely = max(counts, key=lambda d: counts[d])
    if counts[likely]:
        raise DataError(
            f"only one column found ({header[:80]!r}) with delimiter {sep!r}; the header looks "
            f"{_DELIMITERS[likely][0]}-separated: pass --delimiter {_DELIMITERS[likely][1]}",
            source=source,
            row=1,
            row_kind="line",
        )


def _select_columns(frame: pd.DataFrame, source: str, columns: Mapping[str, str], ignore_extra: bool) -> pd.DataFrame:
    """Rename the file's columns to ours (``columns``: ours -> theirs), then drop or refuse the rest."""
    present = [str(c) for c in frame.columns]
    for ours, theirs in columns.items():
        if theirs not in present:
            raise DataError(
                f"--columns maps {ours!r} to {theirs!r}, but there is no such column; found: {present}", source=source
            )
        if ours in present and ours != theirs:
            raise DataError(
                f"--columns maps {ours!r} to {theirs!r}, but the file has its own {ours!r} column too", source=source
            )
    frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    extra = [str(c) for c in frame.columns if c not in KNOWN_COLUMNS]
    if not extra:
        return frame
    if ignore_extra:
        log.info("%s: ignoring column(s) %s", source, ", ".join(extra))
        return frame.drop(columns=extra)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    hint = (
        f"map yours to ours with --columns (e.g. --columns {missing[0]}={extra[0]})"
        if missing
        else "drop them with --ignore-extra-columns, or map them with --columns OURS=THEIRS"
    )
    raise DataError(
        f"unknown column(s) {extra}; ours are {', '.join(KNOWN_COLUMNS)}: {hint}"
        + (" (and --ignore-extra-columns for the rest)" if missing and len(extra) > 1 else ""),
        source=source,
    )


def _read_jsonl(text: str, source: str) -> tuple[pd.DataFrame, np.ndarray]:
    import pandas as pd

    records, lines = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rec = parse_json(line, source=source, first_line=lineno)
        if not isinstance(rec, dict):
            raise DataError("expected a JSON object", source=source, row=lineno, row_kind="line")
        records.append(rec)
        lines.append(lineno)
    return pd.DataFrame.from_records(records), np.asarray(lines)
