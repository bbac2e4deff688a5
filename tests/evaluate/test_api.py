"""``irtrouter.evaluate.evaluate``: the README example runs, n/a instead of clipping, exact reruns, honest intervals."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from irtrouter.data.results import ResultsMatrix
from irtrouter.embed import make_embedder
from irtrouter.errors import DataError
from irtrouter.evaluate import evaluate
from irtrouter.evaluate.metrics import paired_bootstrap, query_rewards, reward_contributions
from irtrouter.evaluate.protocol import setting_from_ids
from tests.helpers import topic_catalog, topic_results

SHORT = {"predictor_params": {"max_epochs": 8}, "max_epochs": 8, "max_iter": 40}
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def own_data():
    """(results, train ids, test ids): the user's results with a split of their own."""
    train = topic_results(n_per_topic=40, seed=1)
    test = topic_results(n_per_topic=15, seed=2, prefix="t")
    return ResultsMatrix.concat([train, test]), list(train.query_ids), list(test.query_ids)


@pytest.fixture(scope="module")
def with_bandit(own_data):
    results, train_ids, test_ids = own_data
    return evaluate(results, topic_catalog(), split=(train_ids, test_ids),
                    routers=["small-llm", "random", "knn-tuned", "llm-bandit"], seeds=(0, 1),
                    embedder=make_embedder("hashing:128"), overrides=SHORT, n_boot=500)  # fmt: skip


def readme_example() -> str:
    section = README.read_text().split("### Evaluate on your own data", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_evaluates_three_routers_on_a_users_csv_and_split(own_data, tmp_path, monkeypatch):
    results, train_ids, test_ids = own_data
    results.to_frame().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "llms.json").write_text(json.dumps(topic_catalog().to_records()))
    (tmp_path / "train_ids.txt").write_text("\n".join(train_ids) + "\n")
    (tmp_path / "test_ids.txt").write_text("\n".join(test_ids) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRTROUTER_CACHE_DIR", str(tmp_path / "cache"))
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    ev = namespace["ev"]
    routing = ev.routing
    assert list(dict.fromkeys(routing["router"])) == ["knn-tuned", "routerbench-mlp", "mirt", "best-single"]
    assert set(routing["n_seeds"]) == {5} and set(routing["n_queries"]) == {len(test_ids)}
    eps = 1e-9  # the mean of equal rewards may differ from them in the last bit
    assert (routing["reward_min"] <= routing["reward"] + eps).all()
    assert (routing["reward"] <= routing["reward_max"] + eps).all()
    assert (routing["delta_low"] <= routing["delta"] + eps).all()
    assert (routing["delta"] <= routing["delta_high"] + eps).all()
    chosen = ev.choices[(ev.choices["router"] == "mirt") & (ev.choices["seed"] == 4) & (ev.choices["alpha"] == 0.8)]
    assert sorted(chosen["query_id"]) == sorted(test_ids)
    assert "| mirt |" in ev.markdown()


def test_a_trade_off_outside_the_policys_range_is_reported_not_clipped(with_bandit):
    rows = with_bandit.routing.set_index(["router", "alpha"])
    clipped = rows.loc[("llm-bandit", 0.2)]
    assert math.isnan(clipped["reward"]) and math.isnan(clipped["delta_low"]) and not clipped["beats_baseline"]
    assert "w = 4.0, beyond the policy's trained maximum w = 2" in clipped["unsupported"]
    for alpha in (0.8, 0.5):  # inside the range: computed, no reason
        assert not math.isnan(rows.loc[("llm-bandit", alpha), "reward"])
        assert pd.isna(rows.loc[("llm-bandit", alpha), "unsupported"])
    per_seed = with_bandit.per_seed
    assert per_seed[(per_seed["router"] == "llm-bandit") & (per_seed["alpha"] == 0.2)]["reward"].isna().all()
    choices = with_bandit.choices
    assert not ((choices["router"] == "llm-bandit") & (choices["alpha"] == 0.2)).any()
    assert "n/a, llm-bandit @0.2: alpha 0.2 needs cost weight w = 4.0" in with_bandit.markdown()


def test_rows_show_the_spread_over_seeds_and_gap_closed_of_the_mean(with_bandit):
    rows = with_bandit.routing.set_index(["router", "alpha"])
    bandit = rows.loc[("llm-bandit", 0.8)]
    seeds = with_bandit.per_seed.query("router == 'llm-bandit' and alpha == 0.8")["reward"]
    assert bandit["reward"] == pytest.approx(seeds.mean()) and bandit["reward_std"] == pytest.approx(seeds.std())
    assert bandit["reward_std"] > 0  # the policy's seed moves it: the spread is measured, not assumed
    gap = (bandit["reward"] - bandit["best_single_reward"]) / (bandit["oracle_reward"] - bandit["best_single_reward"])
    assert bandit["gap_closed"] == pytest.approx(gap)
    small = rows.loc[("small-llm", 0.8)]
    base = rows.loc[("best-single", 0.8)]
    assert small["delta"] == pytest.approx(small["reward"] - base["reward"])
    assert small["delta_high"] < 0 and not small["beats_baseline"]


def test_a_fixed_seed_reproduces_every_table_exactly(own_data):
    results, train_ids, test_ids = own_data

    def run():
        return evaluate(results, topic_catalog(), split=(train_ids, test_ids),
                        routers=["routerbench-mlp", "llm-bandit"], seeds=(3,),
                        embedder=make_embedder("hashing:128"), overrides=SHORT, n_boot=300)  # fmt: skip

    first, second = run(), run()
    timings = ["fit_seconds", "decide_seconds"]  # wall clock: the one thing a rerun may change
    pd.testing.assert_frame_equal(first.routing, second.routing, check_exact=True)
    pd.testing.assert_frame_equal(first.choices, second.choices, check_exact=True)
    pd.testing.assert_frame_equal(first.per_seed.drop(columns=timings), second.per_seed.drop(columns=timings),
                                  check_exact=True)  # fmt: skip
    for name, frame in first.tables.items():
        pd.testing.assert_frame_equal(frame, second.tables[name], check_exact=True)
    assert first.markdown() == second.markdown()


def test_the_bootstrap_interval_covers_the_true_difference_about_95_percent_of_the_time():
    # Queries drawn from known parameters: a type (easy or hard), then 0/1 scores of two LLMs.
    # Routing A sends easy queries to the cheap LLM and hard ones to the dear one; B sends all to
    # the dear one. Costs are fixed per LLM, so the expected Reward difference is known exactly.
    p_easy, p = 0.6, {"easy": (0.85, 0.9), "hard": (0.3, 0.8)}  # P(correct) of (cheap, dear)
    cost = np.array([1.0, 4.0])
    alpha, beta, n = 0.8, 0.2, 150
    gain = p_easy * (p["easy"][0] - p["easy"][1])  # A - B on expected score (hard queries: the same LLM)
    saving = p_easy * (cost[0] - cost[1]) / cost.max()  # A - B on expected cost / (max cost per query)
    truth = 100 * (alpha * gain - beta * saving)
    rng = np.random.default_rng(12345)
    covered = []
    for rep in range(200):
        easy = rng.random(n) < p_easy
        probs = np.where(easy[:, None], p["easy"], p["hard"])
        scores = (rng.random((n, 2)) < probs).astype(float)
        costs = np.broadcast_to(cost, (n, 2))
        contributions = reward_contributions(scores, costs, alpha, beta, float(costs.sum(axis=0).max()))
        a = query_rewards(contributions, np.where(easy, 0, 1))
        b = query_rewards(contributions, np.ones(n, dtype=np.int64))
        low, high = paired_bootstrap(a - b, n_boot=1000, random_state=rep)
        covered.append(low <= truth <= high)
    assert 0.85 <= np.mean(covered) <= 0.99, np.mean(covered)


def test_query_rewards_of_a_distribution_are_its_expectation():
    contributions = np.array([[1.0, 3.0], [2.0, 0.0]])
    assert query_rewards(contributions, np.array([[0.5, 0.5], [1.0, 0.0]])).tolist() == [2.0, 2.0]
    assert query_rewards(contributions, np.array([1, 1])).tolist() == [3.0, 0.0]


@pytest.mark.parametrize(
    ("train", "test", "message"),
    [
        (["nope"], None, "1 train query id(s) not in the results (first: 'nope')"),
        (None, "overlap", "1 query id(s) are in both train and test"),
        (None, "twice", "is listed twice"),
        ([], None, "no train query ids given"),
    ],
)
def test_a_bad_split_is_an_error_naming_the_ids(own_data, train, test, message):
    results, train_ids, test_ids = own_data
    train = train_ids if train is None else train
    test = {"overlap": [*test_ids, train_ids[0]], "twice": [*test_ids, test_ids[0]], None: test_ids}[test]
    with pytest.raises(DataError, match=re.escape(message)):
        setting_from_ids("mine", results, topic_catalog(), train, test)


def test_importing_the_evaluation_api_loads_neither_torch_nor_pandas():
    code = (
        "import sys; from irtrouter import evaluate; import irtrouter;"
        "assert 'torch' not in sys.modules and 'pandas' not in sys.modules, 'eager import';"
        "from irtrouter.evaluate.api import evaluate as api; assert evaluate.evaluate is api;"
        "assert irtrouter.Evaluation is evaluate.Evaluation"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
