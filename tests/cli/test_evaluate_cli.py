"""``irtrouter evaluate``: a results file and a benchmark directory end to end, and its errors."""

import json

import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from tests.helpers import topic_catalog, topic_results


@pytest.fixture()
def results_file(tmp_path):
    frame = topic_results(n_per_topic=40, seed=5).to_frame()
    path = tmp_path / "results.csv"
    frame.to_csv(path, index=False)
    catalog = tmp_path / "llms.json"
    catalog.write_text(json.dumps(topic_catalog().to_records()))
    return path, catalog


def invoke(*args):
    return CliRunner().invoke(cli, ["evaluate", *map(str, args)])


def test_results_file_id_and_ood_with_tables_and_plots(results_file, tmp_path):
    path, catalog = results_file
    out = tmp_path / "eval"
    res = invoke(path, "--llms", catalog, "--quick", "--routers", "small-llm,large-llm,oracle,knn-tuned",
                 "--ood-tasks", "code", "--out", out, "--plots")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "#### results, ID: 36 test queries, Total Cost in MODELLED USD" in res.output
    assert "#### results, OOD: 40 test queries" in res.output
    assert "| knn-tuned |" in res.output
    for name in ("routing.csv", "report.json", "report.md", "pareto_results.png"):
        assert (out / name).stat().st_size > 0


def test_json_output_and_alphas(results_file):
    path, catalog = results_file
    res = invoke(path, "--llms", catalog, "--quick", "--split", "id", "--routers", "random,oracle", "--alpha", "0.7",
                 "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    tables = json.loads(res.output)["tables"]
    assert {(r["router"], r["alpha"]) for r in tables["routing"]} == {("random", 0.7), ("oracle", 0.7)}


def test_benchmark_directory(shared_data):
    res = invoke(shared_data / "routerbench_subset", "--quick", "--split", "id",
                 "--routers", "small-llm,large-llm,oracle", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    routing = json.loads(res.output)["tables"]["routing"]
    assert {r["cost_kind"] for r in routing} == {"real"}
    assert {r["llm"] for r in routing if r["router"] == "large-llm"} == {"gpt-4-1106-preview"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--routers", "small-llm,nope"], "unknown router 'nope'; known routers: "),
        (["--routers", "routerbench-knn:kk=1"], "router 'routerbench-knn' has no parameter(s) ['kk']"),
        (["--split", "ood"], "OOD on a results file needs --ood-tasks (tasks: math, code, history)"),
        (["--ood-tasks", "poetry", "--split", "ood"], "unknown task(s) ['poetry']"),
        (["--ablations", "everything"], "unknown ablation(s) ['everything']"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(results_file, args, message):
    path, catalog = results_file
    res = invoke(path, "--llms", catalog, "--quick", *args)
    assert res.exit_code == 1, res.output
    assert res.output.startswith("irtrouter: error: ")
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_list_routers_and_usage():
    res = invoke("--list-routers")
    assert res.exit_code == 0
    assert "knn-tuned" in res.output and "mirt-nowarmup" in res.output
    assert invoke().exit_code == 2


def test_the_documented_protocol_runs_five_seeds_by_default(results_file):
    path, catalog = results_file
    res = invoke(path, "--llms", catalog, "--embedder", "hashing:64", "--split", "id", "--routers",
                 "small-llm,random,knn-tuned")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "seeds 0, 1, 2, 3, 4" in res.output
    assert "Means over the seeds." in res.output and "APGR n/a: a two-LLM curve metric" in res.output
