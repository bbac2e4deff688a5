"""``irtrouter data export``: the scored log as long results that ``irtrouter train`` reads."""

import json

import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.data.readers import read_results
from tests.helpers import topic_catalog, topic_results
from tests.online.conftest import LoggedRequest, write_log


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_export_round_trips_into_train(tmp_path, suffix):
    truth = topic_results(n_per_topic=25, seed=3)
    requests = []
    for i, q in enumerate(truth.queries):
        for j in (i % 4, (i + 1) % 4):  # two LLMs answered each query, in separate requests
            m = truth.llm_ids[j]
            requests.append(LoggedRequest(q, m, m, [1 - truth.scores[i, j], truth.scores[i, j]]))  # last wins
    requests.append(LoggedRequest(None, "big", "big", [1.0]))  # no text: cannot be retrained on
    requests.append(LoggedRequest("never scored", "big", "big", []))
    url = write_log(tmp_path / "log.sqlite", requests)
    out = tmp_path / f"traffic.{suffix}"
    res = run("data", "export", "--db", url, "--out", out)
    assert res.exit_code == 0, res.output
    assert f"{2 * truth.n_queries} rows" in res.stdout and "1 scored requests without text skipped" in res.stdout

    got = read_results(out, catalog=topic_catalog())
    assert got.n_observed == 2 * truth.n_queries
    cells = {(q, m): got.scores[i, j] for i, q in enumerate(got.queries) for j, m in enumerate(got.llm_ids)
             if got.observed[i, j]}  # fmt: skip
    for i, q in enumerate(truth.queries):
        for j in (i % 4, (i + 1) % 4):
            assert cells[(q, truth.llm_ids[j])] == truth.scores[i, j]
    assert got.cost_usd is not None and got.output_tokens is not None

    (tmp_path / "llms.json").write_text(json.dumps(topic_catalog().to_records()))
    res = run("train", out, "--llms", tmp_path / "llms.json", "--out", tmp_path / "retrained", "--predictor", "2pl",
              "--embedder", "hashing:64")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "retrained" / "config.json").is_file()


def test_export_of_an_unscored_log_is_one_error_line(tmp_path):
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest("q", "big", "big", [])])
    res = run("data", "export", "--db", url, "--out", tmp_path / "x.parquet")
    assert res.exit_code == 1 and "no scored decision" in res.stderr and not (tmp_path / "x.parquet").exists()
    url = write_log(tmp_path / "scored.sqlite", [LoggedRequest("q", "big", "big", [1.0])])
    res = run("data", "export", "--db", url, "--out", tmp_path / "x.xlsx")
    assert res.exit_code == 1 and "expected a .parquet, .csv or .jsonl file" in res.stderr
