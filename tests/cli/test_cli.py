"""The CLI: every bad input gets one clear line and a non-zero exit; nothing stored is lost."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from tests.helpers import topic_catalog, topic_results


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    results = topic_results(n_per_topic=40, seed=3)
    results.to_frame().to_csv(root / "results.csv", index=False)
    (root / "llms.json").write_text(json.dumps(topic_catalog().to_records()))
    return root


@pytest.fixture(scope="module")
def router_dir(files):
    out = files / "router"
    res = CliRunner().invoke(
        cli,
        [
            "train",
            str(files / "results.csv"),
            "--llms",
            str(files / "llms.json"),
            "--out",
            str(out),
            "--embedder",
            "hashing:64",
            "--epochs",
            "30",
            "--predictor",
            "mirt",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "trained mirt on 120 queries x 4 LLMs" in res.stdout
    return out


def test_the_training_summary_records_wall_time_per_stage(router_dir):
    training = json.loads((router_dir / "config.json").read_text())["training"]
    stages = training["stage_seconds"]
    assert list(stages) == ["embed", "fit", "finish"]  # MIRT alone: no relevance vectors, no validated choice
    assert all(seconds >= 0 for seconds in stages.values())
    assert stages["embed"] == pytest.approx(training["embed_seconds"], abs=2e-3)
    assert stages["fit"] >= training["train_seconds"] - 2e-3  # the fit stage holds the epochs


def run(*args, stdin=None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def one_error_line(res, *fragments, code=1):
    assert res.exit_code == code, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("irtrouter: error: "), res.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def write_csv(tmp_path, rows):
    path = tmp_path / "bad.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


GOOD = [
    {"query_id": "q1", "query": "what is 2+2", "llm_id": "big", "score": 1.0},
    {"query_id": "q1", "query": "what is 2+2", "llm_id": "weak-small", "score": 0.0},
]


def test_route_prints_every_llm_and_difficulty(router_dir):
    res = run("route", str(router_dir), "solve the integral equation", "--alpha", "0.5")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("-> ") and "difficulty=" in res.stdout
    for m in ("math-small", "code-small", "weak-small", "big"):
        assert m in res.stdout
    body = json.loads(run("route", str(router_dir), "python loop", "--json").stdout)
    assert {row["llm_id"] for row in body["llms"]} == {"math-small", "code-small", "weak-small", "big"}
    assert body["alpha"] == 0.8 and "difficulty" in body
    assert json.loads(run("route", str(router_dir), "-", "--json", stdin="ancient war king").stdout)["llm_id"]
    only = json.loads(run("route", str(router_dir), "python loop", "--json", "--allow", "weak-small").stdout)
    assert only["llm_id"] == "weak-small"


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        ([{**GOOD[0], "score": float("nan")}, GOOD[1]], ["bad.csv, line 2, field 'score'", "missing score"]),
        ([{**GOOD[0], "score": 7}, GOOD[1]], ["line 2, field 'score'", "outside [0, 1]"]),
        ([GOOD[0], {**GOOD[1], "llm_id": "gpt-9"}], ["line 3, field 'llm_id'", "unknown LLM 'gpt-9'"]),
        ([GOOD[0], GOOD[0]], ["line 3", "duplicate row for query_id 'q1'"]),
        ([{**GOOD[0], "query": " "}, {**GOOD[1], "query": " "}], ["line 2, field 'query'", "empty"]),
    ],
)
def test_train_rejects_bad_rows_with_one_line(tmp_path, files, rows, fragments):
    res = run(
        "train",
        write_csv(tmp_path, rows),
        "--llms",
        str(files / "llms.json"),
        "--out",
        str(tmp_path / "r"),
        "--embedder",
        "hashing:64",
    )
    one_error_line(res, *fragments)
    assert not (tmp_path / "r").exists()


def test_train_errors(tmp_path, files, router_dir):
    one_error_line(
        run("train", str(tmp_path / "none.csv"), "--llms", str(files / "llms.json"), "--out", str(tmp_path / "r")),
        "no such file",
    )
    res = run("train", str(files / "results.csv"), "--out", str(tmp_path / "r"))
    assert res.exit_code == 2 and "needs --llms" in res.stderr
    bad_catalog = tmp_path / "llms.json"
    bad_catalog.write_text('[{"llm_id": "big", "input_price": -3, "output_price": 1}]')
    one_error_line(
        run("train", str(files / "results.csv"), "--llms", str(bad_catalog), "--out", str(tmp_path / "r")),
        "field 'input_price'",
    )
    one_error_line(
        run(
            "train",
            str(files / "results.csv"),
            "--llms",
            str(files / "llms.json"),
            "--out",
            str(tmp_path / "r"),
            "--embedder",
            "bert",
        ),
        "unknown embedder 'bert'",
    )
    one_error_line(
        run(
            "train",
            str(files / "results.csv"),
            "--llms",
            str(files / "llms.json"),
            "--out",
            str(tmp_path / "r"),
            "--predictor",
            "nirt",
            "--dims",
            "10",
            "--embedder",
            "hashing:64",
        ),
        "n_dims must be 25",
    )
    assert run("train", str(files / "results.csv"), "--predictor", "svm", "--out", "x").exit_code == 2


def test_train_never_overwrites_an_existing_router_without_force(files, router_dir):
    before = {p.name: p.read_bytes() for p in router_dir.iterdir()}
    res = run(
        "train",
        str(files / "results.csv"),
        "--llms",
        str(files / "llms.json"),
        "--out",
        str(router_dir),
        "--embedder",
        "hashing:64",
    )
    one_error_line(res, "exists and is not empty", "--force")
    assert {p.name: p.read_bytes() for p in router_dir.iterdir()} == before


def test_route_errors(tmp_path, router_dir):
    one_error_line(run("route", str(tmp_path), "hello"), "is not a saved router")
    one_error_line(run("route", str(router_dir), "   "), "the query is empty")
    one_error_line(run("route", str(router_dir), "hello", "--allow", "gpt-9"), "unknown LLM 'gpt-9'")
    one_error_line(run("route", str(router_dir), "hello", "--alpha", "1.5"), "alpha must be a number in [0, 1]")
    one_error_line(run("route", str(router_dir), "hello", "--alpha", "0", "--beta", "0"), "cannot both be 0")


def test_data_check(files, tmp_path):
    res = run("data", "check", str(files / "results.csv"), "--llms", str(files / "llms.json"), "--json")
    summary = json.loads(res.stdout)
    assert summary["queries"] == 120 and summary["llms"] == 4 and summary["missing_cells"] == 0
    one_error_line(
        run("data", "check", write_csv(tmp_path, [{**GOOD[0], "score": "high"}]), "--llms", str(files / "llms.json")),
        "expected a number in [0, 1], got 'high'",
    )
    (tmp_path / "not-a-benchmark").mkdir()
    one_error_line(
        run("data", "check", str(tmp_path / "not-a-benchmark")), "a directory, but not a benchmark irtrouter knows"
    )


def test_the_installed_console_script(router_dir):
    for module in ("irtrouter", "irtrouter.cli"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "Route each LLM query" in done.stdout, module
    done = subprocess.run(["irtrouter", "route", str(router_dir), "integral of x"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("-> ")
    done = subprocess.run(["irtrouter", "route", str(router_dir) + "-missing", "x"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.startswith("irtrouter: error: ")


def test_route_by_radars_rule_and_budget(router_dir):
    """--rule chebyshev routes as the library's Chebyshev rule; --budget calibrates the trade-off."""
    from irtrouter.routing import load_router

    router = load_router(router_dir)
    query = "integral of x squared"
    res = run("route", str(router_dir), query, "--rule", "chebyshev", "--alpha", "0.6", "--json")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["rule"] == "chebyshev"
    assert body["llm_id"] == router.route(query, alpha=0.6, rule="chebyshev").llm_id
    cap = float(router.calibrate_budget(10.0).mean_cost) * 0.99 + 1e-12
    res = run("route", str(router_dir), query, "--budget", str(cap), "--json")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["budget"] == cap and body["llm_id"] == router.route(query, budget=cap).llm_id
    one_error_line(run("route", str(router_dir), query, "--budget", "-1"), "budget cap must be a finite number >= 0")
    res = run("route", str(router_dir), query, "--rule", "pareto")
    assert res.exit_code == 2 and "pareto" in res.stderr
    res = run("route", str(router_dir), query, "--budget", "0.1", "--alpha", "0.5")
    assert res.exit_code == 2 and "--budget sets the trade-off itself" in res.stderr
    one_error_line(run("route", str(router_dir), query, "--rule", "policy"), "unknown routing rule 'policy'")


@pytest.mark.parametrize(
    "option, fragment",
    [
        (["--epochs", "0"], "max_epochs must be an integer >= 1, got 0"),
        (["--lr", "-1"], "learning_rate must be a finite number > 0, got -1.0"),
        (["--embedder", "hashing:0"], "hashing embedder dimension must be >= 8, got 0"),
    ],
)
def test_bad_training_settings_are_one_line(files, tmp_path, option, fragment):
    """Issue 14, defect 7: these were tracebacks."""
    args = ["train", str(files / "results.csv"), "--llms", str(files / "llms.json"), "--out", str(tmp_path / "r")]
    one_error_line(run(*args, "--predictor", "mirt", *option), fragment)


def test_route_into_a_closed_pipe_exits_quietly(router_dir):
    """`irtrouter route ... | head` printed 'Broken pipe' and exited 1. `true` closes the pipe at once,
    long before the command (a Python start, a router load) writes to it."""
    piped = subprocess.run(
        ["bash", "-c", f"set -o pipefail; irtrouter route {router_dir} 'integral of x' | true"],
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0 and "Broken pipe" not in piped.stderr, piped.stderr


def test_train_with_an_approximate_neighbour_index_saves_the_graph(files, tmp_path):
    out = tmp_path / "ann"
    args = ["train", str(files / "results.csv"), "--llms", str(files / "llms.json"), "--out", str(out)]
    res = CliRunner().invoke(
        cli,
        [*args, "--embedder", "hashing:64", "--epochs", "5", "--predictor", "mirt", "--neighbour-index", "approximate"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["neighbour_index"]["kind"] == "usearch-hnsw"
    res = run("train", *args[1:], "--force", "--neighbour-index", "hnsw")
    assert res.exit_code == 2 and "hnsw" in res.stderr
