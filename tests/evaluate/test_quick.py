"""``benchmarks/evaluate.py --quick`` on every real dataset: the invariants of the evaluation hold.

Runs the one-command benchmark in its CI mode (seeded subsets, hashing embedder, short training;
the warm-up ablation only) over llmrouter, routerbench_subset, routerdc_7llm and routellm, ID and
OOD, and checks its figures against values computed here directly from the data.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from irtrouter.data import load_benchmark
from irtrouter.data.results import normalise_text
from irtrouter.evaluate.metrics import realised_costs
from irtrouter.evaluate.protocol import benchmark_settings, subsample
from irtrouter.evaluate.routers.registry import available_routers
from irtrouter.evaluate.suite import QUICK_DATASETS as DATASETS
from irtrouter.evaluate.suite import SuiteConfig

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "evaluate.py"


@pytest.fixture(scope="module")
def benches(shared_data):
    return {name: load_benchmark(name, shared_data / name) for name in DATASETS}


@pytest.fixture(scope="module")
def quick(shared_data, tmp_path_factory):
    spec = importlib.util.spec_from_file_location("benchmarks_evaluate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("evaluate-quick")
    args = ["--quick", "--data-root", str(shared_data), "--out", str(out), "--ablations", "warmup_lambda"]
    report = module.main(args)
    return report, out, module


def quick_test_set(bench, split):
    """The test queries the quick run scores, rebuilt here from the data."""
    config = SuiteConfig.quick()
    setting = next(s for s in benchmark_settings(bench) if s.split == split)
    return subsample(setting, config.n_train, config.n_test, config.seed)


def test_full_settings_have_the_documented_sizes_and_no_leaked_query(benches):
    sizes = {}
    for bench in benches.values():
        for setting in benchmark_settings(bench):
            seen = {normalise_text(q) for q in setting.train.queries}
            assert not any(normalise_text(q) in seen for q in setting.test.queries), setting.name
            assert not np.isnan(setting.test.scores).any()
            sizes[setting.name] = setting.test.n_queries
    assert sizes["llmrouter ID"] == 381
    assert sizes["routerbench_subset ID"] == 943  # 951 minus 8 with a missing score


def test_every_setting_and_router_is_reported(quick):
    report, out, _ = quick
    got = {(r["dataset"], r["split"], r["router"]) for r in report.tables["routing"]}
    assert got == {(d, s, r) for d in DATASETS for s in ("ID", "OOD") for r in available_routers()}
    for name in (
        "routing.csv",
        "predictor.csv",
        "topk.csv",
        "curves.csv",
        "points.csv",
        "ablations.csv",
        "report.json",
        "report.md",
        *[f"eval_pareto_{d}.png" for d in DATASETS],
        "eval_reward_vs_lambda.png",
    ):
        assert (out / name).stat().st_size > 0, name  # fmt: skip


def test_oracle_bounds_every_router_and_performance_is_non_negative(quick):
    report, *_ = quick
    for d in DATASETS:
        for s in ("ID", "OOD"):
            for alpha in (0.8, 0.5, 0.2):
                rows = [r for r in report.tables["routing"] if (r["dataset"], r["split"], r["alpha"]) == (d, s, alpha)]
                oracle = next(r["performance"] for r in rows if r["router"] == "oracle")
                computed = [r for r in rows if not r.get("unsupported")]
                assert all(0 <= r["performance"] <= oracle + 1e-12 for r in computed), (d, s, alpha)
                # A row the router cannot compute as asked is n/a with its reason, never a clipped number.
                for r in rows:
                    if r.get("unsupported"):
                        assert np.isnan(r["reward"]) and r["router"] == "llm-bandit" and alpha == 0.2, r


def test_single_llm_figures_and_rewards_match_the_data(quick, benches):
    report, *_ = quick
    for name, bench in benches.items():
        for split in ("ID", "OOD"):
            test = quick_test_set(bench, split).test
            if name == "routerbench_subset":  # real USD per query, straight from the CSV columns
                costs = test.cost_usd
            else:
                costs, kind = realised_costs(test, bench.catalog)
                assert kind == "modelled"
            scale = costs.sum(axis=0).max()
            rows = [r for r in report.tables["routing"] if (r["dataset"], r["split"]) == (name, split)]
            for r in (r for r in rows if not r.get("unsupported")):
                a, b = r["alpha"], 1 - r["alpha"]
                assert r["reward"] == pytest.approx(100 * (a * r["performance"] - b * r["total_cost"] / scale))
                if r["router"] in ("small-llm", "large-llm"):
                    j = test.llm_ids.index(r["llm"])
                    assert r["performance"] == pytest.approx(test.scores[:, j].mean())
                    assert r["total_cost"] == pytest.approx(costs[:, j].sum())
                if r["router"] == "random":
                    assert r["performance"] == pytest.approx(test.scores.mean())
                assert r["cost_kind"] == ("real" if name == "routerbench_subset" else "modelled")


def test_costs_are_labelled_and_degenerate_curves_are_said_so(quick):
    report, out, _ = quick
    text = (out / "report.md").read_text()
    assert "#### routerbench_subset, ID: 150 test queries, Total Cost in real USD" in text
    assert "#### llmrouter, ID: 150 test queries, Total Cost in MODELLED USD" in text
    curves = report.tables["curves"]
    # RouterDC's pool is priced alike: no cost-performance curve to summarise.
    assert all("note" in r for r in curves if r["dataset"] == "routerdc_7llm")
    assert all("aiq" in r for r in curves if r["dataset"] != "routerdc_7llm")
    # Two LLMs: every router that decides between them has an APGR.
    apgr = {r["router"] for r in curves if r["dataset"] == "routellm" and "apgr" in r}
    assert apgr == set(available_routers()) - {"oracle", "task-oracle"}  # the references read the outcomes


def test_warmup_ablation_covers_every_setting(quick):
    report, *_ = quick
    rows = report.tables["ablations"]
    assert {r["value"] for r in rows} == {0.0, 0.1, 0.2, 0.3, 0.4}
    assert {(r["dataset"], r["split"]) for r in rows} == {(d, s) for d in DATASETS for s in ("ID", "OOD")}
    # lambda = 0.3 is the main run's mirt; lambda = 0 its no-warm-up variant.
    main = {(r["dataset"], r["split"], r["router"], r["alpha"]): r["reward"] for r in report.tables["routing"]}
    for r in rows:
        if r["value"] in (0.0, 0.3):
            name = r["router"] if r["value"] == 0.3 else f"{r['router']}-nowarmup"
            assert r["reward"] == pytest.approx(main[(r["dataset"], r["split"], name, r["alpha"])])


def test_a_saved_run_renders_the_same_tables_again(quick, tmp_path):
    _, out, module = quick
    module.main(["--from-report", str(out), "--out", str(tmp_path), "--img", str(tmp_path)])
    assert (tmp_path / "report.md").read_text() == (out / "report.md").read_text()
