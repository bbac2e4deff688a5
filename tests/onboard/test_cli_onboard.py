"""`irtrouter onboard plan` / `fit`: a full quiz round trip through files, and one-line errors."""

import json

import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.routing import load_router
from tests.radar_data import configuration_catalog, configuration_results

NEW = "large@medium"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A saved 2PL router without one configuration, its training data, and the new one's answers."""
    root = tmp_path_factory.mktemp("onboard-cli")
    catalog = configuration_catalog()
    train = configuration_results(400, seed=0)
    others = [g for g in train.llm_ids if g != NEW]
    train.select_llms(others).to_frame().to_csv(root / "train.csv", index=False)
    (root / "llms.json").write_text(json.dumps(catalog.to_records()))
    res = run("train", root / "train.csv", "--llms", root / "llms.json", "--out", root / "router", "--predictor", "2pl",
              "--embedder", "hashing:256", "--cost-model", "configuration", "--lr", 0.02)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "trained 2pl on 400 queries x 5 LLMs" in res.stdout
    train.to_frame().to_csv(root / "all.csv", index=False)  # the held-out LLM's real answers too
    configuration_results(150, seed=1, prefix="t").to_frame().to_csv(root / "test.csv", index=False)
    truth = train.select_llms([NEW])
    answers = dict(zip(truth.query_ids, zip(truth.scores[:, 0], truth.output_tokens[:, 0], strict=True), strict=True))
    return root, answers


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(res, *fragments, code=1):
    assert res.exit_code == code, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("irtrouter: error: "), res.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def answer(path, answers, out):
    """Play the new LLM: fill in its real score (and output tokens) for every planned query."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["score"], row["output_tokens"] = answers[row["query_id"]]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_plan_answer_fit_round_trip_in_two_adaptive_rounds(files, tmp_path):
    root, answers = files
    router_dir = root / "router"
    first = tmp_path / "round1.jsonl"
    res = run("onboard", "plan", router_dir, "--llm", NEW, "--pool", root / "train.csv", "--budget", 12,
              "--batch", 6, "--out", first)  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in first.read_text().splitlines()]
    assert len(rows) == 6 and {r["llm_id"] for r in rows} == {NEW} and all(r["score"] is None for r in rows)
    assert "planned 6 quiz queries" in res.stderr
    done = tmp_path / "answers1.jsonl"
    answer(first, answers, done)
    second = run("onboard", "plan", router_dir, "--llm", NEW, "--pool", root / "train.csv", "--budget", 12,
                 "--answers", done)  # fmt: skip
    assert second.exit_code == 0, second.output
    more = [json.loads(line) for line in second.stdout.splitlines()]
    assert len(more) == 6 and not {r["query_id"] for r in more} & {r["query_id"] for r in rows}
    assert "6 answered so far" in second.stderr
    all_answers = tmp_path / "answers.jsonl"
    all_answers.write_text(done.read_text() + "".join(json.dumps(r) + "\n" for r in more))
    answer(all_answers, answers, all_answers)

    grown = tmp_path / "grown"
    res = run("onboard", "fit", router_dir, "--llm", NEW, "--answers", all_answers, "--llms", root / "llms.json",
              "--out", grown)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"added {NEW} to {grown}" in res.stdout and "from 12 answers" in res.stdout
    router = load_router(grown)
    assert router.llm_ids[-1] == NEW and router.catalog_[NEW].reasoning_effort == "medium"
    theta = dict(zip(router.llm_ids, router.predictor_.abilities_[:, 0], strict=True))
    assert theta["small@high"] < theta[NEW] < theta["large@high"]
    routed = run("route", grown, "q1 theorem integral proof eigenvalue the of", "--alpha", "1", "--json")
    assert routed.exit_code == 0 and NEW in {row["llm_id"] for row in json.loads(routed.stdout)["llms"]}
    assert len(load_router(router_dir).llm_ids) == 5  # --out left the original as it was


def test_fit_from_profile_updates_the_router_in_place(files, tmp_path):
    root, _ = files
    copy = tmp_path / "r"
    load_router(root / "router").save(copy)
    res = run("onboard", "fit", copy, "--llm", "tiny@low", "--profile-only", "--input-price", 0.1,
              "--output-price", 0.2, "--profile", "a tiny model")  # fmt: skip
    # A 'configuration' cost model needs the new LLM's tokens: neither answers nor catalog give them.
    one_error_line(res, "needs tiny@low's output tokens")
    res = run("onboard", "fit", copy, "--llm", NEW, "--profile-only", "--llms", root / "llms.json")
    assert res.exit_code == 0, res.output
    assert "from its profile" in res.stdout and NEW in load_router(copy).llm_ids


def test_onboard_errors_are_one_line(files, tmp_path):
    root, _ = files
    router_dir, pool = root / "router", root / "train.csv"
    one_error_line(run("onboard", "plan", router_dir, "--llm", "small@low", "--pool", pool), "already in the router")
    one_error_line(run("onboard", "plan", router_dir, "--llm", NEW, "--pool", tmp_path / "none.csv"), "no such file")
    one_error_line(run("onboard", "plan", router_dir, "--llm", NEW, "--pool", pool, "--budget", 0), "--budget must be")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"query": "what is 2+2", "llm_id": "other", "score": 1}) + "\n")
    one_error_line(
        run("onboard", "fit", router_dir, "--llm", NEW, "--answers", wrong, "--llms", root / "llms.json"),
        "answers for LLM(s) ['other']",
    )
    unscored = tmp_path / "unscored.jsonl"
    unscored.write_text(json.dumps({"query": "what is 2+2", "llm_id": NEW, "score": None}) + "\n")
    one_error_line(
        run("onboard", "fit", router_dir, "--llm", NEW, "--answers", unscored, "--llms", root / "llms.json"),
        "missing score",
    )
    one_error_line(
        run("onboard", "fit", router_dir, "--llm", "nobody", "--profile-only", "--llms", root / "llms.json"),
        "unknown LLM 'nobody'",
    )
    res = run("onboard", "fit", router_dir, "--llm", NEW)
    assert res.exit_code == 2 and "--answers FILE or --profile-only" in res.stderr


def test_simulate_answers_the_quiz_from_held_out_results(files):
    root, _ = files
    res = run("onboard", "simulate", root / "router", "--llm", NEW, "--data", root / "all.csv", "--llms",
              root / "llms.json", "--test", root / "test.csv", "--budget", 20)  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("after   5 answers: ability [")
    assert any(ln.startswith("after  20 answers") for ln in lines)
    quiz = next(ln for ln in lines if "quiz (20 fisher) on 150 test queries" in ln)
    assert float(quiz.split("AUC ")[1].split()[0]) > 0.8
    assert any("profile only on 150 test queries" in ln for ln in lines)
    assert len(load_router(root / "router").llm_ids) == 5  # simulating changes nothing on disk
    again = run("onboard", "simulate", root / "router", "--llm", "small@low", "--data", root / "all.csv", "--llms",
                root / "llms.json")  # fmt: skip
    one_error_line(again, "simulate needs a router without it")
