"""Issue 14, defect 7: what the CLI reads, broken in each way a user meets, is one line and exit 1.

Saved routers truncated or corrupted, JSON that fails for different reasons, CSVs in another
encoding or with another delimiter, results files with columns named differently: each gets one
``irtrouter: error:`` line naming the file and what is wrong (and the option that fixes it).
"""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from tests.helpers import topic_catalog, topic_results


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-errors")
    topic_results(n_per_topic=10, seed=3).to_frame().to_csv(root / "results.csv", index=False)
    (root / "llms.json").write_text(json.dumps(topic_catalog().to_records()))
    return root


@pytest.fixture(scope="module")
def router_dir(files):
    out = files / "router"
    args = ["train", str(files / "results.csv"), "--llms", str(files / "llms.json"), "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--embedder", "hashing:32", "--epochs", "3", "--predictor", "mirt"])
    assert res.exit_code == 0, res.output
    return out


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(res, *fragments):
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("irtrouter: error: "), res.stderr
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in lines[0], lines[0]


def _arrays(d):
    with np.load(d / "weights.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _rewrite(d, change):
    arrays = _arrays(d)
    change(arrays)
    np.savez(d / "weights.npz", **arrays)


def _flip_bytes(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


BROKEN = {
    "truncated": (lambda d: (d / "weights.npz").write_bytes((d / "weights.npz").read_bytes()[:900]),
                  ["weights.npz: truncated or corrupted .npz archive", "save the router again"]),
    "empty": (lambda d: (d / "weights.npz").write_bytes(b""), ["weights.npz: not an .npz archive: the file is empty"]),
    "not a zip": (lambda d: (d / "weights.npz").write_bytes(b"\x80\x04garbage" * 50),
                  ["weights.npz: not an .npz archive", "zip header"]),
    "damaged member": (lambda d: _flip_bytes(d / "weights.npz", 300), ["weights.npz: array", "is unreadable"]),
    "missing array": (lambda d: _rewrite(d, lambda a: a.pop("predictor.param.W_a")),
                      ["weights.npz does not fit config.json: missing 'W_a'"]),
    "wrong dtype": (lambda d: _rewrite(d, lambda a: a.update({"predictor.abilities": a["predictor.abilities"].astype("S")})),  # noqa: E501
                    ["weights.npz: array 'predictor.abilities' has dtype |S", "expected numbers"]),
    "wrong shape": (lambda d: _rewrite(d, lambda a: a.update({"predictor.param.W_a": a["predictor.param.W_a"][:, :5]})),
                    ["weights.npz does not fit config.json", "ValueError"]),
    "fewer LLMs": (lambda d: _rewrite(d, lambda a: a.update({"cost.output_price": a["cost.output_price"][:2]})),
                   ["weights.npz does not fit config.json"]),
    "config not JSON": (lambda d: (d / "config.json").write_text('{"format": "irtrouter.router", '),
                        ["config.json: not valid JSON (line 1): Expecting property name"]),
    "config not UTF-8": (lambda d: (d / "config.json").write_bytes(b'{"format": "\xff"}'),
                         ["config.json: not valid JSON (line 1): invalid UTF-8 at byte 12 (0xff)"]),
    "config key missing": (lambda d: (d / "config.json").write_text(
        json.dumps({k: v for k, v in json.loads((d / "config.json").read_text()).items() if k != "embedder"})),
        ["config.json: missing 'embedder'"]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BROKEN))
def test_route_on_a_broken_saved_router_is_one_line(router_dir, tmp_path, name):
    """These were tracebacks (or, for a wrong shape, a failure on the first query, a 500 in serve)."""
    broken = tmp_path / "router"
    shutil.copytree(router_dir, broken)
    breaks, fragments = BROKEN[name]
    breaks(broken)
    one_error_line(run("route", broken, "integral of x"), *fragments)


def test_the_console_script_reports_a_truncated_router_without_a_traceback(router_dir, tmp_path):
    broken = tmp_path / "router"
    shutil.copytree(router_dir, broken)
    (broken / "weights.npz").write_bytes((broken / "weights.npz").read_bytes()[:500])
    done = subprocess.run(["irtrouter", "route", str(broken), "integral of x"], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "weights.npz: truncated" in done.stderr


def _jsonl(tmp_path, name, tail: bytes):
    good = topic_results(n_per_topic=2, seed=1).to_frame().to_dict("records")
    path = tmp_path / name
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in good[:3]) + tail)
    return path, sum(len(json.dumps(r)) + 1 for r in good[:3])


def test_json_failures_each_get_their_own_reason_and_line(files, tmp_path):
    """Invalid UTF-8 and a 5,000-digit integer were both reported as "nested too deeply"."""
    path, offset = _jsonl(tmp_path, "utf8.jsonl", b'{"query": "caf\xe9"}\n')
    one_error_line(
        run("data", "check", path, "--llms", files / "llms.json"),
        "utf8.jsonl, line 4: not valid utf-8",
        f"at byte {offset + 14} of the file (0xe9)",
        "--encoding",
    )
    path, _ = _jsonl(tmp_path, "big.jsonl", b'{"score": ' + b"7" * 5000 + b"}\n")
    one_error_line(
        run("data", "check", path, "--llms", files / "llms.json"),
        "big.jsonl, line 4: not valid JSON: an integer too large to read (5000 digits",
        "int max str digits",
    )
    path, _ = _jsonl(tmp_path, "deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n")
    one_error_line(run("data", "check", path, "--llms", files / "llms.json"), "deep.jsonl", "nested too deeply")
    listed = tmp_path / "big.json"
    listed.write_text('[\n{"query": "a", "llm_id": "big",\n "score": ' + "1" * 5000 + "}\n]")
    one_error_line(run("data", "check", listed, "--llms", files / "llms.json"), "big.json, line 3:", "5000 digits")


def test_a_csv_in_another_encoding_names_its_line_and_byte_and_the_option(files, tmp_path):
    frame = pd.read_csv(files / "results.csv")
    frame["query"] = frame["query"] + " café"
    path = tmp_path / "cp1252.csv"
    frame.to_csv(path, index=False, encoding="cp1252")
    byte = path.read_bytes().index(b"\xe9")
    one_error_line(
        run("data", "check", path, "--llms", files / "llms.json"),
        "cp1252.csv, line 2: not valid utf-8",
        f"at byte {byte} of the file (0xe9)",
        "--encoding cp1252",
    )
    res = run("data", "check", path, "--llms", files / "llms.json", "--encoding", "cp1252", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["queries"] == 30


@pytest.mark.parametrize(("sep", "named", "option"), [(";", "semicolon", "';'"), ("\t", "tab", "tab")])
def test_a_wrong_delimiter_gets_a_hint_and_the_option_reads_it(files, tmp_path, sep, named, option):
    path = tmp_path / "other.csv"
    pd.read_csv(files / "results.csv").to_csv(path, index=False, sep=sep)
    one_error_line(
        run("data", "check", path, "--llms", files / "llms.json"),
        "other.csv, line 1: only one column found",
        f"looks {named}-separated: pass --delimiter {option}",
    )
    res = run("data", "check", path, "--llms", files / "llms.json", "--delimiter", option.strip("'"), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["llms"] == 4


def test_columns_are_mapped_and_extra_ones_refused_unless_ignored(files, tmp_path):
    frame = pd.read_csv(files / "results.csv").rename(columns={"query": "prompt", "llm_id": "model_name"})
    frame["latency_ms"] = 12.5
    path = tmp_path / "theirs.csv"
    frame.to_csv(path, index=False)
    llms = ["--llms", files / "llms.json"]
    one_error_line(
        run("data", "check", path, *llms),
        "theirs.csv: unknown column(s) ['prompt', 'model_name', 'latency_ms']",
        "--columns query=prompt",
    )
    mapped = ["--columns", "query=prompt,llm_id=model_name"]
    one_error_line(run("data", "check", path, *llms, *mapped), "['latency_ms']", "--ignore-extra-columns")
    res = run("data", "check", path, *llms, *mapped, "--ignore-extra-columns", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["queries"] == 30
    one_error_line(run("data", "check", path, *llms, "--columns", "llm=model_name"), "'llm' is not one of our columns")
    one_error_line(
        run("data", "check", path, *llms, "--columns", "query=question"), "maps 'query' to 'question', but there is no"
    )
    out = tmp_path / "r"
    train = ["train", path, *llms, "--out", out, "--embedder", "hashing:32", "--epochs", "2", "--predictor", "mirt"]
    one_error_line(run(*train), "unknown column(s)")
    res = run(*train, *mapped, "--ignore-extra-columns")
    assert res.exit_code == 0, res.output
    assert (out / "weights.npz").is_file()
    # evaluate reads results through the same options
    one_error_line(run("evaluate", path, *llms, *mapped), "['latency_ms']", "--ignore-extra-columns")
