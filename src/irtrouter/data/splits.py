"""Seeded splits of a :class:`ResultsMatrix`: in-distribution, out-of-distribution, held-out LLMs.

In-distribution (IRT-Router section 5.1): every task is split 70/30 on its own, so each task is
represented in train and test in proportion. Out-of-distribution: whole tasks are held out.
Held-out LLMs: columns set aside to test how a router takes in an LLM it was not trained on.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from irtrouter.data.results import ResultsMatrix, normalise_text
from irtrouter.errors import DataError


def split_in_distribution(
    results: ResultsMatrix, test_size: float = 0.3, seed: int = 0
) -> tuple[ResultsMatrix, ResultsMatrix]:
    """Split each task's queries ``1 - test_size`` / ``test_size`` at random (seeded).

    A task with a single query goes to train. Queries keep their original order within each side.

    Examples
    --------
    >>> train, test = split_in_distribution(results, test_size=0.3, seed=0)  # doctest: +SKIP
    """
    is_test = _test_mask(results, test_size, seed)
    return (
        results.take(~is_test, source=f"{results.source} [ID train]"),
        results.take(is_test, source=f"{results.source} [ID test]"),
    )


def split_out_of_distribution(results: ResultsMatrix, test_tasks: Iterable[str]) -> tuple[ResultsMatrix, ResultsMatrix]:
    """Hold out every query of ``test_tasks``; train on the rest."""
    held = set(test_tasks)
    unknown = held - set(results.tasks)
    if unknown:
        raise DataError(f"unknown task(s) {sorted(unknown)}; tasks are {results.task_names()}", source=results.source)
    is_test = np.array([t in held for t in results.tasks], dtype=bool)
    if is_test.all():
        raise DataError("holding out every task leaves nothing to train on", source=results.source)
    return (
        results.take(~is_test, source=f"{results.source} [OOD train]"),
        results.take(is_test, source=f"{results.source} [OOD test: {', '.join(sorted(held))}]"),
    )


def split_llms(results: ResultsMatrix, held_out: Iterable[str]) -> tuple[ResultsMatrix, ResultsMatrix]:
    """Set LLM columns aside: (results without ``held_out``, results of ``held_out`` only)."""
    held = list(held_out)
    kept = [m for m in results.llm_ids if m not in set(held)]
    if not kept:
        raise DataError("holding out every LLM leaves nothing to train on", source=results.source)
    return results.select_llms(kept), results.select_llms(held)


def validation_blocks(results: ResultsMatrix, fraction: float, seed: int, n_blocks: int) -> list[np.ndarray]:
    """``n_blocks`` disjoint sets of row positions, each a ``fraction`` of every task (in original
    order), for cross-fitting: block 0 is :func:`validation_rows`'s validation rows, each next
    block the next ``fraction`` of the same per-task permutation. Needs ``n_blocks * fraction <= 1``;
    a task too small for a block's share leaves that block without it."""
    if n_blocks < 1 or n_blocks * fraction > 1 + 1e-9:
        raise DataError(f"{n_blocks} blocks of {fraction:.0%} each do not fit in the training queries")
    block = _block_of(results, fraction, seed, n_blocks)
    return [np.flatnonzero(block == b) for b in range(n_blocks)]


def _test_mask(results: ResultsMatrix, test_size: float, seed: int) -> np.ndarray:
    """Which queries :func:`split_in_distribution` sends to test."""
    return _block_of(results, test_size, seed, 1) == 0


def _block_of(results: ResultsMatrix, size: float, seed: int, n_blocks: int) -> np.ndarray:
    """Per query, the block (0 to ``n_blocks - 1``) it is held out in, -1 where none: per task, the
    first ``n`` of a seeded permutation make block 0, the next ``n`` block 1, and so on (``n`` a
    ``size`` of the task, at least 1 and at most all but one; blocks past the task's end get fewer
    or none; a one-query task is in none)."""
    if not 0 < size < 1:
        raise DataError(f"test_size must be in (0, 1), got {size}")
    rng = np.random.default_rng(seed)
    tasks = np.asarray(results.tasks, dtype=object)
    block = np.full(results.n_queries, -1, dtype=np.int64)
    for task in results.task_names():
        members = np.flatnonzero(tasks == task)
        n_test = min(max(round(len(members) * size), 1), len(members) - 1) if len(members) > 1 else 0
        order = rng.permutation(members)
        for b in range(n_blocks):
            block[order[b * n_test : (b + 1) * n_test]] = b
    return block


def validation_rows(results: ResultsMatrix, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(fit, validation)`` of :func:`validation_split`, in their original order, for
    callers that keep arrays aligned with ``results`` (embeddings, relevance vectors)."""
    is_val = _test_mask(results, fraction, seed)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def validation_split(
    results: ResultsMatrix, fraction: float = 0.1, seed: int = 0
) -> tuple[ResultsMatrix, ResultsMatrix]:
    """A per-task split of the *training* data for early stopping and tuning (never the test set)."""
    return split_in_distribution(results, test_size=fraction, seed=seed)


def drop_seen_queries(test: ResultsMatrix, train: ResultsMatrix) -> tuple[ResultsMatrix, int]:
    """``test`` without the queries whose (whitespace-folded) text appears in ``train``.

    A router that memorises looks good on such leaked items, so they never count as unseen.
    Returns the cleaned test set and how many queries were dropped.
    """
    seen = {normalise_text(q) for q in train.queries}
    keep = np.array([normalise_text(q) not in seen for q in test.queries], dtype=bool)
    return test.take(keep), int((~keep).sum())
