"""Shadow evaluation: IPS and DR are unbiased and their intervals cover, on logs with known propensities."""

import json

import numpy as np
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.online.feedback import scored_requests
from irtrouter.online.shadow import bootstrap_means, dr_terms, ips_terms, logged_token_costs
from irtrouter.routing import load_router
from irtrouter.store.reading import read_log
from tests.helpers import topic_results
from tests.online.conftest import LoggedRequest, write_log


def synthetic_log(rng, n=400):
    """Contexts in 3 groups, 3 actions; the logging policy's propensities depend on the group."""
    group = rng.integers(0, 3, n)
    mu = np.array([[0.8, 0.3, 0.5], [0.2, 0.7, 0.4], [0.5, 0.5, 0.9]])  # mean reward (group, action)
    logging = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])
    action = np.array([rng.choice(3, p=logging[g]) for g in group])
    reward = (rng.random(n) < mu[group, action]).astype(float)
    target = np.array([0, 1, 2])[group]  # the candidate: the best action of each group
    return group, mu, logging[group, action], action, reward, target


def test_ips_and_dr_are_unbiased_and_their_intervals_cover():
    rng = np.random.default_rng(0)
    biased_model = np.array([[0.6, 0.6, 0.6]] * 3)  # DR must stay unbiased with a wrong model
    estimates, covered = {"ips": [], "dr": []}, {"ips": 0, "dr": 0}
    reps = 150
    for rep in range(reps):
        group, mu, prop, action, reward, target = synthetic_log(rng)
        truth_value = mu[group, target].mean()
        match = action == target
        terms = {
            "ips": ips_terms(reward, prop, match),
            "dr": dr_terms(reward, prop, match, biased_model[group, target], biased_model[group, action]),
        }
        for name, t in terms.items():
            estimates[name].append(t.mean())
            low, high = np.percentile(bootstrap_means(t, 300, rep)[:, 0], [2.5, 97.5])
            covered[name] += low <= truth_value <= high
    group_share = np.full(3, 1 / 3)
    truth_mean = float(group_share @ mu[np.arange(3), [0, 1, 2]])
    for name in ("ips", "dr"):
        values = np.asarray(estimates[name])
        se = values.std(ddof=1) / np.sqrt(reps)
        assert abs(values.mean() - truth_mean) < 4 * se + 0.005, (name, values.mean(), truth_mean)
        assert covered[name] / reps >= 0.85, (name, covered[name])


def test_the_live_router_as_candidate_changes_nothing_and_every_estimate_is_the_live_value(trained_dir, tmp_path):
    router = load_router(trained_dir)
    truth = topic_results(n_per_topic=15, seed=9, prefix="s")
    X = router.embed(list(truth.queries))
    decisions = router.route_many_embedded(X, list(truth.queries), alpha=0.8, explain=False)
    requests = []
    for i, d in enumerate(decisions):
        score = float(truth.scores[i, truth.llm_ids.index(d.llm_id)])
        requests.append(LoggedRequest(None, d.llm_id, d.llm_id, [score], embedding=X[i], decision=d.to_dict()))
    url = write_log(tmp_path / "log.sqlite", requests)
    res = CliRunner().invoke(cli, ["shadow", str(trained_dir), "--db", url, "--json", "--bootstrap", "200"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["share_changed"] == 0.0 and body["n_scored"] == truth.n_queries
    for q in ("performance", "cost_usd", "reward"):
        e = body["estimates"][q]
        assert np.isclose(e["ips"]["value"], e["live"]["value"]) and np.isclose(e["dr"]["value"], e["live"]["value"])
        assert np.isclose(e["dr_minus_live"]["value"], 0.0, atol=1e-9)
    text = CliRunner().invoke(cli, ["shadow", str(trained_dir), "--db", url, "--bootstrap", "200"])
    assert text.exit_code == 0 and "candidate DR" in text.stdout and "Reward" in text.stdout


def test_a_log_without_scores_is_one_error_line(trained_dir, tmp_path):
    url = write_log(tmp_path / "log.sqlite", [LoggedRequest("what is an integral", "big", "big", [])])
    res = CliRunner().invoke(cli, ["shadow", str(trained_dir), "--db", url])
    assert res.exit_code == 1 and "no scored decision" in res.stderr


def test_costs_for_a_model_without_usd_come_from_the_logged_token_counts(trained_dir, tmp_path):
    # A price-only cost model has no USD: DR's cost (and so Reward) model is each LLM's prices at
    # the row's logged tokens (10 in; the logged LLM's mean output, 20), never zero.
    router = load_router(trained_dir)
    first, other = router.llm_ids[0], router.llm_ids[1]
    url = write_log(
        tmp_path / "log.sqlite",
        [LoggedRequest("q one", first, first, [1.0]), LoggedRequest("q two", first, first, [0.0])],
    )
    costs = logged_token_costs(router, scored_requests(read_log(url)).frame)
    for j, m in enumerate(router.llm_ids):
        spec = router.catalog_[m]
        assert np.allclose(costs[:, j], (10 * spec.input_price + 20 * spec.output_price) / 1e6)
    assert costs.shape == (2, len(router.llm_ids)) and costs[0, router.llm_ids.index(other)] > 0
