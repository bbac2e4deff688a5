"""``irtrouter evaluate --seeds / --train-ids / --test-ids``: the user's split, spreads, one-line errors."""

import json

import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.data.results import ResultsMatrix
from tests.helpers import topic_catalog, topic_results


@pytest.fixture()
def own_split(tmp_path):
    train, test = topic_results(n_per_topic=30, seed=1), topic_results(n_per_topic=10, seed=2, prefix="t")
    path = tmp_path / "results.csv"
    ResultsMatrix.concat([train, test]).to_frame().to_csv(path, index=False)
    catalog = tmp_path / "llms.json"
    catalog.write_text(json.dumps(topic_catalog().to_records()))
    (tmp_path / "train.txt").write_text("\n".join(train.query_ids) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(test.query_ids) + "\n\n")
    return path, catalog, tmp_path, list(test.query_ids)


def invoke(*args):
    return CliRunner().invoke(cli, ["evaluate", *map(str, args)])


def test_own_split_over_seeds_prints_mean_spread_and_interval(own_split):
    path, catalog, tmp, test_ids = own_split
    res = invoke(path, "--llms", catalog, "--quick", "--routers", "small-llm,routerbench-mlp",
                 "--train-ids", tmp / "train.txt", "--test-ids", tmp / "test.txt", "--seeds", "0-2",
                 "--out", tmp / "out")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"#### results, custom: {len(test_ids)} test queries, seeds 0, 1, 2" in res.output
    assert "| routerbench-mlp |" in res.output and "| best-single |" in res.output
    assert " ± " in res.output and "vs best-single @0.8" in res.output
    for name in ("routing.csv", "per_seed.csv", "choices.csv"):
        assert (tmp / "out" / name).stat().st_size > 0


def test_json_has_one_summary_row_per_router_and_alpha_over_the_seeds(own_split):
    path, catalog, tmp, _ = own_split
    res = invoke(path, "--llms", catalog, "--quick", "--routers", "random", "--alpha", "0.7", "--seeds", "3,5",
                 "--train-ids", tmp / "train.txt", "--test-ids", tmp / "test.txt", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["meta"]["seeds"] == [3, 5]
    assert [(r["router"], r["alpha"], r["n_seeds"]) for r in out["tables"]["routing"]] == [
        ("random", 0.7, 2), ("best-single", 0.7, 2)]  # fmt: skip
    assert sorted({r["seed"] for r in out["tables"]["per_seed"]}) == [3, 5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "4-0"], "--seeds: range '4-0' runs backwards"),
        (["--seeds", "a-b"], "--seeds: expected N, N-M or a comma-separated list, got 'a-b'"),
        (["--seeds", "0-2,1"], "--seeds: expected distinct seeds"),
        (["--train-ids", "{tmp}/train.txt"], "--train-ids and --test-ids go together"),
        (["--train-ids", "{tmp}/train.txt", "--test-ids", "{tmp}/bad.txt"], "1 test query id(s) not in the results"),
        (["--train-ids", "{tmp}/train.txt", "--test-ids", "{tmp}/train.txt"], "are in both train and test"),
        (["--seeds", "0-1", "--ablations", "all"], "--ablations and --plots run on one seed"),
    ],
)
def test_bad_seeds_or_ids_are_one_line_and_exit_1(own_split, args, message):
    path, catalog, tmp, _ = own_split
    (tmp / "bad.txt").write_text("no-such-query\n")
    res = invoke(path, "--llms", catalog, "--quick", "--routers", "random", *(a.format(tmp=tmp) for a in args))
    assert res.exit_code == 1, res.output
    assert res.output.startswith("irtrouter: error: ")
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1
