"""The ZeroEval loader on small files written here in its format; the bundled catalog on the real header.

Only the last test reads the shared data (the header line of ``zeroeval/scores.csv``).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from irtrouter.data import load_benchmark
from irtrouter.data.benchmarks import bundled_catalog, detect_benchmark
from irtrouter.data.results import normalise_text
from irtrouter.data.zeroeval import agreeing_llm_pairs, read_zeroeval, read_zeroeval_results
from irtrouter.errors import DataError
from irtrouter.evaluate.protocol import benchmark_settings

CATALOG_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "zeroeval_catalog.py"
# Real ZeroEval column names (the bundled catalog knows them). Roles in the files below:
STRONG, WEAK = "gpt-4o-2024-08-06", "gemma-2-2b-it"
NO_MATH = "claude-3-sonnet-20240229"  # never ran math-l5: a hole, not zeros
COPY_A, COPY_B = "Llama-3.1-405B-Inst@hyperbolic", "Llama-3.1-405B-Inst@sambanova"  # identical scores
LLMS = (STRONG, WEAK, NO_MATH, COPY_A, COPY_B)
TASKS = {"crux": 30, "gsm8k": 40, "math-l5": 30}


def write_zeroeval(root: Path, seed: int = 0) -> dict[str, dict[str, tuple[str, str]]]:
    """A small ZeroEval directory; returns {query_id: {llm: (score, length)}} as written."""
    rng = np.random.default_rng(seed)
    queries, cells = [], {}
    for task, n in TASKS.items():
        for k in range(n):
            qid = f"{task}-#{k}"
            # Multi-line prompts with commas and quotes, as in the real file.
            queries.append([qid, task, f'Question {k} of {task}, "quoted":\nline two {k}', str(k)])
            strong, weak = int(rng.random() < 0.8), int(rng.random() < 0.3)
            copy = int(rng.random() < 0.6)
            row = {
                STRONG: (str(strong), str(int(rng.integers(100, 2000)))),
                WEAK: (str(weak), str(int(rng.integers(100, 2000)))),
                NO_MATH: ("", "") if task == "math-l5" else (str(int(rng.random() < 0.5)), "400"),
                COPY_A: (str(copy), "800"),
                COPY_B: (str(copy), "804"),
            }
            cells[qid] = row
    # The same text under two ids: the split must not put one in train and the other in test.
    queries.append(["gsm8k-#dup", "gsm8k", "  " + queries[0][2].replace("\n", " \n "), "0"])
    cells["gsm8k-#dup"] = {m: ("1", "10") for m in LLMS}
    _write(root / "queries.csv", ["query_id", "task", "prompt", "reference_answer"], queries)
    for name, pick in (("scores.csv", 0), ("output_lengths.csv", 1)):
        rows = [[qid, *(cells[qid][m][pick] for m in LLMS)] for qid in cells]
        _write(root / name, ["query_id", *LLMS], rows)
    return cells


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _edit(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell of a one-line-per-record CSV file (``line`` counts the header as 1)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[line - 1][rows[0].index(column)] = value
    _write(path, rows[0], rows[1:])


@pytest.fixture
def zeroeval_dir(tmp_path):
    root = tmp_path / "zeroeval"
    root.mkdir()
    cells = write_zeroeval(root)
    return root, cells


def test_holes_stay_nan_and_are_reported_per_llm(zeroeval_dir):
    root, cells = zeroeval_dir
    bench = load_benchmark("zeroeval", root)
    assert bench.catalog.ids == bench.train.llm_ids == LLMS
    for part in (bench.train, bench.test):
        j = part.llm_ids.index(NO_MATH)
        is_math = np.array([t == "math-l5" for t in part.tasks])
        assert np.isnan(part.scores[is_math, j]).all() and np.isnan(part.output_tokens[is_math, j]).all()
        assert not np.isnan(part.scores[~is_math, j]).any()
        assert not np.isnan(np.delete(part.scores, j, axis=1)).any()
        # Every observed cell is what the file says.
        for i, qid in enumerate(part.query_ids):
            for m, (score, _) in cells[qid].items():
                got = part.scores[i, part.llm_ids.index(m)]
                assert (np.isnan(got) and score == "") or got == float(score)
    holes = next(n for n in bench.notes if "unobserved" in n)
    assert "30 of 500 cells are unobserved" in holes and f"{NO_MATH} (no math-l5)" in holes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_split_never_puts_a_train_text_in_test_and_is_seeded_per_task(zeroeval_dir, seed):
    root, _ = zeroeval_dir
    bench = load_benchmark("zeroeval", root, seed=seed)
    train_texts = {normalise_text(q) for q in bench.train.queries}
    assert not any(normalise_text(q) in train_texts for q in bench.test.queries)
    assert "dropped 1 queries whose text repeats an earlier one" in bench.notes[0]
    assert "gsm8k-#dup" not in bench.train.query_ids + bench.test.query_ids
    for task, n in TASKS.items():
        assert bench.test.tasks.count(task) == round(0.3 * n)
    again = load_benchmark("zeroeval", root, seed=seed)
    assert again.test.query_ids == bench.test.query_ids
    other = load_benchmark("zeroeval", root, seed=seed + 10)
    assert other.test.query_ids != bench.test.query_ids


def test_answer_lengths_become_modelled_output_tokens(zeroeval_dir):
    root, cells = zeroeval_dir
    bench = load_benchmark("zeroeval", root)
    part = bench.train
    for i, qid in enumerate(part.query_ids):
        for j, m in enumerate(part.llm_ids):
            length = cells[qid][m][1]
            got = part.output_tokens[i, j]
            assert np.isnan(got) if length == "" else got == int(length) / 4
    assert part.input_tokens is None and part.cost_usd is None
    assert bench.cost_source == "modelled"
    assert any("characters / 4" in n and "o1" in n for n in bench.notes)


def test_identical_columns_are_reported_as_near_duplicates_and_kept(zeroeval_dir):
    root, _ = zeroeval_dir
    data = read_zeroeval(root)
    assert [(p.llm_a, p.llm_b, p.agreement, p.n_shared) for p in data.near_duplicates] == [(COPY_A, COPY_B, 1.0, 100)]
    note = next(n for n in data.notes if n.startswith("near-duplicate"))
    assert f"{COPY_A} ~ {COPY_B} (100.0% of 100)" in note
    assert COPY_A in data.train.llm_ids and COPY_B in data.train.llm_ids
    # A lower threshold finds more pairs; min_shared counts only queries both LLMs have (NO_MATH: 71).
    results = read_zeroeval_results(root)
    assert len(agreeing_llm_pairs(results, threshold=0.0, min_shared=0)) == 10
    assert all(NO_MATH not in (p.llm_a, p.llm_b) for p in agreeing_llm_pairs(results, 0.0, min_shared=72))


def test_items_solved_by_every_llm_are_counted(zeroeval_dir):
    root, cells = zeroeval_dir
    note = next(n for n in read_zeroeval(root).notes if n.startswith("saturated"))
    for task in TASKS:
        # The repeated text (all 1s) is dropped before counting.
        rows = [r for q, r in cells.items() if q.startswith(f"{task}-#") and q != "gsm8k-#dup"]
        every = sum(all(s == "1" for s, _ in r.values() if s) for r in rows)
        none = sum(all(s == "0" for s, _ in r.values() if s) for r in rows)
        assert f"{task}: {every} solved by every LLM that ran them, {none} by none" in note


@pytest.mark.parametrize(
    ("file", "edit", "message", "row", "field"),
    [
        ("queries.csv", "drop prompt", "missing column(s) ['prompt']", 1, None),
        ("scores.csv", (3, STRONG, "2"), "expected 0 or 1 or an empty cell, got '2'", 3, STRONG),
        ("scores.csv", (4, WEAK, "0.5"), "expected 0 or 1 or an empty cell, got '0.5'", 4, WEAK),
        ("scores.csv", (5, "query_id", "crux-#999"), "unknown query_id 'crux-#999'", 5, "query_id"),
        ("output_lengths.csv", (2, STRONG, "-3"), "expected a whole number of characters >= 0", 2, STRONG),
        ("output_lengths.csv", (2, NO_MATH, ""), "a score but no length", 2, NO_MATH),
    ],
)
def test_malformed_files_name_the_file_the_line_and_the_field(zeroeval_dir, file, edit, message, row, field):
    root, _ = zeroeval_dir
    path = root / file
    if edit == "drop prompt":
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        _write(path, [c for c in rows[0] if c != "prompt"], [r[:2] + r[3:] for r in rows[1:]])
    else:
        _edit(path, *edit)
    with pytest.raises(DataError) as info:
        load_benchmark("zeroeval", root)
    err = info.value
    assert message in str(err)
    assert err.source == str(path) and err.row == row and err.field == field
    assert f"line {row}" in str(err) and file in str(err)


def test_detect_benchmark_finds_the_directory_only_when_all_three_files_are_there(zeroeval_dir):
    root, _ = zeroeval_dir
    assert detect_benchmark(root) == "zeroeval"
    (root / "output_lengths.csv").unlink()
    assert detect_benchmark(root) is None


def test_evaluation_keeps_the_llms_observed_on_every_test_query_and_holds_out_crux(zeroeval_dir):
    root, _ = zeroeval_dir
    bench = load_benchmark("zeroeval", root)
    by_split = {s.split: s for s in benchmark_settings(bench)}
    ident, ood = by_split["ID"], by_split["OOD"]
    # ID: NO_MATH has no math-l5 test query, so it is left out (and named); OOD (crux) keeps it.
    assert ident.test.llm_ids == ident.train.llm_ids == ident.catalog.ids == tuple(m for m in LLMS if m != NO_MATH)
    assert f"left out 1: {NO_MATH}" in ident.description
    assert ood.test.llm_ids == LLMS and set(ood.test.tasks) == {"crux"} and "crux" not in ood.train.tasks
    assert ood.test.n_queries == TASKS["crux"]
    for s in (ident, ood):
        assert not np.isnan(s.test.scores).any() and s.n_incomplete == 0


def test_catalog_script_prices_every_llm_from_the_table_and_labels_proxies():
    spec = importlib.util.spec_from_file_location("zeroeval_catalog", CATALOG_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keys = sorted({e.key for e in module.LLMS})
    table = {
        k: {"input_cost_per_token": (n + 1) * 1e-7, "output_cost_per_token": (n + 1) * 2e-7} for n, k in enumerate(keys)
    }
    catalog = module.build_catalog(table, "0" * 64)
    for e, rec in zip(module.LLMS, catalog["llms"], strict=True):
        n = keys.index(e.key) + 1
        assert (
            rec["llm_id"] == e.llm_id
            and rec["input_price"] == round(n * 0.1, 6)
            and rec["output_price"] == round(n * 0.2, 6)
        )
        source = catalog["_price_sources"][e.llm_id]
        assert source == (f"proxy: {e.key} ({e.proxy})" if e.proxy else f"litellm: {e.key}")
    # Capabilities come from the LLM's own key only; a proxy's stay unknown.
    direct = next(e for e in module.LLMS if not e.proxy)
    proxied = next(e for e in module.LLMS if e.proxy)
    for e in (direct, proxied):
        table[e.key].update(supports_function_calling=True, max_input_tokens=128000, cache_read_input_token_cost=5e-8)
    by_id = {r["llm_id"]: r for r in module.build_catalog(table, "0" * 64)["llms"]}
    assert by_id[direct.llm_id]["supports_tools"] is True and by_id[direct.llm_id]["context_window"] == 128000
    assert by_id[direct.llm_id]["cache_read_price"] == 0.05
    assert not {"supports_tools", "context_window", "cache_read_price"} & set(by_id[proxied.llm_id])
    del table[module.LLMS[0].key]
    with pytest.raises(SystemExit, match="litellm has no key"):
        module.build_catalog(table, "0" * 64)


@pytest.mark.integration
def test_bundled_catalog_lists_every_llm_of_the_real_file_with_its_price_source(shared_data):
    with (shared_data / "zeroeval" / "scores.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    llms = tuple(header[1:])
    catalog = bundled_catalog("zeroeval")
    assert len(llms) == 53 and catalog.ids == llms
    raw = json.loads((Path(__file__).resolve().parents[2] / "src/irtrouter/data/catalogs/zeroeval.json").read_text())
    sources = raw["_price_sources"]
    assert tuple(sources) == llms
    assert all(s.startswith(("litellm: ", "proxy: ")) for s in sources.values())
    assert all(catalog[m].profile_text != m and catalog[m].output_price > 0 for m in llms)
    for m in ("Athene-70B", "reka-core-20240501", "Yi-1.5-9B-Chat", "gemma-2-2b-it", "Phi-3-mini-4k-instruct"):
        assert sources[m].startswith("proxy: ")
