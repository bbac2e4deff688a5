"""The evaluation protocol: which queries train a router and which score it (IRT-Router section 5.1).

In-distribution (ID)
    The benchmark's published train/test split, or its seeded per-task 70/30 split where it has
    none (:func:`irtrouter.data.load_benchmark` makes it).
Out-of-distribution (OOD)
    Whole tasks the router never saw in training. RouterDC ships OOD sets (MATH-prealgebra, MBPP,
    C-Eval, ARC-Easy, JavaScript). Elsewhere the tasks in :data:`DEFAULT_OOD_TASKS` are held out:
    every query of them (train and test files) is a test query, and the router trains on the
    train split of the other tasks. For LLMRouter these are the three tasks the IRT-Router paper
    also uses as OOD sets (CommonsenseQA, GSM8K, HumanEval). RouterBench and ZeroEval hold out the
    one task unlike the others: MBPP (code) beside two multiple-choice tasks, and CRUX (predicting
    a Python function's output) beside two maths tasks. CRUX is also the task that 48 of ZeroEval's
    53 LLMs ran, all in full, so its OOD setting keeps those 48. Holding out math-l5 instead would
    keep 38: Llama-3.1-405B@hyperbolic lacks 15 of its items and Llama-3.1-70B@hyperbolic has nothing
    else to train on.

In both, a test query whose text (whitespace folded) appears in the training queries is an error
(:func:`assert_unseen`), and only test queries observed for every LLM are scored
(:meth:`~irtrouter.data.ResultsMatrix.complete`).

Pools whose holes are whole tasks (:data:`FULLY_OBSERVED_LLMS_ONLY`: ZeroEval, where 53 LLMs ran 1
to 3 tasks) have no test query that every LLM answered. There, a setting instead keeps the LLMs
observed on every one of its test queries (and on some training query), and its description names
the LLMs it leaves out. On ZeroEval's ID split these are the 27 LLMs of the dense block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from irtrouter.data.benchmarks import Benchmark, load_benchmark
from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix, normalise_text
from irtrouter.data.splits import split_out_of_distribution
from irtrouter.errors import ConfigError, DataError

DEFAULT_OOD_TASKS: dict[str, tuple[str, ...]] = {
    "llmrouter": ("commonsense_qa", "gsm8k", "human_eval"),
    "routerbench_subset": ("mbpp",),
    "routellm": ("gsm8k",),
    "zeroeval": ("crux",),
}
FULLY_OBSERVED_LLMS_ONLY = frozenset({"zeroeval"})


@dataclass(frozen=True)
class Setting:
    """One train/test pair that every router is scored on.

    Attributes
    ----------
    dataset : str
    split : {"ID", "OOD"}
    train : ResultsMatrix
    test : ResultsMatrix
        Only queries observed for every LLM; none of their texts is in ``train``.
    catalog : LLMCatalog
    description : str
        How the split was made, for the report.
    n_incomplete : int
        Test queries left out because some LLM's score is missing.
    """

    dataset: str
    split: str
    train: ResultsMatrix
    test: ResultsMatrix
    catalog: LLMCatalog
    description: str = ""
    n_incomplete: int = 0

    @property
    def name(self) -> str:
        return f"{self.dataset} {self.split}"


def assert_unseen(train: ResultsMatrix, test: ResultsMatrix) -> None:
    """Raise :class:`DataError` if a test query's text also appears in the training queries."""
    seen = {normalise_text(q) for q in train.queries}
    leaked = [q for q in test.queries if normalise_text(q) in seen]
    if leaked:
        raise DataError(
            f"{len(leaked)} test queries also appear in the training data (first: {leaked[0][:80]!r}); "
            "drop them (irtrouter.data.drop_seen_queries) before evaluating",
            source=test.source,
        )


def make_setting(
    dataset: str, split: str, train: ResultsMatrix, test: ResultsMatrix, catalog: LLMCatalog, description: str = ""
) -> Setting:
    """A :class:`Setting` from raw splits: checks for leaks and keeps complete test queries."""
    assert_unseen(train, test)
    complete = test.complete()
    if complete.n_queries == 0:
        raise DataError("no test query is observed for every LLM", source=test.source)
    if train.llm_ids != test.llm_ids:
        raise DataError(f"train and test LLMs differ: {train.llm_ids} vs {test.llm_ids}", source=test.source)
    return Setting(dataset, split, train, complete, catalog, description, test.n_queries - complete.n_queries)


def setting_from_ids(
    dataset: str,
    results: ResultsMatrix,
    catalog: LLMCatalog,
    train_ids: Sequence[str],
    test_ids: Sequence[str],
    split: str = "custom",
) -> Setting:
    """A :class:`Setting` of the user's own split: the queries ``train_ids`` train, ``test_ids`` score.

    Raises :class:`DataError` naming the first offending ids when a list is empty, repeats an id,
    names a query that is not in ``results`` or shares ids with the other list.

    Examples
    --------
    >>> setting = setting_from_ids("mine", results, catalog, ["q1", "q2"], ["q3"])  # doctest: +SKIP
    """
    position = {q: i for i, q in enumerate(results.query_ids)}
    picked = []
    for side, ids in (("train", list(train_ids)), ("test", list(test_ids))):
        if not ids:
            raise DataError(f"no {side} query ids given", source=results.source)
        if len(set(ids)) != len(ids):
            dup = next(q for i, q in enumerate(ids) if q in ids[:i])
            raise DataError(f"{side} query id {dup!r} is listed twice", source=results.source)
        unknown = [q for q in ids if q not in position]
        if unknown:
            raise DataError(
                f"{len(unknown)} {side} query id(s) not in the results (first: {', '.join(map(repr, unknown[:3]))})",
                source=results.source,
            )
        picked.append(ids)
    both = set(picked[0]) & set(picked[1])
    if both:
        first = next(q for q in picked[1] if q in both)
        raise DataError(f"{len(both)} query id(s) are in both train and test (first: {first!r})", source=results.source)
    train, test = (results.take(np.array([position[q] for q in ids], dtype=np.int64)) for ids in picked)
    description = f"given split: {len(picked[0])} train / {len(picked[1])} test query ids"
    return make_setting(dataset, split, train, test, catalog, description)


def benchmark_settings(
    bench: Benchmark, splits: Sequence[str] = ("ID", "OOD"), ood_tasks: Sequence[str] | None = None
) -> list[Setting]:
    """The ID and/or OOD settings of a loaded benchmark (see the module docstring).

    Examples
    --------
    >>> bench = load_benchmark("routerbench_subset", root)  # doctest: +SKIP
    >>> [s.name for s in benchmark_settings(bench)]  # doctest: +SKIP
    ['routerbench_subset ID', 'routerbench_subset OOD']
    """
    out = []
    for split in splits:
        if split == "ID":
            out.append(_bench_setting(bench, "ID", bench.train, bench.test, "; ".join(bench.notes)))
        elif split == "OOD":
            out.append(ood_setting(bench, ood_tasks))
        else:
            raise DataError(f"unknown split {split!r}; expected 'ID' or 'OOD'")
    return out


def named_setting(spec: str, root: str | Path | None = None) -> Setting:
    """The setting ``"dataset:split:seed"`` names (``"zeroeval:OOD:0"``, as the benchmarks name
    one): the ID or OOD setting of the benchmark loaded from ``root`` (default: the shared data's
    folder of that dataset) with that split seed."""
    parts = spec.split(":")
    if len(parts) != 3 or not parts[2].strip().isdigit():
        raise ConfigError(f"setting {spec!r}: expected dataset:split:seed, e.g. zeroeval:OOD:0")
    dataset, split, seed = parts
    (setting,) = benchmark_settings(load_benchmark(dataset, root, seed=int(seed)), (split,))
    return setting


def ood_setting(bench: Benchmark, ood_tasks: Sequence[str] | None = None) -> Setting:
    """Train on the train split without the held-out tasks; test on every query of those tasks."""
    if ood_tasks is None and bench.ood is not None:
        return _bench_setting(
            bench, "OOD", bench.train, bench.ood, f"published OOD sets: {', '.join(bench.ood.task_names())}"
        )
    tasks = tuple(ood_tasks) if ood_tasks is not None else DEFAULT_OOD_TASKS.get(bench.name)
    if not tasks:
        raise DataError(f"{bench.name} has no OOD set: name the tasks to hold out (known: {bench.train.task_names()})")
    train, held_train = split_out_of_distribution(bench.train, tasks)
    held = [held_train]
    in_test = [t for t in tasks if t in set(bench.test.tasks)]
    if in_test:
        held.append(split_out_of_distribution(bench.test, in_test)[1])
    test = ResultsMatrix.concat(held, source=f"{bench.name} held-out tasks") if len(held) > 1 else held_train
    return _bench_setting(
        bench,
        "OOD",
        train,
        test,
        f"held-out tasks {', '.join(tasks)} (all their queries); trained on the other tasks' train split",
    )


def fully_observed_llms(train: ResultsMatrix, test: ResultsMatrix) -> tuple[str, ...]:
    """The LLMs observed on every query of ``test`` and on at least one of ``train``, in order."""
    keep = test.observed.all(axis=0) & train.observed.any(axis=0)
    return tuple(test.llm_ids[j] for j in np.flatnonzero(keep))


def _bench_setting(
    bench: Benchmark, split: str, train: ResultsMatrix, test: ResultsMatrix, description: str
) -> Setting:
    """:func:`make_setting` for a benchmark, keeping only fully observed LLMs where its holes are whole tasks."""
    catalog = bench.catalog
    if bench.name in FULLY_OBSERVED_LLMS_ONLY:
        kept = fully_observed_llms(train, test)
        if not kept:
            raise DataError("no LLM is observed on every test query", source=test.source)
        left_out = [m for m in test.llm_ids if m not in set(kept)]
        train, test, catalog = train.select_llms(kept), test.select_llms(kept), catalog.subset(kept)
        lead = f"the {len(kept)} LLMs observed on every test query"
        if left_out:
            lead += f" (left out {len(left_out)}: {', '.join(left_out)})"
        description = f"{lead}; {description}"
    return make_setting(bench.name, split, train, test, catalog, description)


def subsample(setting: Setting, n_train: int | None, n_test: int | None, seed: int = 0) -> Setting:
    """A seeded random subset of a setting's train and test queries (quick runs)."""
    rng = np.random.default_rng(seed)

    def pick(results: ResultsMatrix, n: int | None) -> ResultsMatrix:
        if n is None or n >= results.n_queries:
            return results
        return results.take(np.sort(rng.choice(results.n_queries, size=n, replace=False)))

    return replace(setting, train=pick(setting.train, n_train), test=pick(setting.test, n_test))
