"""Loaders for the public routing benchmarks, each in its native on-disk format.

========================  =====================================================================
name                      what it reads (a directory)
========================  =====================================================================
``llmrouter``             ulab-uiuc/LLMRouter: ``dcrouter_{train,test}.json`` (scores),
                          ``queries_{train,test}.jsonl`` (task names), ``llm_candidates.json``
``routerbench_subset``    RouterBench rows as copied by RouterDC: ``<task>_{train,test}.csv``
                          with one score column and one ``<llm>|total_cost`` column per LLM
``routerdc_7llm``         shuhao02/RouterDC: ``<task>_train.json`` / ``<task>_test.json``
                          (in-distribution) and the other JSON files (out-of-distribution)
``routellm``              lm-sys/RouteLLM: ``mmlu/*.csv``, ``gsm8k/gsm8k_responses.csv``,
                          ``mt_bench/{question,judgements}.jsonl``, minus contaminated prompts
``zeroeval``              yuchenlin/ZeroEval: ``queries.csv``, ``scores.csv``, ``output_lengths.csv``
                          (read and checked in :mod:`irtrouter.data.zeroeval`)
========================  =====================================================================

Every loader returns a :class:`Benchmark` whose test split never holds a query whose text is
in its train split (LLMRouter's published test split repeats 119 of its 500 questions from
train: they are dropped, and the count is in ``notes``). Where a dataset carries no catalog, a
catalog shipped with irtrouter (``irtrouter/data/catalogs``) gives prices and profiles, and
``cost_source`` says whether evaluation costs are real USD or modelled from prices.

Loaders read whatever path they are given; nothing is downloaded.

(Over 450 lines: one short loader per native format, sharing the readers at the foot; a module per
benchmark would scatter those readers.)
"""

from __future__ import annotations

import ast
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from irtrouter.data.catalog import LLMCatalog, catalog_from_obj, load_catalog
from irtrouter.data.results import ResultsMatrix, normalise_text, query_id_for
from irtrouter.data.splits import drop_seen_queries, split_in_distribution
from irtrouter.data.zeroeval import read_zeroeval
from irtrouter.errors import DataError

log = logging.getLogger(__name__)

CostSource = Literal["real", "modelled"]
SHARED_DATA_ENV = "IRTROUTER_SHARED_DATA"


@dataclass(frozen=True)
class Benchmark:
    """A public dataset ready for training and evaluation.

    Attributes
    ----------
    name : str
    train, test : ResultsMatrix
        In-distribution splits (the published ones where the source has them).
    catalog : LLMCatalog
        Prices and profiles of exactly the LLMs in the results, in their column order.
    ood : ResultsMatrix or None
        Out-of-distribution queries, where the source defines them.
    cost_source : {"real", "modelled"}
        "real" when the results carry USD per query; "modelled" when costs come from prices and
        token estimates (:mod:`irtrouter.data.tokens`) and must be reported as such.
    notes : tuple of str
        What the loader did that a reader of the numbers should know.
    """

    name: str
    train: ResultsMatrix
    test: ResultsMatrix
    catalog: LLMCatalog
    ood: ResultsMatrix | None = None
    cost_source: CostSource = "modelled"
    notes: tuple[str, ...] = ()


def default_data_root() -> Path:
    """Where the shared datasets live: ``$IRTROUTER_SHARED_DATA``, else ``../shared/data``."""
    return Path(os.environ.get(SHARED_DATA_ENV, "../shared/data"))


def bundled_catalog(name: str) -> LLMCatalog:
    """A catalog shipped with irtrouter for a dataset that has none (``routerbench`` ...)."""
    ref = resources.files("irtrouter.data") / "catalogs" / f"{name}.json"
    return catalog_from_obj(json.loads(ref.read_text(encoding="utf-8")), f"irtrouter:catalogs/{name}.json")


# -- llmrouter ---------------------------------------------------------------------------------


def load_llmrouter(root: str | Path, seed: int = 0) -> Benchmark:
    """ulab-uiuc/LLMRouter: 9 LLMs, 14 tasks, a published train/test split, prices, profiles."""
    root = Path(root)
    tasks: dict[str, str] = {}
    metrics: dict[str, str] = {}
    for split in ("train", "test"):
        for rec in _read_jsonl(root / f"queries_{split}.jsonl"):
            key = normalise_text(rec["query"])
            tasks.setdefault(key, str(rec.get("task_name") or ""))
            metrics.setdefault(key, str(rec.get("metric") or ""))
    parts = {}
    for split in ("train", "test"):
        path = root / f"dcrouter_{split}.json"
        rows = _read_json_list(path)
        parts[split] = _from_question_scores(rows, path, task_of=lambda q: tasks.get(normalise_text(q), ""))
        meta = np.asarray([metrics.get(normalise_text(q), "") for q in parts[split].queries], dtype=object)
        parts[split] = replace(parts[split], query_meta={"metric": meta})
    catalog = load_catalog(root / "llm_candidates.json").subset(parts["train"].llm_ids)
    test, dropped = drop_seen_queries(parts["test"].select_llms(catalog.ids), parts["train"])
    return Benchmark(
        name="llmrouter",
        train=parts["train"],
        test=test,
        catalog=catalog,
        cost_source="modelled",
        notes=(
            f"dropped {dropped} test queries whose text appears in train "
            f"({test.n_queries} of {test.n_queries + dropped} remain)",
            "no per-query tokens: costs are modelled from prices and estimated tokens",
        ),
    )


# -- routerbench_subset -------------------------------------------------------------------------


def load_routerbench_subset(root: str | Path, seed: int = 0) -> Benchmark:
    """RouterBench rows (11 LLMs; ARC-Challenge, Winogrande, MBPP) with real USD per query."""
    import pandas as pd

    root = Path(root)
    catalog = bundled_catalog("routerbench")
    parts: dict[str, list[ResultsMatrix]] = {"train": [], "test": []}
    for split in ("train", "test"):
        files = sorted(root.glob(f"*_{split}.csv"))
        if not files:
            raise DataError(f"no *_{split}.csv files", source=str(root))
        for path in files:
            frame = pd.read_csv(path)
            missing = [c for c in ("prompt", "eval_name", *catalog.ids) if c not in frame.columns]
            if missing:
                raise DataError(f"missing column(s) {missing}", source=str(path))
            texts = frame["prompt"].astype(str).tolist()
            parts[split].append(
                ResultsMatrix(
                    query_ids=tuple(query_id_for(t) for t in texts),
                    queries=tuple(texts),
                    llm_ids=catalog.ids,
                    scores=frame[list(catalog.ids)].to_numpy(dtype=np.float64),
                    tasks=tuple(frame["eval_name"].astype(str)),
                    cost_usd=frame[[f"{m}|total_cost" for m in catalog.ids]].to_numpy(dtype=np.float64),
                    source=str(path),
                )
            )
    train = ResultsMatrix.concat(parts["train"], source=f"{root}/*_train.csv")
    test = ResultsMatrix.concat(parts["test"], source=f"{root}/*_test.csv")
    test, dropped = drop_seen_queries(test, train)
    holes = int((~train.observed).sum() + (~test.observed).sum())
    return Benchmark(
        name="routerbench_subset",
        train=train,
        test=test,
        catalog=catalog,
        cost_source="real",
        notes=(
            f"dropped {dropped} test queries whose text appears in train",
            f"{holes} score cells are missing (NaN) in the source: training masks them, evaluation "
            "scores only test queries observed for every LLM",
        ),
    )


# -- routerdc_7llm ------------------------------------------------------------------------------

_ROUTERDC_ID = ("mmlu", "gsm8k", "cmmlu", "arc_challenge", "humaneval")
_ROUTERDC_OOD = ("MATH_prealgebra", "mbpp", "ceval", "arc_easy_test", "javascript")


def load_routerdc_7llm(root: str | Path, seed: int = 0) -> Benchmark:
    """RouterDC's 7 small open LLMs; ID tasks with published splits, five OOD sets, no cost."""
    root = Path(root)
    catalog = bundled_catalog("routerdc_7llm")
    parts: dict[str, list[ResultsMatrix]] = {"train": [], "test": [], "ood": []}
    for task in _ROUTERDC_ID:
        for split in ("train", "test"):
            candidates = [root / f"{task}_{split}.json", root / f"{task}-{split}.json"]
            path = next((p for p in candidates if p.is_file()), candidates[0])
            rows = _read_json_list(path)
            parts[split].append(_from_question_scores(rows, path, task_of=_constant(task), llm_ids=catalog.ids))
    for name in _ROUTERDC_OOD:
        path = root / f"{name}.json"
        rows = _read_json_list(path)
        task = name.removesuffix("_test")
        parts["ood"].append(_from_question_scores(rows, path, task_of=_constant(task), llm_ids=catalog.ids))
    train = ResultsMatrix.concat(_dedupe(parts["train"]), source=f"{root} (ID train)")
    test, dropped = drop_seen_queries(ResultsMatrix.concat(_dedupe(parts["test"]), source=f"{root} (ID test)"), train)
    ood, dropped_ood = drop_seen_queries(ResultsMatrix.concat(_dedupe(parts["ood"]), source=f"{root} (OOD)"), train)
    return Benchmark(
        name="routerdc_7llm",
        train=train,
        test=test,
        ood=ood,
        catalog=catalog,
        cost_source="modelled",
        notes=(
            f"dropped {dropped} ID test and {dropped_ood} OOD queries whose text appears in train",
            "no cost in the source: every LLM is priced alike, so routing is by predicted score",
            "OOD = MATH-prealgebra, MBPP, C-Eval, ARC-Easy (its test file), JavaScript",
        ),
    )


# -- routellm -----------------------------------------------------------------------------------


def load_routellm(root: str | Path, seed: int = 0) -> Benchmark:
    """RouteLLM's GPT-4 vs Mixtral results on MMLU, GSM8K and MT-Bench (no published split)."""
    import pandas as pd

    root = Path(root)
    catalog = bundled_catalog("routellm")
    strong, weak = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
    contaminated: set[str] = set()
    for sub in ("mmlu", "gsm8k", "mt_bench"):
        path = root / sub / "contaminated_prompts.jsonl"
        if path.is_file():
            contaminated |= {normalise_text(r["eval_prompt"]) for r in _read_jsonl(path)}

    texts: list[str] = []
    tasks: list[str] = []
    subjects: list[str] = []
    scores: list[list[float]] = []

    def add(text: str, task: str, subject: str, by_llm: dict[str, float]) -> None:
        if normalise_text(text) in contaminated:
            return
        texts.append(text)
        tasks.append(task)
        subjects.append(subject)
        scores.append([by_llm[m] for m in catalog.ids])

    mmlu_files = sorted((root / "mmlu").glob("mmlu_*.csv"))
    if not mmlu_files:
        raise DataError("no mmlu/mmlu_*.csv files", source=str(root))
    for path in [*mmlu_files, root / "gsm8k" / "gsm8k_responses.csv"]:
        frame = pd.read_csv(path)
        for col in ("prompt", strong, weak):
            if col not in frame.columns:
                raise DataError(f"missing column {col!r}", source=str(path))
        task = "gsm8k" if path.parent.name == "gsm8k" else "mmlu"
        subject = path.stem.removeprefix("mmlu_") if task == "mmlu" else "gsm8k"
        for prompt, s, w in zip(frame["prompt"], frame[strong], frame[weak], strict=True):
            add(str(prompt), task, subject, {strong: _as_bool_score(s, path), weak: _as_bool_score(w, path)})

    questions = {str(r["question_id"]): r for r in _read_jsonl(root / "mt_bench" / "question.jsonl")}
    judged: dict[str, dict[str, list[float]]] = {}
    for r in _read_jsonl(root / "mt_bench" / "judgements.jsonl"):
        score = float(r["score"])
        if not 1 <= score <= 10:
            raise DataError(f"judge score {score} outside 1..10", source=str(root / "mt_bench"), field="score")
        judged.setdefault(str(r["question_id"]), {}).setdefault(str(r["model"]), []).append((score - 1) / 9)
    for qid, by_model in judged.items():
        if set(by_model) != set(catalog.ids) or qid not in questions:
            continue
        turns = questions[qid]["turns"]
        turns = ast.literal_eval(turns) if isinstance(turns, str) else turns
        add(
            str(turns[0]),
            "mt_bench",
            str(questions[qid].get("category", "")),
            {m: float(np.mean(v)) for m, v in by_model.items()},
        )

    keep = _first_occurrences(texts, str(root))
    allq = ResultsMatrix(
        query_ids=tuple(query_id_for(texts[i]) for i in keep),
        queries=tuple(texts[i] for i in keep),
        llm_ids=catalog.ids,
        scores=np.asarray(scores, dtype=np.float64)[keep],
        tasks=tuple(tasks[i] for i in keep),
        source=str(root),
        query_meta={"subject": np.asarray(subjects, dtype=object)[keep]},
    )
    train, test = split_in_distribution(allq, test_size=0.3, seed=seed)
    return Benchmark(
        name="routellm",
        train=train,
        test=test,
        catalog=catalog,
        cost_source="modelled",
        notes=(
            f"{len(contaminated)} contaminated prompts listed by RouteLLM are dropped",
            f"no published split: a seeded per-task 70/30 split (seed {seed})",
            "MT-Bench judge scores 1..10 are mapped to (score - 1) / 9, averaged over the two turns",
            "no cost in the source: modelled from list prices and estimated tokens",
        ),
    )


# -- zeroeval -----------------------------------------------------------------------------------


def load_zeroeval(root: str | Path, seed: int = 0) -> Benchmark:
    """ZeroEval: 53 LLMs on CRUX, GSM8K and MATH level 5, with holes and answer lengths (no prices)."""
    data = read_zeroeval(root, seed=seed)
    catalog = bundled_catalog("zeroeval").subset(data.train.llm_ids)
    return Benchmark("zeroeval", data.train, data.test, catalog, cost_source="modelled", notes=data.notes)


BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    "llmrouter": load_llmrouter,
    "routerbench_subset": load_routerbench_subset,
    "routerdc_7llm": load_routerdc_7llm,
    "routellm": load_routellm,
    "zeroeval": load_zeroeval,
}


def load_benchmark(name: str, root: str | Path | None = None, seed: int = 0) -> Benchmark:
    """Load benchmark ``name`` from ``root`` (default: ``default_data_root() / name``).

    Examples
    --------
    >>> bench = load_benchmark("llmrouter", "../shared/data/llmrouter")  # doctest: +SKIP
    >>> bench.train.n_queries, bench.test.n_queries  # doctest: +SKIP
    (5608, 381)
    """
    if name not in BENCHMARKS:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    path = Path(root) if root is not None else default_data_root() / name
    if not path.is_dir():
        raise DataError(f"benchmark directory not found (set {SHARED_DATA_ENV} or pass a path)", source=str(path))
    return BENCHMARKS[name](path, seed=seed)


def detect_benchmark(path: str | Path) -> str | None:
    """The native format of directory ``path``, or None when it is not one we know."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / "dcrouter_train.json").is_file():
        return "llmrouter"
    if (path / "mmlu").is_dir() and (path / "gsm8k").is_dir():
        return "routellm"
    if all((path / f).is_file() for f in ("queries.csv", "scores.csv", "output_lengths.csv")):
        return "zeroeval"
    if list(path.glob("*_train.csv")):
        return "routerbench_subset"
    if list(path.glob("*_train.json")) or list(path.glob("*-train.json")):
        return "routerdc_7llm"
    return None


# -- helpers ------------------------------------------------------------------------------------


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc.msg} (line {exc.lineno})", source=str(path)) from None
    if not isinstance(rows, list):
        raise DataError("expected a JSON list", source=str(path))
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise DataError(
                            f"not valid JSON: {exc.msg}", source=str(path), row=lineno, row_kind="line"
                        ) from None
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None
    return out


def _from_question_scores(
    rows: list[dict[str, Any]],
    path: Path,
    task_of: Callable[[str], str],
    llm_ids: tuple[str, ...] | None = None,
) -> ResultsMatrix:
    """``[{question, scores: {llm: score}}]`` (LLMRouter and RouterDC) -> ResultsMatrix."""
    if not rows:
        raise DataError("no records", source=str(path))
    ids = llm_ids or tuple(rows[0].get("scores", {}))
    scores = np.full((len(rows), len(ids)), np.nan)
    texts = []
    for i, rec in enumerate(rows):
        q = rec.get("question")
        if not isinstance(q, str) or not q.strip():
            raise DataError("empty question", source=str(path), row=i + 1, row_kind="record", field="question")
        by_llm = rec.get("scores")
        if not isinstance(by_llm, dict):
            raise DataError(
                "expected an object of scores", source=str(path), row=i + 1, row_kind="record", field="scores"
            )
        unknown = set(by_llm) - set(ids)
        if unknown:
            raise DataError(
                f"unknown LLM(s) {sorted(unknown)}; expected {list(ids)}",
                source=str(path),
                row=i + 1,
                row_kind="record",
                field="scores",
            )
        for j, m in enumerate(ids):
            v = by_llm.get(m)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= float(v) <= 1:
                raise DataError(
                    f"score {v!r} for {m!r} is not a number in [0, 1]",
                    source=str(path),
                    row=i + 1,
                    row_kind="record",
                    field="scores",
                )
            scores[i, j] = float(v)
        texts.append(q)
    keep = _first_occurrences(texts, str(path))
    return ResultsMatrix(
        query_ids=tuple(query_id_for(texts[i]) for i in keep),
        queries=tuple(texts[i] for i in keep),
        llm_ids=ids,
        scores=scores[keep],
        tasks=tuple(task_of(texts[i]) for i in keep),
        source=str(path),
    )


def _constant(task: str) -> Callable[[str], str]:
    """A task_of function that gives every question the same task."""
    return lambda _question: task


def _first_occurrences(texts: list[str], source: str) -> list[int]:
    """Positions of the first record of each distinct text (sources repeat some questions)."""
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        first.setdefault(t, i)
    if len(first) < len(texts):
        log.info("%s: kept the first of %d repeated question text(s)", source, len(texts) - len(first))
    return sorted(first.values())


def _dedupe(parts: list[ResultsMatrix]) -> list[ResultsMatrix]:
    """Drop repeats of a query text within and across parts (the first one is kept)."""
    seen: set[str] = set()
    out = []
    for part in parts:
        keep = []
        for i, qid in enumerate(part.query_ids):
            if qid not in seen:
                seen.add(qid)
                keep.append(i)
        if len(keep) < part.n_queries:
            log.info("%s: dropped %d repeated query text(s)", part.source, part.n_queries - len(keep))
        out.append(part if len(keep) == part.n_queries else part.take(keep))
    return out


def _as_bool_score(value: Any, path: Path) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    text = str(value).strip().lower()
    if text in {"true", "1", "1.0"}:
        return 1.0
    if text in {"false", "0", "0.0"}:
        return 0.0
    raise DataError(f"expected True/False, got {value!r}", source=str(path))
