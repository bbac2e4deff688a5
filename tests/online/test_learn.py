"""``irtrouter learn`` through a real SQLite log: the right LLM moves, the parent never changes."""

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.errors import ConfigError
from irtrouter.online.learn import PRECISION_KEY, learn_router
from irtrouter.routing import load_router
from irtrouter.routing.persistence import read_lineage, read_router_dir, write_router_dir
from tests.helpers import TOPIC_LLMS, topic_results
from tests.online.conftest import LoggedRequest, write_log

QUERIES = list(topic_results(n_per_topic=20, seed=7, prefix="live").queries)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def mean_p(router_dir, llm_id, queries=QUERIES):
    router = load_router(router_dir)
    return float(router.predict(queries).p_hat[:, router.llm_ids.index(llm_id)].mean())


def snapshot(directory):
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in directory.iterdir()}


def test_feedback_moves_the_answering_llm_and_leaves_the_others(trained_dir, tmp_path):
    # The router chose "big" but "weak-small" answered (fallback): the feedback is weak-small's.
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest(q, "big", "weak-small", [1.0]) for q in QUERIES])
    res = run("learn", trained_dir, "--db", url, "--out", tmp_path / "v1")
    assert res.exit_code == 0, res.output
    assert f"{len(QUERIES)} scored requests used" in res.stdout and "weak-small" in res.stdout
    assert mean_p(tmp_path / "v1", "weak-small") > mean_p(trained_dir, "weak-small") + 0.05
    before = read_router_dir(trained_dir)[1]["predictor.abilities"]
    after = read_router_dir(tmp_path / "v1")[1]["predictor.abilities"]
    moved = TOPIC_LLMS.index("weak-small")
    others = [j for j in range(len(TOPIC_LLMS)) if j != moved]
    np.testing.assert_array_equal(after[others], before[others])  # no feedback: exactly unchanged
    assert not np.array_equal(after[moved], before[moved])


def test_scores_of_zero_move_an_llm_down(trained_dir, tmp_path):
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest(q, "big", "big", [0.0]) for q in QUERIES])
    report = learn_router(trained_dir, url, tmp_path / "v1")
    assert [u.llm_id for u in report.updates] == ["big"]
    assert mean_p(tmp_path / "v1", "big") < mean_p(trained_dir, "big") - 0.05
    u = report.updates[0]
    assert u.n_rows == len(QUERIES) and (u.standard_error < u.prior_standard_error).all()


def test_learning_never_edits_the_parent_directory(trained_dir, tmp_path):
    before = snapshot(trained_dir)
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest(q, "big", "code-small", [0.0]) for q in QUERIES[:10]])
    assert run("learn", trained_dir, "--db", url, "--out", tmp_path / "v1").exit_code == 0
    assert run("learn", tmp_path / "v1", "--db", url, "--out", tmp_path / "v2", "--since", 0).exit_code == 0
    assert snapshot(trained_dir) == before  # byte for byte, and not even rewritten
    res = run("learn", trained_dir, "--db", url, "--out", trained_dir)
    assert res.exit_code == 1 and "never modifies it" in res.stderr
    res = run("learn", trained_dir, "--db", url, "--out", tmp_path / "v1")
    assert res.exit_code == 1 and "not empty" in res.stderr
    assert snapshot(trained_dir) == before


def test_lineage_records_version_parent_and_changes(trained_dir, tmp_path):
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest(q, "big", "math-small", [1.0]) for q in QUERIES[:15]])
    learn_router(trained_dir, url, tmp_path / "v1")
    lineage = read_lineage(tmp_path / "v1")
    assert lineage.version == 1 and lineage.parent == str(trained_dir.resolve())
    assert lineage.changes["n_feedback"] == 15 and lineage.changes["duplicate_rule"] == "last"
    change = lineage.changes["llms"]["math-small"]
    assert change["n_feedback"] == 15 and change["shift_norm"] > 0 and set(lineage.changes["llms"]) == {"math-small"}
    # The child keeps each posterior, so learning again starts from it (sequential Bayes).
    precision = read_router_dir(tmp_path / "v1")[1][PRECISION_KEY]
    assert precision.shape[0] == len(TOPIC_LLMS)
    report = learn_router(tmp_path / "v1", url, tmp_path / "v2", since=0)
    assert read_lineage(tmp_path / "v2").version == 2
    (second,) = report.updates
    np.testing.assert_allclose(second.prior_standard_error, change["standard_error"], rtol=1e-5)


def test_llms_without_feedback_keep_the_parents_precision_bit_for_bit(trained_dir, tmp_path):
    """Not its covariance inverted back: 1 / (1 / x) is not x for this x."""
    config, arrays = read_router_dir(trained_dir)
    x = 0.3998499249624813
    assert 1 / (1 / x) != x
    n, k = arrays["predictor.abilities"].shape
    write_router_dir(tmp_path / "v1", config, {**arrays, PRECISION_KEY: np.full((n, k, k), x)})
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest(q, "big", "math-small", [1.0]) for q in QUERIES[:15]])
    learn_router(tmp_path / "v1", url, tmp_path / "v2", since=0)
    others = [j for j, m in enumerate(TOPIC_LLMS) if m != "math-small"]
    np.testing.assert_array_equal(read_router_dir(tmp_path / "v2")[1][PRECISION_KEY][others], x)


def test_the_last_score_of_a_request_wins(trained_dir, tmp_path):
    def learnt(name, scores):
        url = write_log(tmp_path / f"{name}.sqlite", [LoggedRequest(q, "big", "big", scores) for q in QUERIES[:20]])
        report = learn_router(trained_dir, url, tmp_path / name)
        return report, read_router_dir(tmp_path / name)[1]["predictor.abilities"]

    rescored, a = learnt("rescored", [1.0, 0.0])
    _, b = learnt("zero", [0.0])
    _, c = learnt("one", [1.0])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert rescored.counts["superseded"] == 20 and rescored.counts["used"] == 20


def test_embedding_is_used_text_is_the_fallback_and_rows_with_neither_are_counted(trained_dir, tmp_path):
    router = load_router(trained_dir)
    X = router.embed(QUERIES[:12])
    by_embedding = [LoggedRequest(None, "big", "big", [0.0], embedding=x) for x in X]
    by_text = [LoggedRequest(q, "big", "big", [0.0]) for q in QUERIES[:12]]
    neither = [LoggedRequest(None, "big", "big", [1.0])]
    r1 = learn_router(trained_dir, write_log(tmp_path / "e.sqlite", by_embedding + neither), tmp_path / "e")
    r2 = learn_router(trained_dir, write_log(tmp_path / "t.sqlite", by_text), tmp_path / "t")
    assert r1.counts["no_query"] == 1 and r1.counts["used"] == 12
    np.testing.assert_allclose(r1.updates[0].ability, r2.updates[0].ability, rtol=1e-5, atol=1e-6)


def test_no_feedback_since_training_writes_an_unchanged_child(trained_dir, tmp_path):
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest(q, "big", "big", [1.0], created_at=1.0) for q in QUERIES])
    res = run("learn", trained_dir, "--db", url, "--out", tmp_path / "v1", "--json")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["version"] == 1 and body["counts"]["used"] == 0 and body["llms"] == {}


def test_a_missing_database_is_one_error_line(trained_dir, tmp_path):
    res = run("learn", trained_dir, "--db", f"sqlite:///{tmp_path}/none.sqlite", "--out", tmp_path / "v1")
    assert res.exit_code == 1 and "no decision database" in res.stderr
    assert not (tmp_path / "none.sqlite").exists()  # reading never creates a database
    assert not (tmp_path / "v1").exists()


def test_an_out_that_is_a_file_is_refused(trained_dir, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        learn_router(trained_dir, "sqlite:///unused.sqlite", tmp_path / "file")
