import json

import pandas as pd
import pytest

from irtrouter.data.readers import read_results
from irtrouter.errors import DataError

ROWS = [
    {"query_id": "q1", "query": "2+2?", "llm_id": "a", "score": 1, "task": "math"},
    {"query_id": "q1", "query": "2+2?", "llm_id": "b", "score": 0, "task": "math"},
    {"query_id": "q2", "query": "Capital of Peru?", "llm_id": "a", "score": 0.5, "task": "geo"},
]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_every_format_reads_the_same(tmp_path, suffix):
    path = tmp_path / f"results{suffix}"
    df = pd.DataFrame(ROWS)
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS))
    else:
        df.to_parquet(path)
    res = read_results(path)
    assert res.query_ids == ("q1", "q2") and res.llm_ids == ("a", "b")
    assert res.scores[1, 0] == 0.5


def test_csv_errors_name_the_file_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("query_id,query,llm_id,score\nq1,hi,a,1\nq1,hi,b,nan\n")
    with pytest.raises(DataError, match=r"r.csv, line 3, field 'score': missing score"):
        read_results(path)


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n{broken\n")
    with pytest.raises(DataError, match=r"r.jsonl, line 3: not valid JSON"):
        read_results(path)


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_results(tmp_path / "nope.csv")
    other = tmp_path / "r.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        read_results(other)


def test_read_results_maps_columns_drops_extras_and_reads_other_encodings(tmp_path):
    """Issue 14: --columns / --ignore-extra-columns / --encoding / --delimiter, as the library has them."""
    from irtrouter.data.readers import parse_column_map

    path = tmp_path / "theirs.csv"
    path.write_bytes("prompt;model;correct;note\ncafé au lait;a;1;x\ncafé au lait;b;0;y\n".encode("cp1252"))
    mapping = parse_column_map("query=prompt, llm_id=model,score=correct")
    results = read_results(path, encoding="cp1252", delimiter=";", columns=mapping, ignore_extra_columns=True)
    assert list(results.queries) == ["café au lait"] and set(results.llm_ids) == {"a", "b"}
    with pytest.raises(DataError, match=r"line 2: not valid utf-8 at byte 29 of the file \(0xe9\)"):
        read_results(path, delimiter=";", columns=mapping)
    with pytest.raises(DataError, match=r"unknown column\(s\) \['note'\].*--ignore-extra-columns"):
        read_results(path, encoding="cp1252", delimiter=";", columns=mapping)
    with pytest.raises(DataError, match=r"only one column found .* semicolon-separated"):
        read_results(path, encoding="cp1252")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        read_results(path, encoding="klingon")


@pytest.mark.parametrize(
    ("raw", "reason", "line"),
    [
        (b'{"a":\n "\xff"}', "invalid UTF-8 at byte 8 (0xff)", 2),
        (b"[1,\n\n" + b"9" * 5000 + b"]", "an integer too large to read (5000 digits", 3),
        (b"[" * 100_000, "nested too deeply", None),
        (b'{"a": }', "Expecting value at column 7", 1),
    ],
)
def test_each_json_failure_has_its_own_reason(raw, reason, line):
    from irtrouter.data.jsontext import json_error_reason

    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        got, got_line = json_error_reason(exc, raw)
    assert got.startswith(reason) and got_line == line, got
