"""yuchenlin/ZeroEval: 2,840 queries x 53 LLMs on CRUXEval-O, GSM8K and MATH level 5.

The directory holds three CSV files (``models.csv`` is not read)::

    queries.csv          query_id, task, prompt, reference_answer
    scores.csv           query_id, <one column per LLM>   1 / 0 / empty
    output_lengths.csv   query_id, <the same LLM columns>  characters of the visible answer / empty

An empty cell is a result the source does not have (the LLM never ran that task, or its run is
partial): it is unobserved (NaN), never 0. ``scores.csv`` and ``output_lengths.csv`` must have
the same columns, the same queries and the same holes.

What the loader does, and says in the notes of the :class:`~irtrouter.data.Benchmark`:

* **Split.** No published split: each task's queries are split 70/30 at random (seeded). A query
  whose text (whitespace folded) repeats an earlier query's is dropped first, keeping the first
  one, so no test text is in train, in the ID split or in an OOD split by task.
* **Costs are modelled.** ``output_tokens`` is the answer length in characters / 4 (the rule of
  :mod:`irtrouter.data.tokens`); prices come from the bundled catalog (litellm list prices). The o1
  models' hidden reasoning tokens are not in the lengths, so their cost is understated.
* **Near-duplicate columns.** Llama-3.1-405B-Instruct has three columns (three providers) and
  Llama-3.1-70B-Instruct two. They stay separate LLMs: separate endpoints, separate prices. Pairs of
  columns whose observed scores agree on >= 98 % of their shared queries are reported
  (:func:`agreeing_llm_pairs`), and so is the agreement of the known same-weights groups.
* **Holes** are reported per LLM (:func:`holes_by_llm`).
* **Saturated items.** Per task, the queries solved by every LLM that ran them, and those solved
  by none, are counted. They carry no information for IRT abilities, but they are kept.

Examples
--------
>>> bench = load_benchmark("zeroeval", "../shared/data/zeroeval")  # doctest: +SKIP
>>> bench.train.n_llms, bench.cost_source  # doctest: +SKIP
(53, 'modelled')
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import NamedTuple

import numpy as np

from irtrouter.data.results import ResultsMatrix, normalise_text
from irtrouter.data.splits import split_in_distribution
from irtrouter.errors import DataError

QUERY_COLUMNS = ("query_id", "task", "prompt", "reference_answer")
CHARS_PER_TOKEN = 4  # the rule of irtrouter.data.tokens.estimate_tokens for alphabetic text
TEST_SIZE = 0.3
DUPLICATE_AGREEMENT = 0.98
DUPLICATE_MIN_SHARED = 50  # below this, agreement says little

# The same weights through several providers (README of the dataset). Kept apart; reported.
SAME_WEIGHTS: tuple[tuple[str, ...], ...] = (
    ("Llama-3.1-405B-Inst@hyperbolic", "Llama-3.1-405B-Inst@sambanova", "Llama-3.1-405B-Inst-fp8@together"),
    ("Meta-Llama-3.1-70B-Instruct", "Meta-Llama-3.1-70B-Instruct@hyperbolic"),
)


class AgreeingPair(NamedTuple):
    """Two LLM columns and the share of their shared observed queries on which they agree."""

    llm_a: str
    llm_b: str
    agreement: float
    n_shared: int


@dataclass(frozen=True)
class ZeroEvalData:
    """What :func:`read_zeroeval` returns: the seeded ID split and what a reader must know."""

    train: ResultsMatrix
    test: ResultsMatrix
    notes: tuple[str, ...]
    near_duplicates: tuple[AgreeingPair, ...]


def read_zeroeval(root: str | Path, seed: int = 0) -> ZeroEvalData:
    """Read and validate a ZeroEval directory, drop repeated query texts, split per task 70/30 (seeded).

    Raises
    ------
    DataError
        Naming the file, the line and the field, for a missing column, a score that is not 0/1,
        a length that is not a whole number >= 0, a row for an unknown query id, or files whose
        holes differ.
    """
    results = read_zeroeval_results(root)
    first: dict[str, int] = {}
    for i, text in enumerate(results.queries):
        first.setdefault(normalise_text(text), i)
    dropped = results.n_queries - len(first)
    if dropped:
        results = results.take(sorted(first.values()))
    train, test = split_in_distribution(results, test_size=TEST_SIZE, seed=seed)
    pairs = agreeing_llm_pairs(results)
    return ZeroEvalData(train=train, test=test, notes=_notes(results, pairs, seed, dropped), near_duplicates=pairs)


def read_zeroeval_results(root: str | Path) -> ResultsMatrix:
    """All queries of a ZeroEval directory as one :class:`ResultsMatrix` (no split)."""
    root = Path(root)
    ids, tasks, prompts, references = _read_queries(root / "queries.csv")
    scores_path, lengths_path = root / "scores.csv", root / "output_lengths.csv"
    llm_ids, scores, _ = _read_cells(scores_path, ids, _score, "0 or 1")
    length_ids, lengths, lines = _read_cells(lengths_path, ids, _length, "a whole number of characters >= 0")
    if length_ids != llm_ids:
        raise DataError(
            f"LLM columns differ from scores.csv's: {_first_difference(length_ids, llm_ids)}",
            source=str(lengths_path),
            row=1,
            row_kind="line",
        )
    mismatch = np.isnan(scores) != np.isnan(lengths)
    if mismatch.any():
        i, j = (int(v) for v in np.argwhere(mismatch)[0])
        which = "a length but no score" if np.isnan(scores[i, j]) else "a score but no length"
        raise DataError(
            f"query {ids[i]!r} has {which} for this LLM ({int(mismatch.sum())} such cell(s)): "
            "scores.csv and output_lengths.csv must have the same holes",
            source=str(lengths_path),
            row=lines[i],
            row_kind="line",
            field=llm_ids[j],
        )
    return ResultsMatrix(
        query_ids=ids,
        queries=prompts,
        llm_ids=llm_ids,
        scores=scores,
        tasks=tasks,
        output_tokens=lengths / CHARS_PER_TOKEN,
        source=str(root),
        query_meta={"reference_answer": np.asarray(references, dtype=object)},
    )


def agreeing_llm_pairs(
    results: ResultsMatrix, threshold: float = DUPLICATE_AGREEMENT, min_shared: int = DUPLICATE_MIN_SHARED
) -> tuple[AgreeingPair, ...]:
    """Pairs of LLMs whose scores agree on at least ``threshold`` of the queries both have.

    Only pairs with at least ``min_shared`` shared observed queries count. For 0/1 scores,
    agreement is the share of shared queries with the same score. Sorted by agreement, highest
    first.
    """
    agreement, shared = pairwise_agreement(results)
    rows, cols = np.triu_indices(results.n_llms, k=1)
    keep = (shared[rows, cols] >= min_shared) & (agreement[rows, cols] >= threshold)
    pairs = [
        AgreeingPair(results.llm_ids[i], results.llm_ids[j], float(agreement[i, j]), int(shared[i, j]))
        for i, j in zip(rows[keep].tolist(), cols[keep].tolist(), strict=True)
    ]
    return tuple(sorted(pairs, key=lambda p: (-p.agreement, p.llm_a, p.llm_b)))


def pairwise_agreement(results: ResultsMatrix) -> tuple[np.ndarray, np.ndarray]:
    """(agreement, n_shared), each (n_llms, n_llms): share of shared queries scored alike, and their count.

    Agreement is NaN where two LLMs share no query.
    """
    observed = results.observed.astype(np.float64)
    right = np.nan_to_num(results.scores, nan=0.0) * observed
    wrong = (1.0 - np.nan_to_num(results.scores, nan=1.0)) * observed
    shared = observed.T @ observed
    same = right.T @ right + wrong.T @ wrong
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(shared > 0, same / shared, np.nan)
    return agreement, shared.astype(np.int64)


def holes_by_llm(results: ResultsMatrix) -> dict[str, dict[str, tuple[int, int]]]:
    """Per LLM with holes: task -> (unobserved queries, queries of the task), for tasks with holes."""
    tasks = np.asarray(results.tasks, dtype=object)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for j, llm in enumerate(results.llm_ids):
        per_task = {}
        for task in results.task_names():
            rows = tasks == task
            missing = int((~results.observed[rows, j]).sum())
            if missing:
                per_task[task] = (missing, int(rows.sum()))
        if per_task:
            out[llm] = per_task
    return out


def saturated_items(results: ResultsMatrix) -> dict[str, tuple[int, int]]:
    """Per task: (queries solved by every LLM that ran them, queries solved by none of them)."""
    tasks = np.asarray(results.tasks, dtype=object)
    # A query no LLM ran has lowest = inf and highest = -inf: it is in neither count.
    lowest = np.where(results.observed, results.scores, np.inf).min(axis=1)
    highest = np.where(results.observed, results.scores, -np.inf).max(axis=1)
    return {
        task: (int(((tasks == task) & (lowest == 1)).sum()), int(((tasks == task) & (highest == 0)).sum()))
        for task in results.task_names()
    }


# -- notes --------------------------------------------------------------------------------------


def _notes(results: ResultsMatrix, pairs: tuple[AgreeingPair, ...], seed: int, dropped: int) -> tuple[str, ...]:
    counts = ", ".join(f"{t} {results.tasks.count(t)}" for t in results.task_names())
    n_cells = results.scores.size
    solved = saturated_items(results)
    return (
        f"{results.n_queries} queries x {results.n_llms} LLMs ({counts}); no published split: a seeded "
        f"per-task {1 - TEST_SIZE:.0%}/{TEST_SIZE:.0%} split (seed {seed}); dropped {dropped} queries whose "
        "text repeats an earlier one (the first is kept), so no test text is in train",
        "scores are 0/1; 0 also means no parsable answer",
        f"{n_cells - results.n_observed} of {n_cells} cells are unobserved (NaN, never 0: the LLM did not run "
        f"that task or its run is partial); by LLM: {_describe_holes(holes_by_llm(results))}",
        _describe_duplicates(results, pairs),
        "saturated items (kept; no information for IRT abilities): "
        + "; ".join(
            f"{t}: {all_} solved by every LLM that ran them, {none} by none" for t, (all_, none) in solved.items()
        ),
        f"output_tokens modelled as answer characters / {CHARS_PER_TOKEN} (the source has lengths, not tokens); "
        "the o1 models' hidden reasoning is not in the lengths, so their cost is understated; "
        "costs are modelled from list prices (the bundled catalog, from litellm's price table)",
    )


def _describe_holes(holes: dict[str, dict[str, tuple[int, int]]]) -> str:
    if not holes:
        return "none"
    parts = []
    for llm, per_task in holes.items():
        tasks = [
            f"no {t}" if missing == total else f"{t} {total - missing}/{total}"
            for t, (missing, total) in per_task.items()
        ]
        parts.append(f"{llm} ({', '.join(tasks)})")
    return "; ".join(parts)


def _describe_duplicates(results: ResultsMatrix, pairs: tuple[AgreeingPair, ...]) -> str:
    found = ", ".join(f"{p.llm_a} ~ {p.llm_b} ({p.agreement:.1%} of {p.n_shared})" for p in pairs) or "none"
    text = (
        f"near-duplicate columns (scores agree on >= {DUPLICATE_AGREEMENT:.0%} of >= {DUPLICATE_MIN_SHARED} "
        f"shared queries): {found}"
    )
    agreement, shared = pairwise_agreement(results)
    pos = {m: j for j, m in enumerate(results.llm_ids)}
    known = []
    for group in SAME_WEIGHTS:
        present = [m for m in group if m in pos]
        for a, b in combinations(present, 2):
            i, j = pos[a], pos[b]
            if shared[i, j]:
                known.append(f"{a} ~ {b} {agreement[i, j]:.1%} of {shared[i, j]}")
    if known:
        text += "; same weights through several providers, kept as separate LLMs (separate endpoints and prices): "
        text += ", ".join(known)
    return text


# -- readers ------------------------------------------------------------------------------------


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, its cells) for every record of a CSV file, header first."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise DataError(f"not valid CSV: {exc}", source=str(path), row=start, row_kind="line") from None
                if row:
                    yield start, row
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None


def _header(path: Path, rows: Iterator[tuple[int, list[str]]]) -> list[str]:
    try:
        return next(rows)[1]
    except StopIteration:
        raise DataError("empty file: expected a header line", source=str(path)) from None


def _read_queries(path: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    rows = _rows(path)
    header = _header(path, rows)
    missing = [c for c in QUERY_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; expected {list(QUERY_COLUMNS)}, found {header}",
            source=str(path),
            row=1,
            row_kind="line",
        )
    col = {c: header.index(c) for c in QUERY_COLUMNS}
    seen: dict[str, int] = {}
    out: list[tuple[str, str, str, str]] = []
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{len(row)} fields, expected {len(header)}", source=str(path), row=line, row_kind="line")
        qid, task, prompt, reference = (row[col[c]] for c in QUERY_COLUMNS)
        for field, value in (("query_id", qid), ("task", task), ("prompt", prompt)):
            if not value.strip():
                raise DataError("must not be empty", source=str(path), row=line, row_kind="line", field=field)
        if qid in seen:
            raise DataError(
                f"duplicate query_id {qid!r} (first on line {seen[qid]})",
                source=str(path),
                row=line,
                row_kind="line",
                field="query_id",
            )
        seen[qid] = line
        out.append((qid, task, prompt, reference))
    if not out:
        raise DataError("no queries", source=str(path))
    ids, tasks, prompts, references = (tuple(v) for v in zip(*out, strict=True))
    return ids, tasks, prompts, references


def _read_cells(
    path: Path, query_ids: tuple[str, ...], parse: Callable[[str], float | None], expected: str
) -> tuple[tuple[str, ...], np.ndarray, list[int]]:
    """A ``query_id, <LLM>...`` file as (LLM ids, cells in ``query_ids`` order with NaN = empty, the
    line of each query's row).

    ``parse`` turns a non-empty cell into its value, or None when it is not ``expected``.
    """
    rows = _rows(path)
    header = _header(path, rows)
    if not header or header[0] != "query_id":
        raise DataError(
            f"the first column must be 'query_id', found {header[:1]}", source=str(path), row=1, row_kind="line"
        )
    llm_ids = tuple(header[1:])
    if not llm_ids:
        raise DataError("no LLM columns after 'query_id'", source=str(path), row=1, row_kind="line")
    for j, llm in enumerate(llm_ids):
        if not llm.strip():
            raise DataError(f"LLM column {j + 2} has no name", source=str(path), row=1, row_kind="line")
        if llm in llm_ids[:j]:
            raise DataError(f"duplicate LLM column {llm!r}", source=str(path), row=1, row_kind="line")
    position = {q: i for i, q in enumerate(query_ids)}
    cells = np.full((len(query_ids), len(llm_ids)), np.nan)
    found: dict[str, int] = {}
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{len(row)} fields, expected {len(header)}", source=str(path), row=line, row_kind="line")
        qid = row[0]
        if qid not in position:
            raise DataError(
                f"unknown query_id {qid!r}: not in queries.csv",
                source=str(path),
                row=line,
                row_kind="line",
                field="query_id",
            )
        if qid in found:
            raise DataError(
                f"duplicate query_id {qid!r} (first on line {found[qid]})",
                source=str(path),
                row=line,
                row_kind="line",
                field="query_id",
            )
        found[qid] = line
        i = position[qid]
        for j, text in enumerate(row[1:]):
            if text.strip():
                value = parse(text)
                if value is None:
                    raise DataError(
                        f"expected {expected} or an empty cell, got {text!r}",
                        source=str(path),
                        row=line,
                        row_kind="line",
                        field=llm_ids[j],
                    )
                cells[i, j] = value
    absent = [q for q in query_ids if q not in found]
    if absent:
        raise DataError(
            f"{len(absent)} query id(s) of queries.csv have no row (first: {absent[0]!r}); "
            "an LLM without a result has an empty cell, not a missing row",
            source=str(path),
        )
    return llm_ids, cells, [found[q] for q in query_ids]


def _score(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value in (0.0, 1.0) else None


def _length(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 and value == int(value) else None


def _first_difference(got: tuple[str, ...], expected: tuple[str, ...]) -> str:
    for k, (a, b) in enumerate(zip(got, expected, strict=False)):
        if a != b:
            return f"column {k + 2} is {a!r}, expected {b!r}"
    return f"{len(got)} LLM columns, expected {len(expected)}"
