"""The harness on synthetic topic data: invariants every evaluation must satisfy, figures recomputed here."""

from typing import ClassVar

import numpy as np
import pytest

from irtrouter.embed import make_embedder
from irtrouter.errors import ConfigError
from irtrouter.evaluate.ablations import dimension_ablation, embedder_ablation, relevance_ablation, warmup_ablation
from irtrouter.evaluate.harness import ALPHAS, DEFAULT_ROUTERS, SWEEP, run_setting
from irtrouter.evaluate.metrics import realised_costs, reward_oracle
from irtrouter.evaluate.protocol import make_setting
from irtrouter.evaluate.report import Report
from irtrouter.evaluate.routers import registry
from irtrouter.evaluate.routers.contract import FixedDecisions, Router
from irtrouter.evaluate.routers.registry import RouterEntry

SHORT = {"predictor_params": {"max_epochs": 8}, "max_epochs": 8, "max_iter": 40}


class SpyRouter(Router):
    """Records what the harness shows it."""

    seen: ClassVar[list] = []

    def _decide(self, batch):
        SpyRouter.seen.append((batch.scores, batch.costs))
        return FixedDecisions(self.llm_ids_, np.zeros(len(batch), dtype=np.int64))


@pytest.fixture(scope="module")
def setting(topic_data):
    train, test, catalog = topic_data
    return make_setting("topics", "ID", train, test, catalog, "synthetic")


@pytest.fixture(scope="module")
def result(setting):
    return run_setting(setting, DEFAULT_ROUTERS, make_embedder("hashing:128"), overrides=SHORT)


def rows(result, table, **match):
    return [r for r in result.rows[table] if all(r[k] == v for k, v in match.items())]


def test_oracle_bounds_every_router_and_every_router_is_non_negative(result):
    for alpha in ALPHAS:
        perf = {r["router"]: r["performance"] for r in rows(result, "routing", alpha=alpha)}
        assert set(perf) == set(DEFAULT_ROUTERS)
        assert all(0 <= p <= perf["oracle"] + 1e-12 for p in perf.values()), perf
        assert perf["oracle"] == pytest.approx(result.setting.test.scores.max(axis=1).mean())


def test_single_llms_and_random_equal_figures_computed_from_the_data(result, setting):
    test = setting.test
    costs, kind = realised_costs(test, setting.catalog)
    assert kind == "modelled" and result.cost_kind == "modelled"
    for name, llm in (("small-llm", "weak-small"), ("large-llm", "big")):
        j = test.llm_ids.index(llm)
        for r in rows(result, "routing", router=name):
            assert r["llm"] == llm
            assert r["performance"] == pytest.approx(test.scores[:, j].mean())
            assert r["total_cost"] == pytest.approx(costs[:, j].sum())
    for r in rows(result, "routing", router="random"):
        assert r["performance"] == pytest.approx(test.scores.mean())
        assert r["total_cost"] == pytest.approx(costs.sum() / test.n_llms)


def test_reward_and_gap_are_recomputed_from_performance_and_cost(result, setting):
    test = setting.test
    costs, _ = realised_costs(test, setting.catalog)
    scale = costs.sum(axis=0).max()
    for alpha in ALPHAS:
        beta = 1 - alpha
        singles = [100 * (alpha * test.scores[:, j].mean() - beta * costs[:, j].sum() / scale) for j in range(4)]
        pick = reward_oracle(test.scores, costs, alpha, beta, scale)
        rows_ = np.arange(test.n_queries)
        oracle = 100 * (alpha * test.scores[rows_, pick].mean() - beta * costs[rows_, pick].sum() / scale)
        for r in rows(result, "routing", alpha=alpha):
            assert r["reward"] == pytest.approx(100 * (alpha * r["performance"] - beta * r["total_cost"] / scale))
            assert r["best_single_reward"] == pytest.approx(max(singles))
            assert r["oracle_reward"] == pytest.approx(oracle)
            assert r["reward"] <= oracle + 1e-9  # nothing beats the reward-optimal oracle
            if oracle - max(singles) > 0.5:
                assert r["gap_closed"] == pytest.approx((r["reward"] - max(singles)) / (oracle - max(singles)))
            else:
                assert np.isnan(r["gap_closed"])


def test_learned_routers_beat_random(result):
    # The topic decides who answers well: a router that learned anything beats random at every alpha.
    for alpha in ALPHAS:
        reward = {r["router"]: r["reward"] for r in rows(result, "routing", alpha=alpha)}
        for name in ("routerbench-knn", "knn-tuned", "routerbench-mlp", "mirt"):
            assert reward[name] > reward["random"], (alpha, name, reward)


def test_warmup_variants_share_one_fit(result):
    for name, base in (("mirt-nowarmup", "mirt"), ("nirt-nowarmup", "nirt")):
        run = result.runs[name]
        assert run.shares_fit_with == base
        assert run.router.router_ is result.runs[base].router.router_
        assert run.router.warmup_lambda == 0.0 and result.runs[base].router.warmup_lambda == 0.3


def test_tables_have_one_row_per_router_and_weight(result):
    n = len(DEFAULT_ROUTERS)
    assert len(result.rows["routing"]) == n * len(ALPHAS)
    assert len(result.rows["points"]) == n * len(SWEEP)
    assert len(result.rows["curves"]) == n
    assert {r["router"] for r in result.rows["predictor"]} == {
        "routellm-mf", "routerbench-knn", "routerbench-mlp", "knn-tuned", "mirt", "mirt-nowarmup", "nirt",
        "nirt-nowarmup",
    }  # fmt: skip
    for r in rows(result, "topk", router="oracle"):
        assert r["accuracy"] == pytest.approx(1.0) if r["k"] > 1 else r["accuracy"] > 0.5
    for r in result.rows["curves"]:
        assert 0 <= r["aiq"] <= 1 and 0 <= r["hypervolume"] <= 1
    assert {r["router"] for r in result.rows["curves"] if "apgr" in r} == {"hybrid-llm", "routellm-mf"}
    # Every other row says why APGR, a two-LLM metric, is n/a on this pool; none is left blank.
    for r in result.rows["curves"]:
        assert ("apgr" in r) != ("apgr_na" in r)
    assert "two-LLM curve metric" in rows(result, "curves", router="mirt")[0]["apgr_na"]
    assert "reads the test outcomes" in rows(result, "curves", router="oracle")[0]["apgr_na"]


def test_only_upper_limits_see_the_outcomes(setting, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, "spy", RouterEntry(SpyRouter))
    SpyRouter.seen.clear()
    run_setting(setting, ["spy", "oracle"], make_embedder("hashing:32"), sweep=())
    assert SpyRouter.seen == [(None, None)]


def test_repeated_router_names_are_refused(setting):
    with pytest.raises(ConfigError, match="repeat"):
        run_setting(setting, ["random", "random"], make_embedder("hashing:32"))


def test_report_round_trips_and_labels_modelled_costs(result, tmp_path):
    report = Report(meta={"command": "test"})
    report.add(result)
    paths = report.write(tmp_path)
    assert {p.name for p in paths} >= {"routing.csv", "points.csv", "curves.csv", "report.json"}
    again = Report.read(tmp_path)
    assert again.tables["routing"] == report.tables["routing"]
    text = again.markdown()
    assert "MODELLED USD" in text
    assert "| Router | Perf. @0.8 | Cost @0.8 | Reward @0.8 | Gap closed @0.8 |" in text
    assert "Top-k routing accuracy" in text and "AIQ" in text
    compact = again.markdown(compact=True)
    assert "#### Top-1 / Top-2 / Top-3 routing accuracy at alpha 0.8" in compact
    assert "| knn-tuned |" in compact and "| topics ID |" in compact  # one row per router, a column per setting
    assert "#### Warm-up" not in compact and "#### AUC / RMSE of the predicted scores" in compact


def test_ablations_reuse_the_main_fit_and_retrain_the_rest(result):
    emb = make_embedder("hashing:128")
    lam = warmup_ablation(result, lambdas=(0.0, 0.3))
    main = {(r["router"], r["alpha"]): r["reward"] for r in result.rows["routing"]}
    for r in lam:
        name = r["router"] if r["value"] == 0.3 else f"{r['router']}-nowarmup"
        assert r["reward"] == pytest.approx(main[(name, r["alpha"])])
    dims = dimension_ablation(result, emb, dims=(25, 3), overrides=SHORT)
    assert [r["value"] for r in dims] == [25] * 3 + [3] * 3
    assert [r["reward"] for r in dims[:3]] == [main[("mirt", a)] for a in ALPHAS]  # N=25 is the main fit
    embs = embedder_ablation(result, ("hashing:128", "hashing:32"), "hashing:128", overrides=SHORT)
    assert [r["reward"] for r in embs[:3]] == [main[("mirt", a)] for a in ALPHAS]
    assert {r["embedder"] for r in embs[3:]} == {"hashing-32"}
    subset = embedder_ablation(result, ("hashing:128",), "hashing:128", overrides=SHORT, n_train=100)
    assert {r["value"] for r in subset} == {"hashing:128 (100 train queries)"}  # retrained on the subset
    rel = relevance_ablation(result, emb, overrides=SHORT)
    assert [r["value"] for r in rel] == ["labelled"] * 3 + ["uniform (all ones)"] * 3
    assert [r["reward"] for r in rel[:3]] == [main[("nirt", a)] for a in ALPHAS]
