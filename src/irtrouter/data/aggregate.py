"""A very large interaction log, reduced to what training needs: per (query, LLM) cell the mean
score and the number of observations.

The training loss (binary cross-entropy with the score as a soft target) is linear in the
target, so the n observations ``y_1..y_n`` of one cell weigh exactly as one observation of their
mean with weight n: ``sum_i BCE(p, y_i) = n BCE(p, mean(y))``. A log of tens of millions of rows
with repeated cells (the same benchmark query asked again, traffic feedback) trains as the
matrix of its distinct cells, with ``counts`` as the loss weights
(``IRTPredictor.fit(..., weights=counts)``), and gives the same loss.

:func:`aggregate_log` reads a Parquet log in record batches with pyarrow and keeps only running
sums and counts per cell, so its memory is the distinct cells and texts, never the log's rows.

Examples
--------
>>> log = aggregate_log("interactions.parquet")  # doctest: +SKIP
>>> predictor.fit(X, X_llms, log.results.scores, weights=log.counts)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from irtrouter.data.results import ResultsMatrix, query_id_for
from irtrouter.errors import DataError

LOG_COLUMNS = ("query", "llm_id", "score")


@dataclass(frozen=True)
class AggregatedLog:
    """A log's distinct cells.

    Attributes
    ----------
    results : ResultsMatrix
        The mean score of each observed cell (NaN where a query never met an LLM).
    counts : ndarray of int64, shape (n_queries, n_llms)
        Observations per cell (0 where unobserved): the loss weights.
    rows : int
        Rows of the log read.
    """

    results: ResultsMatrix
    counts: np.ndarray
    rows: int


class _Grower:
    """Running sums and counts of a (queries x LLMs) matrix whose sides grow as the log is read."""

    def __init__(self) -> None:
        self.sums = np.zeros((1024, 8))
        self.counts = np.zeros((1024, 8), dtype=np.int64)

    def add(self, q: np.ndarray, m: np.ndarray, scores: np.ndarray, n_q: int, n_m: int) -> None:
        rows, cols = self.sums.shape
        if n_q > rows or n_m > cols:  # each side doubles only when it must
            shape = (max(n_q, 2 * rows) if n_q > rows else rows, max(n_m, 2 * cols) if n_m > cols else cols)
            for name in ("sums", "counts"):
                old = getattr(self, name)
                new = np.zeros(shape, dtype=old.dtype)
                new[: old.shape[0], : old.shape[1]] = old
                setattr(self, name, new)
        np.add.at(self.sums, (q, m), scores)
        np.add.at(self.counts, (q, m), 1)


class _Codes:
    """Stable integer codes for the distinct values of a column, in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def encode(self, column: object) -> tuple[np.ndarray, np.ndarray]:
        """Codes of every row, and the rows (in this batch) where each new value first appeared."""
        import pyarrow.compute as pc

        arr = pc.dictionary_encode(column)  # a record batch's column: one array, one dictionary
        local = arr.indices.to_numpy(zero_copy_only=False)
        values = arr.dictionary.to_pylist()
        before = len(self.index)
        lookup = np.fromiter((self.index.setdefault(v, len(self.index)) for v in values), np.int64, len(values))
        codes = lookup[local]
        new = np.flatnonzero(lookup >= before)
        # Every dictionary value occurs, so first[v] is the first row of value v; new codes were
        # handed out in dictionary order, so first[new] is in code order.
        _, first = np.unique(local, return_index=True)
        return codes, first[new]


def aggregate_log(path: str | Path, *, batch_rows: int = 1_000_000, query_column: str = "query") -> AggregatedLog:
    """Read a Parquet log (``query``, ``llm_id``, ``score`` in [0, 1]; ``query_id`` and ``task``
    optional) ``batch_rows`` rows at a time and reduce it to its distinct cells.

    Cells are keyed by ``query_id`` when the log has one, else by the query text; the text and
    task of a query are those of its first row. LLM columns follow their first appearance.

    Raises
    ------
    DataError
        A missing column, an empty log, a score outside [0, 1] or missing (naming its row).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", source=str(path))
    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(f"cannot read parquet: {' '.join(str(exc).split())}", source=str(path)) from None
    names = file.schema_arrow.names
    missing = [c for c in (query_column, "llm_id", "score") if c not in names]
    if missing:
        raise DataError(f"missing column(s) {missing}; found: {', '.join(names)}", source=str(path))
    key = "query_id" if "query_id" in names else query_column
    columns = list(dict.fromkeys([key, query_column, "llm_id", "score", *(["task"] if "task" in names else [])]))
    queries, llms, cells = _Codes(), _Codes(), _Grower()
    texts: list[str] = []
    tasks: list[str] = []
    rows = 0
    for batch in file.iter_batches(batch_size=batch_rows, columns=columns):
        scores = batch.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
        bad = np.flatnonzero(~((scores >= 0) & (scores <= 1)))  # NaN fails both
        if len(bad):
            i = int(bad[0])
            raise DataError(
                f"score {float(scores[i])!r} is not in [0, 1]", source=str(path), row=rows + i + 1, field="score"
            )
        q, first = queries.encode(batch.column(key))
        m, _ = llms.encode(batch.column("llm_id"))
        if len(first):
            texts += batch.column(query_column).take(first).to_pylist()
            tasks += batch.column("task").take(first).to_pylist() if "task" in names else [""] * len(first)
        cells.add(q, m, scores, len(queries.index), len(llms.index))
        rows += batch.num_rows
    if rows == 0:
        raise DataError("no rows: expected one row per (query, LLM) observation", source=str(path))
    n_q, n_m = len(queries.index), len(llms.index)
    counts = cells.counts[:n_q, :n_m].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, cells.sums[:n_q, :n_m] / np.maximum(counts, 1), np.nan)
    ids = list(queries.index) if key == "query_id" else [query_id_for(t) for t in texts]
    results = ResultsMatrix(
        query_ids=tuple(str(i) for i in ids),
        queries=tuple(texts),
        llm_ids=tuple(llms.index),
        scores=means,
        tasks=tuple(t or "" for t in tasks),
        source=str(path),
        counts=counts.astype(np.float64),
    )
    return AggregatedLog(results=results, counts=counts, rows=rows)
