"""Query x LLM results: the one in-memory shape every router trains on and is scored against.

Users bring *interaction records*, one row per (query, LLM) pair::

    query_id, query, llm_id, score, task, input_tokens, output_tokens, cost_usd

``query``, ``llm_id`` and ``score`` are required; ``query_id`` defaults to a hash of the text;
the rest are optional. :func:`results_from_frame` validates such rows and pivots them into a
:class:`ResultsMatrix`.

Missing cells
-------------
A query need not have a result for every LLM: a cell with no row is *not observed* and is
stored as NaN. Training ignores unobserved cells; evaluation scores only queries observed for
every LLM (see :meth:`ResultsMatrix.complete`). A row that is present but whose score is empty or
NaN is an error by default (``on_missing="error"``); ``on_missing="drop"`` drops such rows,
turning them into unobserved cells, and logs how many.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from irtrouter.errors import DataError, UnknownLLMError

if TYPE_CHECKING:
    import pandas as pd

    from irtrouter.data.catalog import LLMCatalog

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("query", "llm_id", "score")
OPTIONAL_COLUMNS = ("query_id", "task", "input_tokens", "output_tokens", "cost_usd")
_CELL_FIELDS = ("input_tokens", "output_tokens", "cost_usd")
_PER_CELL = (*_CELL_FIELDS, "counts")  # every array beside the scores that is indexed like them

MissingPolicy = Literal["error", "drop"]


def query_id_for(text: str) -> str:
    """A stable id for a query that has none: a hash of its text."""
    return "q-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def normalise_text(text: str) -> str:
    """The form used to decide that two queries are the same query (whitespace folded)."""
    return " ".join(text.split())


@dataclass(frozen=True, eq=False)
class ResultsMatrix:
    """Scores (and optionally tokens and costs) of ``n_llms`` LLMs on ``n_queries`` queries.

    Attributes
    ----------
    query_ids, queries, tasks : tuple of str, length n_queries
        ``tasks`` holds "" where the task is unknown.
    llm_ids : tuple of str, length n_llms
    scores : ndarray of shape (n_queries, n_llms)
        Realised scores in [0, 1]; NaN marks a cell that was not observed.
    input_tokens, output_tokens, cost_usd : ndarray of shape (n_queries, n_llms) or None
        Per-cell token counts and real USD costs where the data has them (NaN = unknown).
    counts : ndarray of shape (n_queries, n_llms) or None
        Observations behind each cell's score, a mean of that many (an aggregated log:
        :func:`irtrouter.data.aggregate.aggregate_log`); training weighs each cell by it. None: one each.
    source : str
        Where the data came from, for messages.
    """

    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    llm_ids: tuple[str, ...]
    scores: np.ndarray
    tasks: tuple[str, ...]
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    cost_usd: np.ndarray | None = None
    source: str = "results"
    query_meta: dict[str, np.ndarray] = field(default_factory=dict)
    counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_q, n_m = len(self.query_ids), len(self.llm_ids)
        src = self.source
        if n_m == 0:
            raise DataError("no LLMs in the results", source=src)
        if len(self.queries) != n_q or len(self.tasks) != n_q:
            raise DataError("query_ids, queries and tasks differ in length", source=src)
        if self.scores.shape != (n_q, n_m):
            raise DataError(f"scores have shape {self.scores.shape}, expected {(n_q, n_m)}", source=src)
        for name in _PER_CELL:
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n_q, n_m):
                raise DataError(f"{name} has shape {arr.shape}, expected {(n_q, n_m)}", source=src)
        if self.counts is not None and (not np.all(np.isfinite(self.counts)) or (self.counts < 0).any()):
            raise DataError("counts must be finite and >= 0", source=src, field="counts")
        for name, arr in self.query_meta.items():
            if len(arr) != n_q:
                raise DataError(f"query_meta[{name!r}] has {len(arr)} rows, expected {n_q}", source=src)
        if len(set(self.llm_ids)) != n_m:
            raise DataError("duplicate LLM ids in the results", source=src, field="llm_id")
        if len(set(self.query_ids)) != n_q:
            dup = _first_duplicate(self.query_ids)
            raise DataError(f"duplicate query_id {dup!r}", source=src, field="query_id")
        for i, text in enumerate(self.queries):
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"empty query text (query_id {self.query_ids[i]!r})", source=src, row=i, field="query")
        observed = ~np.isnan(self.scores)
        bad = observed & ((self.scores < 0) | (self.scores > 1))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DataError(
                f"score {float(self.scores[i, j]):g} for LLM {self.llm_ids[j]!r} is outside [0, 1]",
                source=src,
                row=int(i),
                field="score",
            )

    # -- shape ---------------------------------------------------------------------------------
    @property
    def n_queries(self) -> int:
        return len(self.query_ids)

    @property
    def n_llms(self) -> int:
        return len(self.llm_ids)

    @property
    def observed(self) -> np.ndarray:
        """Boolean (n_queries, n_llms) mask of cells that have a score."""
        return ~np.isnan(self.scores)

    @property
    def n_observed(self) -> int:
        return int(self.observed.sum())

    def __repr__(self) -> str:
        return (
            f"ResultsMatrix({self.n_queries} queries x {self.n_llms} LLMs, "
            f"{self.n_observed} observed, source={self.source!r})"
        )

    # -- selection -----------------------------------------------------------------------------
    def take(self, rows: Sequence[int] | np.ndarray, source: str | None = None) -> ResultsMatrix:
        """The queries at positions (or boolean mask) ``rows``, in that order."""
        idx = np.asarray(rows)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        pick = idx.tolist()
        return self._with_cells(
            lambda arr: arr[idx],
            query_ids=tuple(self.query_ids[i] for i in pick),
            queries=tuple(self.queries[i] for i in pick),
            tasks=tuple(self.tasks[i] for i in pick),
            query_meta={k: v[idx] for k, v in self.query_meta.items()},
            source=source or self.source,
        )

    def select_llms(self, llm_ids: Iterable[str]) -> ResultsMatrix:
        """The same queries with only the LLMs ``llm_ids`` (in that order)."""
        ids = tuple(llm_ids)
        pos = {m: j for j, m in enumerate(self.llm_ids)}
        for m in ids:
            if m not in pos:
                raise UnknownLLMError(m, self.llm_ids, self.source)
        cols = np.array([pos[m] for m in ids], dtype=np.int64)
        return self._with_cells(lambda arr: arr[:, cols], llm_ids=ids)

    def _with_cells(self, pick: Callable[[np.ndarray], np.ndarray], **changes: Any) -> ResultsMatrix:
        """A copy with ``pick`` applied to the scores and every other per-cell array, and ``changes``."""
        cells: dict[str, Any] = {n: None if getattr(self, n) is None else pick(getattr(self, n)) for n in _PER_CELL}
        return replace(self, scores=pick(self.scores), **cells, **changes)

    def complete(self) -> ResultsMatrix:
        """Only the queries observed for every LLM: the set a routing decision can be scored on."""
        return self.take(np.asarray(self.observed.all(axis=1)))

    @classmethod
    def concat(cls, parts: Sequence[ResultsMatrix], source: str | None = None) -> ResultsMatrix:
        """Stack results over the same LLMs (queries must not repeat)."""
        if not parts:
            raise DataError("nothing to concatenate")
        llm_ids = parts[0].llm_ids
        for p in parts[1:]:
            if p.llm_ids != llm_ids:
                raise DataError(f"cannot stack results over different LLMs: {p.llm_ids} vs {llm_ids}", source=p.source)

        def stack(name: str) -> np.ndarray | None:
            arrs = [getattr(p, name) for p in parts]
            if all(a is None for a in arrs):
                return None
            return np.concatenate(
                [a if a is not None else np.full(p.scores.shape, np.nan) for a, p in zip(arrs, parts, strict=True)]
            )

        meta_keys = set.intersection(*(set(p.query_meta) for p in parts))
        return cls(
            query_ids=tuple(q for p in parts for q in p.query_ids),
            queries=tuple(q for p in parts for q in p.queries),
            llm_ids=llm_ids,
            scores=np.concatenate([p.scores for p in parts]),
            tasks=tuple(t for p in parts for t in p.tasks),
            input_tokens=stack("input_tokens"),
            output_tokens=stack("output_tokens"),
            cost_usd=stack("cost_usd"),
            source=source or "+".join(dict.fromkeys(p.source for p in parts)),
            query_meta={k: np.concatenate([p.query_meta[k] for p in parts]) for k in sorted(meta_keys)},
        )

    # -- views ---------------------------------------------------------------------------------
    def task_names(self) -> list[str]:
        """Distinct tasks in first-appearance order ("" = unknown)."""
        return list(dict.fromkeys(self.tasks))

    def mean_scores(self) -> dict[str, float]:
        """Each LLM's mean score over the queries it was observed on."""
        with np.errstate(invalid="ignore"):
            means = np.nanmean(self.scores, axis=0)
        return dict(zip(self.llm_ids, means.tolist(), strict=True))

    def to_frame(self) -> pd.DataFrame:
        """The observed cells as long interaction records (the input format)."""
        import pandas as pd

        qi, mj = np.nonzero(self.observed)
        data: dict[str, object] = {
            "query_id": np.asarray(self.query_ids, dtype=object)[qi],
            "query": np.asarray(self.queries, dtype=object)[qi],
            "llm_id": np.asarray(self.llm_ids, dtype=object)[mj],
            "score": self.scores[qi, mj],
            "task": np.asarray(self.tasks, dtype=object)[qi],
        }
        for name in _CELL_FIELDS:
            arr = getattr(self, name)
            if arr is not None:
                data[name] = arr[qi, mj]
        return pd.DataFrame(data)


def results_from_frame(
    frame: pd.DataFrame,
    source: str = "results",
    *,
    catalog: LLMCatalog | None = None,
    on_missing: MissingPolicy = "error",
    row_numbers: np.ndarray | None = None,
    row_kind: str = "row",
) -> ResultsMatrix:
    """Validate long interaction records and pivot them into a :class:`ResultsMatrix`.

    Parameters
    ----------
    frame : DataFrame
        One row per (query, LLM) with the columns listed in the module docstring.
    source : str
        File name (or other origin) used in error messages.
    catalog : LLMCatalog, optional
        When given, every ``llm_id`` must be in it and the LLM columns follow its order.
    on_missing : {"error", "drop"}
        What to do with a row whose score is empty/NaN (see the module docstring).
    row_numbers : ndarray, optional
        The number to show for each row in messages (e.g. the file's line numbers).

    Raises
    ------
    DataError
        For the first offending row: naming ``source``, the row and the field.
    """
    import pandas as pd

    rows = np.arange(1, len(frame) + 1) if row_numbers is None else np.asarray(row_numbers)

    def fail(message: str, pos: int, field: str | None) -> DataError:
        return DataError(message, source=source, row=int(rows[pos]), field=field, row_kind=row_kind)

    cols = set(frame.columns)
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing_cols:
        raise DataError(
            f"missing column(s) {missing_cols}; required: {list(REQUIRED_COLUMNS)}, "
            f"optional: {list(OPTIONAL_COLUMNS)}; found: {sorted(map(str, cols))}",
            source=source,
        )
    unknown_cols = cols - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS)
    if unknown_cols:
        raise DataError(
            f"unknown column(s) {sorted(map(str, unknown_cols))}; allowed: {list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}",
            source=source,
        )
    if len(frame) == 0:
        raise DataError("no rows", source=source)
    frame = frame.reset_index(drop=True)

    texts = _text_column(frame["query"], "query", fail)
    llm_ids = _text_column(frame["llm_id"], "llm_id", fail)
    has_ids = "query_id" in cols
    qids = _text_column(frame["query_id"], "query_id", fail) if has_ids else [query_id_for(t) for t in texts]
    tasks = _text_column(frame["task"], "task", fail, allow_empty=True) if "task" in cols else [""] * len(frame)

    raw_score = frame["score"]
    score = pd.to_numeric(raw_score, errors="coerce").to_numpy(dtype=np.float64)
    not_numeric = np.isnan(score) & raw_score.notna().to_numpy() & ~_is_nan_string(raw_score)
    if not_numeric.any():
        pos = int(np.flatnonzero(not_numeric)[0])
        raise fail(f"expected a number in [0, 1], got {raw_score.iloc[pos]!r}", pos, "score")
    keep = np.ones(len(frame), dtype=bool)
    nan_rows = np.flatnonzero(np.isnan(score))
    if len(nan_rows):
        if on_missing == "error":
            raise fail(
                f"missing score (NaN) for LLM {llm_ids[nan_rows[0]]!r}"
                f" ({len(nan_rows)} such row(s); pass on_missing='drop' / --on-missing drop to skip them)",
                int(nan_rows[0]),
                "score",
            )
        keep[nan_rows] = False
        log.warning("%s: dropped %d row(s) with a missing score", source, len(nan_rows))
    out_of_range = ~np.isnan(score) & ((score < 0) | (score > 1) | ~np.isfinite(score))
    if out_of_range.any():
        pos = int(np.flatnonzero(out_of_range)[0])
        raise fail(f"score {float(score[pos]):g} is outside [0, 1]", pos, "score")

    cell_values: dict[str, np.ndarray] = {}
    for name in _CELL_FIELDS:
        if name not in cols:
            continue
        raw = frame[name]
        vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = (np.isnan(vals) & raw.notna().to_numpy() & ~_is_nan_string(raw)) | (vals < 0) | np.isinf(vals)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise fail(f"expected a number >= 0 (or empty), got {raw.iloc[pos]!r}", pos, name)
        cell_values[name] = vals

    if catalog is not None:
        known = set(catalog.ids)
        for pos, m in enumerate(llm_ids):
            if m not in known:
                shown = ", ".join(catalog.ids[:20])
                raise fail(f"unknown LLM {m!r}: not in the catalog {catalog.source} ({shown})", pos, "llm_id")

    # One query id = one text and one task; one (query, LLM) = one row.
    first_row_of_query: dict[str, int] = {}
    seen_pair: dict[tuple[str, str], int] = {}
    for pos in range(len(frame)):
        qid = qids[pos]
        first = first_row_of_query.setdefault(qid, pos)
        if first != pos:
            if texts[first] != texts[pos]:
                raise fail(f"query_id {qid!r} has a different text than at {row_kind} {rows[first]}", pos, "query")
            if tasks[first] != tasks[pos]:
                raise fail(
                    f"query_id {qid!r} has task {tasks[pos]!r} here but {tasks[first]!r} at {row_kind} {rows[first]}",
                    pos,
                    "task",
                )
        pair = (qid, llm_ids[pos])
        if pair in seen_pair:
            raise fail(
                f"duplicate row for query_id {qid!r} and LLM {llm_ids[pos]!r} (first at {row_kind} "
                f"{rows[seen_pair[pair]]})",
                pos,
                "llm_id",
            )
        seen_pair[pair] = pos

    kept = np.flatnonzero(keep)
    query_order = list(dict.fromkeys(qids[p] for p in range(len(frame))))
    q_pos = {q: i for i, q in enumerate(query_order)}
    if catalog is not None:
        present = set(llm_ids)
        llm_order = [m for m in catalog.ids if m in present]
    else:
        llm_order = list(dict.fromkeys(llm_ids))
    m_pos = {m: j for j, m in enumerate(llm_order)}
    qi = np.array([q_pos[qids[p]] for p in kept], dtype=np.int64)
    mj = np.array([m_pos[llm_ids[p]] for p in kept], dtype=np.int64)
    shape = (len(query_order), len(llm_order))

    def pivot(values: np.ndarray) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[qi, mj] = values[kept]
        return out

    first_rows = [first_row_of_query[q] for q in query_order]
    return ResultsMatrix(
        query_ids=tuple(query_order),
        queries=tuple(texts[p] for p in first_rows),
        llm_ids=tuple(llm_order),
        scores=pivot(score),
        tasks=tuple(tasks[p] for p in first_rows),
        input_tokens=pivot(cell_values["input_tokens"]) if "input_tokens" in cell_values else None,
        output_tokens=pivot(cell_values["output_tokens"]) if "output_tokens" in cell_values else None,
        cost_usd=pivot(cell_values["cost_usd"]) if "cost_usd" in cell_values else None,
        source=source,
    )


def _text_column(
    col: pd.Series, name: str, fail: Callable[[str, int, str | None], DataError], allow_empty: bool = False
) -> list[str]:
    values = col.tolist()
    out: list[str] = []
    for pos, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            if allow_empty:
                out.append("")
                continue
            raise fail("missing value", pos, name)
        if isinstance(v, bool) or not isinstance(v, str | int | np.integer):
            raise fail(f"expected text, got {v!r}", pos, name)
        s = str(v)
        if not allow_empty and not s.strip():
            raise fail("empty text", pos, name)
        out.append(s)
    return out


def _is_nan_string(col: pd.Series) -> np.ndarray:
    """Cells that spell a missing value ("nan", "NaN", "") rather than a malformed number."""
    as_text = col.astype(str).str.strip().str.lower()
    return as_text.isin(["nan", "", "none", "null"]).to_numpy()


def _first_duplicate(items: Sequence[str]) -> str:
    seen: set[str] = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return ""
