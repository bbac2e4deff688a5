"""Routing by the task alone (irtrouter.routing.tasks): the means, the vote, the out-of-fold
judgement, and a router that keeps it routing and reloading the same."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix, query_id_for
from irtrouter.routing import IRTRouter
from irtrouter.routing.saved import load_router
from irtrouter.routing.tasks import TASK_K, TaskMeans, offers_tasks
from irtrouter.routing.tuning import SELECTION_ALPHAS, TASKS, cross_validate_stages


def task_world(n_tasks: int = 6, per_task: int = 100, n_llms: int = 4, seed: int = 0):
    """Each task has its own words and a best LLM; within a task the answers are coin flips of
    the task's skill, so nothing in a query's text says more than its task."""
    rng = np.random.default_rng(seed)
    skill = np.where(rng.random((n_tasks, n_llms)) < 0.3, 0.9, 0.15)
    texts, tasks, rows = [], [], []
    for t in range(n_tasks):
        words = [f"t{t}w{i}" for i in range(8)]
        for i in range(per_task):
            texts.append(f"q{i} " + " ".join(rng.choice(words, size=5, replace=False)))
            tasks.append(f"task{t}")
            rows.append((rng.random(n_llms) < skill[t]).astype(float))
    llms = tuple(f"llm{j}" for j in range(n_llms))
    results = ResultsMatrix(
        query_ids=tuple(query_id_for(t) for t in texts),
        queries=tuple(texts),
        llm_ids=llms,
        scores=np.asarray(rows),
        tasks=tuple(tasks),
        source="synthetic-tasks",
    )
    catalog = LLMCatalog([LLMSpec(m, 1.0, 1.0, f"model {m}") for m in llms])
    return results, catalog, skill


def test_task_means_fill_holes_with_the_prior_and_the_vote_takes_the_majority():
    tasks = ("b", "b", "a", "a", "a")
    scores = np.array([[1.0, np.nan], [0.0, np.nan], [1.0, 1.0], [1.0, 0.0], [1.0, np.nan]])
    by_task = TaskMeans.fit(tasks, scores, prior=np.array([0.5, 0.3]))
    assert by_task.names == ("a", "b")
    np.testing.assert_allclose(by_task.means, [[1.0, 0.5], [0.5, 0.3]])  # b never answered by llm 2
    task, share = by_task.guess(np.array([[0, 2, 3], [0, 1, 2], [2, 0, 1]]), k=3)
    np.testing.assert_array_equal(task, [0, 1, 1])
    np.testing.assert_allclose(share, [2 / 3, 2 / 3, 2 / 3])
    tie, _ = by_task.guess(np.array([[0, 2]]), k=2)  # one vote each: the first name
    assert tie.tolist() == [0]
    np.testing.assert_allclose(by_task.predict(np.array([[0, 1, 4]]), k=3), [[0.5, 0.3]])
    report = by_task.report(("x", "y"))
    assert report["k"] == TASK_K and report["tasks"]["a"] == {"n_queries": 3, "mean_score": {"x": 1.0, "y": 0.5}}


def test_the_stage_is_offered_only_with_two_or_more_labelled_tasks():
    assert offers_tasks(("a", "b", "a"))
    assert not offers_tasks(("a", "a"))
    assert not offers_tasks(("a", "", "b"))  # an unlabelled query: no task to vote for


def test_out_of_fold_routing_by_the_true_task_beats_an_uninformative_model():
    results, _, skill = task_world(seed=1)
    Y = results.scores
    codes = np.asarray([int(t[4:]) for t in results.tasks])
    half = np.arange(len(Y)) % 2 == 0  # the "fitting" queries and the judged ones
    C = np.full(Y.shape, 0.1)
    p_flat = np.full((int((~half).sum()), Y.shape[1]), 0.5)
    cv = cross_validate_stages(
        p_flat, None, np.full((int(half.sum()), Y.shape[1]), 0.5), Y[half], C[half], Y[~half], C[~half],
        SELECTION_ALPHAS, {"none": None}, task_p=skill[codes[~half]],
    )  # fmt: skip
    assert set(cv) == {("none", False), ("none", True), (TASKS, False), (TASKS, True)}
    # Each task to its best LLM (0.9) against the one LLM best on average: a large, sure gain.
    gain = cv[(TASKS, False)] - cv[("none", False)]
    assert gain.mean() > 5 * gain.std(ddof=1) / np.sqrt(len(gain))


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A router whose model is uninformative (one epoch, no kNN stages, no guard): of the
    configurations judged, routing by the task is the one that knows anything."""
    results, catalog, skill = task_world()
    router = IRTRouter(
        predictor="auto", embedder="hashing:64", knn_blend=False, guard=False, calibration="none",
        novelty_gate=False, task_routing=True, predictor_params={"max_epochs": 1},
    ).fit(results, catalog)  # fmt: skip
    path = tmp_path_factory.mktemp("tasks") / "router"
    router.save(path)
    return router, load_router(path), results, skill


def test_a_router_that_keeps_the_task_routes_each_task_to_its_best_llm(kept):
    router, _, results, skill = kept
    sel = router.training_["selection"]
    rows = sel["cross_validation"]["table"]
    (chosen,) = [r for r in rows if r["kept"]]
    assert chosen["calibration"] == TASKS and router.task_means_ is not None
    # The task reads no model: both families judge it alike, and neither is chosen by it.
    by_family = {r["candidate"]: r["cv_value"] for r in rows if r["calibration"] == TASKS}
    assert len(by_family) == 2 and len(set(by_family.values())) == 1
    for row in sel["table"]:
        assert row["validation_value"] == max(
            r["cv_value"] for r in rows if r["candidate"] == row["candidate"] and r["calibration"] != TASKS
        )
    assert set(sel["task_routing"]["tasks"]) == set(results.tasks)
    queries = [q for q, t in zip(results.queries, results.tasks, strict=True) if t == "task0"][:5]
    p = router.predict(queries).p_hat
    np.testing.assert_allclose(p, np.repeat(router.task_means_.means[[0]], len(queries), axis=0))
    decisions = router.route_many(queries, alpha=0.8)
    assert {d.llm_id for d in decisions} <= {f"llm{j}" for j in np.flatnonzero(skill[0] == skill[0].max())}
    for d in decisions:  # each decision names the task it was routed by
        assert d.extras["task"].startswith("task0 (") and "of its neighbours)" in d.extras["task"]
        assert d.explanation.reason.endswith(f"P: the mean scores of its task, {d.extras['task']}")


def test_a_saved_router_rebuilds_the_task_means_and_routes_the_same(kept):
    router, loaded, results, _ = kept
    np.testing.assert_array_equal(loaded.task_means_.means, router.task_means_.means)
    queries = list(results.queries[::37])
    np.testing.assert_array_equal(loaded.predict(queries).p_hat, router.predict(queries).p_hat)
    assert [d.llm_id for d in loaded.route_many(queries)] == [d.llm_id for d in router.route_many(queries)]


def test_task_means_from_graded_scores_reload_exactly(tmp_path):
    """The means are rebuilt from the scores as saved (float32): graded scores give the same."""
    results, catalog, _ = task_world()
    graded = replace(results, scores=results.scores * 0.7 + 0.1)
    router = IRTRouter(
        predictor="auto", embedder="hashing:64", knn_blend=False, guard=False, calibration="none",
        novelty_gate=False, task_routing=True, predictor_params={"max_epochs": 1},
    ).fit(graded, catalog)  # fmt: skip
    assert router.task_means_ is not None  # as in `kept`: the model knows nothing, the task does
    router.save(tmp_path / "r")
    np.testing.assert_array_equal(load_router(tmp_path / "r").task_means_.means, router.task_means_.means)


def test_task_routing_off_by_default_or_one_task_judges_no_task_configuration():
    results, catalog, _ = task_world(n_tasks=3, per_task=40)
    off = IRTRouter(predictor="auto", embedder="hashing:64", predictor_params={"max_epochs": 3})
    one = results.take(np.flatnonzero(np.asarray(results.tasks) == "task0"))
    on = IRTRouter(predictor="auto", embedder="hashing:64", task_routing=True, predictor_params={"max_epochs": 3})
    for router, data in ((off, results), (on, one)):
        router.fit(data, catalog)
        rows = router.training_["selection"]["cross_validation"]["table"]
        assert TASKS not in {r["calibration"] for r in rows}
        assert router.task_means_ is None and router.training_["selection"]["task_routing"] is None


def test_cli_train_task_routing_judges_the_task_and_says_what_it_kept(tmp_path):
    results, catalog, _ = task_world(n_tasks=3, per_task=60)
    results.to_frame().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "llms.json").write_text(json.dumps(catalog.to_records()))
    args = ["train", str(tmp_path / "results.csv"), "--llms", str(tmp_path / "llms.json"), "--embedder", "hashing:64"]
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r"), "--task-routing", "--explain-choice"])
    assert res.exit_code == 0, res.output
    saved = load_router(tmp_path / "r")
    sel = saved.training_["selection"]
    assert saved.task_routing is True
    rows = [r for r in sel["cross_validation"]["table"] if r["calibration"] == TASKS]
    lines = res.stdout.splitlines()
    judged = [line for line in lines if line.startswith("  out of fold: ") and ", by the neighbours' task " in line]
    assert len(rows) == len(judged) == 2, res.stdout  # one per family
    by_task = [line for line in lines if line.startswith("  by the task: ")]
    assert len(by_task) == (3 if saved.task_means_ is not None else 0), res.stdout
