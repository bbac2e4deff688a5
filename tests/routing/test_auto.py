"""``predictor="auto"``: the validated choice of model family, its saved state, and the CLI's account.

The two data sets are drawn from known models whose words carry the structure continuously (a
query is five words of a random vocabulary, each word with its own weight), so the nearest
neighbours of the kNN blend recover it only roughly and the IRT family that matches the truth
routes clearly better on the validation queries. Margins measured over random_state 0, 1, 2
(validation value per query, winner minus loser, each family's best configuration without the
stack; identical with 1 or 2 torch threads): 2PL over profile-only MIRT 0.010-0.019 on the 2PL
data (MIRT with free offsets over profile-only MIRT there: 0.007-0.018), MIRT over 2PL
0.008-0.020 on the MIRT data. The tests ask for 0.004.
"""

import copy
import json
import string

import numpy as np
import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix, query_id_for
from irtrouter.errors import ConfigError
from irtrouter.routing import IRTRouter, load_router
from irtrouter.routing.router import DEFAULT_CANDIDATES, candidate_spec
from irtrouter.routing.rule import TradeOff, choose, rule_scores
from irtrouter.routing.selection import gain_spread
from irtrouter.routing.tuning import CV_FOLDS, WARMUP_GRID
from tests.helpers import topic_catalog, topic_results

EPOCHS = {"max_epochs": 200, "learning_rate": 0.01}
OFFSETS = "mirt:offset_prior=1.0"  # MIRT with free ability offsets, a candidate named with its parameters


def vocabulary(rng, n):
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(list(string.ascii_lowercase), 7)))
    return sorted(words)


def draw_queries(rng, n_queries, n_words, per_query=5):
    vocab = vocabulary(rng, n_words)
    picks = [rng.choice(n_words, per_query, replace=False) for _ in range(n_queries)]
    texts, seen, rows = [], set(), []
    for pick in picks:
        text = " ".join(vocab[j] for j in pick)
        if text not in seen:  # one row per distinct query
            seen.add(text)
            texts.append(text)
            rows.append(pick)
    return texts, rows


def results_of(texts, llm_ids, P, rng, source):
    Y = (rng.random(P.shape) < P).astype(float)
    return ResultsMatrix(
        query_ids=tuple(query_id_for(t) for t in texts),
        queries=tuple(texts),
        llm_ids=llm_ids,
        scores=Y,
        tasks=("all",) * len(texts),
        source=source,
    )


def twopl_world(n_queries=2500, seed=0):
    """RADAR's 2PL: one scalar ability per LLM, P = sigmoid(2 (theta - b_q)), b_q twice the mean
    weight of the query's words; every LLM has the same profile text, so a profile says nothing."""
    rng = np.random.default_rng(seed)
    weight = rng.permutation(np.linspace(-6, 6, 40))
    texts, picks = draw_queries(rng, n_queries, 40)
    b = np.array([2 * weight[p].mean() for p in picks])
    theta = np.array([-3.0, -1.0, 1.0, 3.0])
    P = 1 / (1 + np.exp(-2.0 * (theta[None, :] - b[:, None])))
    ids = ("llm-a", "llm-b", "llm-c", "llm-d")
    catalog = LLMCatalog(
        [LLMSpec(m, p, p, "a general purpose language model") for m, p in zip(ids, (0.2, 0.8, 2.5, 10.0), strict=True)]
    )
    return results_of(texts, ids, P, rng, "synthetic-2pl"), catalog


def mirt_world(n_queries=3000, seed=0):
    """Two latent abilities: each word loads on both with its own angle, a_q is the mean loading of
    the query's words; a cheap x-specialist, a cheap y-specialist, a weak cheap LLM and an expensive
    all-rounder. Which cheap LLM is best turns with the query's mix, which one scalar cannot hold."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0, np.pi / 2, 40)
    loading = 6.0 * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    texts, picks = draw_queries(rng, n_queries, 40)
    a = np.array([loading[p].mean(axis=0) for p in picks])
    theta = np.array([[3.0, -3.0], [-3.0, 3.0], [-1.0, -1.0], [3.0, 3.0]])
    P = 1 / (1 + np.exp(-(a @ theta.T)))
    ids = ("x-small", "y-small", "weak-small", "big")
    profiles = ("small model trained on x", "small model trained on y", "tiny cheap model", "large expensive model")
    prices = (0.2, 0.25, 0.05, 10.0)
    catalog = LLMCatalog([LLMSpec(*row) for row in zip(ids, prices, prices, profiles, strict=True)])
    return results_of(texts, ids, P, rng, "synthetic-mirt"), catalog


def auto(**kw):
    return IRTRouter(predictor="auto", embedder="hashing:64", predictor_params=EPOCHS, **kw)


@pytest.fixture(scope="module")
def mirt_fitted():
    results, catalog = mirt_world()
    return auto().fit(results, catalog), results


def values(router):
    return {row["candidate"]: row["validation_value"] for row in router.training_["selection"]["table"]}


def test_auto_picks_2pl_when_one_scalar_ability_is_the_truth():
    """Against profile-only MIRT, which cannot tell LLMs of one profile apart, the true 2PL wins;
    MIRT with free offsets (a candidate named with its parameters) can, and nearly closes that gap."""
    results, catalog = twopl_world()
    router = auto(candidates=("mirt", "2pl")).fit(results, catalog)
    assert router.predictor_kind_ == "2pl", router.training_["selection"]
    v = values(router)
    assert v["2pl"] > v["mirt"] + 0.004, v  # a win, not a tie (ties go to the first listed, mirt)
    with_offsets = values(auto(candidates=(OFFSETS,)).fit(results, catalog))[OFFSETS]
    assert with_offsets > v["mirt"] + 0.004, (with_offsets, v)


def test_auto_picks_mirt_when_llms_are_strong_on_different_dimensions(mirt_fitted):
    router, _ = mirt_fitted
    assert router.predictor_kind_ == "mirt", router.training_["selection"]
    v = values(router)
    assert v["mirt"] > v["2pl"] + 0.004, v
    assert type(router.predictor_).kind == "mirt"


def test_the_selection_record_is_complete(mirt_fitted):
    router, results = mirt_fitted
    sel = router.training_["selection"]
    assert candidate_spec(sel["chosen"])[0] == router.predictor_kind_
    assert [row["candidate"] for row in sel["table"]] == list(DEFAULT_CANDIDATES) == ["mirt", "2pl"]
    assert [row["chosen"] for row in sel["table"]] == [row["candidate"] == sel["chosen"] for row in sel["table"]]
    assert sel["alphas"] == [0.2, 0.5, 0.8]
    assert 0.15 * results.n_queries <= sel["n_validation_queries"] <= 0.25 * results.n_queries
    assert sel["guard"] == router.guard_.validation
    assert sel["refit"] is False
    assert router.training_["fit_queries"] == results.n_queries - sel["n_validation_queries"]
    (kept,) = [row for row in sel["cross_validation"]["table"] if row["kept"]]
    # auto turns on the guard and either the stack or the blend (calibrated or not); the record
    # is the kept configuration's.
    assert router.guard_ is not None
    if kept["calibration"] == "stack":
        assert router.stacker_ is not None and router.knn_blend_ is None and router.calibrator_ is None
        assert sel["stacking"] == router.stacker_.report(router.llm_ids)
        assert set(sel["stacking"]) == set(results.llm_ids)
        assert sel["knn_blend"] is None and sel["calibration"] is None
    else:
        assert router.stacker_ is None and sel["stacking"] is None
        assert sel["knn_blend"] == {"k": router.knn_blend_[0], "irt_weight": router.knn_blend_[1]}
        assert (router.calibrator_ is None) == (kept["calibration"] == "none")
        assert sel["calibration"] == (None if router.calibrator_ is None else router.calibrator_.report)


def test_saved_auto_router_reloads_with_identical_state_and_decisions(mirt_fitted, tmp_path):
    router, results = mirt_fitted
    router.save(tmp_path / "r")
    again = load_router(tmp_path / "r")
    assert again.predictor_kind_ == router.predictor_kind_
    assert again.knn_blend_ == router.knn_blend_
    assert again.training_ == json.loads(json.dumps(router.training_))
    assert again.training_["selection"] == router.training_["selection"]
    assert (again.calibrator_ is None) == (router.calibrator_ is None)
    if router.calibrator_ is not None:
        assert [m.method for m in again.calibrator_.maps] == [m.method for m in router.calibrator_.maps]
        assert again.calibrator_.llm_ids == router.calibrator_.llm_ids
    assert (again.stacker_ is None) == (router.stacker_ is None)
    if router.stacker_ is not None:
        assert again.stacker_.ks == router.stacker_.ks
        np.testing.assert_array_equal(again.stacker_.coef, router.stacker_.coef)
    for rule, margins in router.guard_.margins.items():
        np.testing.assert_array_equal(again.guard_.margins[rule], margins)
    np.testing.assert_array_equal(again.guard_.mean_score, router.guard_.mean_score)
    np.testing.assert_array_equal(again.guard_.mean_cost, router.guard_.mean_cost)
    queries = list(results.queries[:200])
    np.testing.assert_array_equal(again.predict(queries).p_hat, router.predict(queries).p_hat)
    for alpha in (0.2, 0.5, 0.8):
        a, b = router.route_many(queries, alpha), again.route_many(queries, alpha)
        assert [(x.llm_id, x.p_hat, x.extras) for x in a] == [(x.llm_id, x.p_hat, x.extras) for x in b]


def test_a_stacked_router_decides_alike_in_a_batch_and_one_query_at_a_time(mirt_fitted):
    """The route path of the stack (kNN means at its k's from one neighbour search): the embedded
    batch and route_many agree exactly; one query at a time agrees to float32 rounding wherever
    its neighbours are the batch's at every k read (these hashed five-word queries tie in
    similarity, and a tie at a k-th neighbour can fall either way between a batch's and one
    query's float rounding)."""
    router, results = mirt_fitted
    assert router.stacker_ is not None, router.training_["selection"]["cross_validation"]
    queries = list(results.queries[:40])
    X = router.embed(queries)
    k = router.stacker_.max_k
    together = router.neighbours_.search(X, k)
    sizes = (router.warmup_k, *router.stacker_.ks)
    alone = [router.neighbours_.search(X[i : i + 1], k)[0] for i in range(len(X))]
    same = [all(set(a[:j]) == set(b[:j]) for j in sizes) for a, b in zip(alone, together, strict=True)]
    assert sum(same) >= 10, sum(same)
    for alpha in (0.3, 0.8):
        batch = router.route_many_embedded(X, queries, alpha)
        assert batch == router.route_many(queries, alpha)
        single = [router.route(q, alpha) for q in queries]
        for s, b, kept in zip(single, batch, same, strict=True):
            if kept:
                assert s.llm_id == b.llm_id
                np.testing.assert_allclose(s.p_hat, b.p_hat, rtol=0, atol=1e-6)
    # The stack is what routes: its P differs from the model's own.
    own = router.predictor_.predict_proba(router.predict(queries).features)
    assert not np.allclose(router.predict(queries).p_hat, own)


def test_guarded_decisions_say_where_the_default_kept_them(mirt_fitted):
    router, results = mirt_fitted
    queries = list(results.queries[:300])
    pred = router.predict(queries)
    for alpha in (0.2, 0.5, 0.8):
        t = TradeOff.of(alpha)
        decisions = router.route_many(queries, alpha)
        rule_choice = choose(pred.p_hat, pred.cost, t)
        scores = rule_scores(pred.p_hat, pred.cost, t)
        for i, d in enumerate(decisions):
            assert set(d.extras) >= {"default_llm", "margin", "stayed_on_default"}
            default = router.llm_ids.index(d.extras["default_llm"])
            if d.extras["stayed_on_default"]:
                assert d.llm_id == d.extras["default_llm"] != router.llm_ids[rule_choice[i]]
                # The bar is the margin plus the tuned multiple of the gain's spread (noted when > 0).
                z = d.extras.get("spread_multiple", 0.0)
                assert z == round(router.guard_.spread(t, "linear"), 6)
                spread = gain_spread(pred.p_hat[i : i + 1], rule_choice[i : i + 1], default, t)[0]
                gain = scores[i, rule_choice[i]] - scores[i, default]
                assert gain <= d.extras["margin"] + z * spread + 1e-6
                assert "stayed on the best single LLM" in d.explanation.reason
                # The reason says which part of the bar kept it.
                by_spread = "times the gain's spread" in d.explanation.reason
                if abs(gain - d.extras["margin"]) > 1e-5:  # the noted margin is rounded to 6 digits
                    assert by_spread == (gain > d.extras["margin"]), (gain, d.extras, d.explanation.reason)
            else:
                assert d.index == rule_choice[i]
        # The default is the same LLM for every query of a call.
        assert len({d.extras["default_llm"] for d in decisions}) == 1
    # Budget mode routes by the calibrated rule alone: no guard notes.
    budget = router.route(queries[0], budget=0.5)
    assert "stayed_on_default" not in budget.extras


def test_a_fixed_predictor_has_no_calibration_guard_or_blend_by_default():
    results, catalog = topic_results(n_per_topic=30, seed=4), topic_catalog()
    fixed = {"predictor": "mirt", "embedder": "hashing:64", "predictor_params": {"max_epochs": 5}}
    router = IRTRouter(**fixed).fit(results, catalog)
    assert router.calibrator_ is None and router.guard_ is None and router.knn_blend_ is None
    assert "selection" not in router.training_
    assert "stayed_on_default" not in router.route("solve the integral equation").extras
    # Each part can be asked for alone; the record then has one candidate.
    guarded = IRTRouter(**fixed, guard=True).fit(results, catalog)
    assert guarded.guard_ is not None and guarded.calibrator_ is None and guarded.knn_blend_ is None
    assert [row["candidate"] for row in guarded.training_["selection"]["table"]] == ["mirt"]


def test_a_decision_the_spread_term_kept_says_so(mirt_fitted):
    """With a margin of 0 and a large spread multiple, every query the rule would move is kept by
    the spread term, and its record and reason say so; with the multiple at 0 the margin keeps it."""
    router, results = mirt_fitted
    queries = list(results.queries[:200])
    for z, margin, why in ((50.0, 0.0, "plus 50 times the gain's spread"), (0.0, 1e9, "under the validated margin)")):
        r = copy.deepcopy(router)
        r.guard_.margins["linear"] = np.full_like(r.guard_.margins["linear"], margin)
        r.guard_.spreads["linear"] = np.full_like(r.guard_.margins["linear"], z)
        r.guard_._settings.clear()
        decisions = r.route_many(queries, 0.8)
        stayed = [d for d in decisions if d.extras["stayed_on_default"]]
        assert stayed, "the rule moves some queries off the default"
        for d in stayed:
            assert why in d.explanation.reason, d.explanation.reason
            assert d.extras.get("spread_multiple", 0.0) == z
        # Every query the gate did not take past the guard stays on the default LLM.
        assert all(d.llm_id == d.extras["default_llm"] for d in decisions if not d.extras.get("unfamiliar"))


def test_bad_auto_settings_are_refused():
    results, catalog = topic_results(n_per_topic=10, seed=5), topic_catalog()
    with pytest.raises(ConfigError, match="unknown calibration 'sigmoid'"):
        auto(calibration="sigmoid").fit(results, catalog)
    with pytest.raises(ConfigError, match="at least one candidate"):
        auto(candidates=()).fit(results, catalog)
    with pytest.raises(ConfigError, match="unknown predictor 'svm'"):
        auto(candidates=("mirt", "svm")).fit(results, catalog)
    with pytest.raises(ConfigError, match="candidate 'mirt:offset_prior': expected key=value"):
        auto(candidates=("mirt:offset_prior",)).fit(results, catalog)
    with pytest.raises(ConfigError, match="bad predictor_params for mirt:depth=3"):
        auto(candidates=("mirt:depth=3",)).fit(results, catalog)
    with pytest.raises(ConfigError, match="validation_fraction"):
        auto(validation_fraction=1.0).fit(results, catalog)
    with pytest.raises(ConfigError, match="guard_confidence must be finite and >= 0"):
        auto(guard_confidence=-1.0).fit(results, catalog)
    with pytest.raises(ConfigError, match="simpler_within must be finite and >= 0"):
        auto(simpler_within=float("nan")).fit(results, catalog)
    with pytest.raises(ConfigError, match="stacking reads the kNN blend's neighbours"):
        auto(stacking=True, knn_blend=False).fit(results, catalog)
    for budget in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="time_budget must be a number of seconds > 0"):
            auto(time_budget=budget).fit(results, catalog)


def test_a_spent_time_budget_leaves_the_later_candidates_out(tmp_path):
    """The first candidate always runs; one that would start after the budget is spent is not
    fitted, and the record names it. A budget that is not reached changes nothing."""
    results, catalog = topic_results(n_per_topic=20, seed=8), topic_catalog()
    tight = auto(candidates=("mirt", "2pl", "nirt"), time_budget=1e-9).fit(results, catalog)
    sel = tight.training_["selection"]
    assert sel["time_budget"] == {"seconds": 1e-9, "left_out": ["2pl", "nirt"]}
    assert [row["candidate"] for row in sel["table"]] == ["mirt"] and sel["chosen"] == "mirt"
    assert tight.predictor_kind_ == "mirt"
    roomy = auto(candidates=("mirt", "2pl"), time_budget=1e6).fit(results, catalog)
    free = auto(candidates=("mirt", "2pl")).fit(results, catalog)
    assert roomy.training_["selection"]["time_budget"] == {"seconds": 1e6, "left_out": []}
    assert free.training_["selection"]["time_budget"] is None

    def untimed(router):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in router.training_["selection"]["table"]]

    assert untimed(roomy) == untimed(free)
    assert all(row["seconds"] > 0 for row in roomy.training_["selection"]["table"])
    # Saved and loaded with the router's other parameters.
    tight.save(tmp_path / "tight")
    assert load_router(tmp_path / "tight").time_budget == 1e-9


def test_without_refit_the_router_routes_with_the_model_its_stages_were_tuned_on():
    """refit=False (auto's default) keeps the fit on the queries not held out, whose predictions the
    stages were fitted to; refit=True fits the winner again on every training query. Either way
    the neighbours (warm-up, kNN) are every training query."""
    results, catalog = topic_results(n_per_topic=40, seed=6), topic_catalog()
    kept = auto(candidates=("mirt",)).fit(results, catalog)
    again = auto(candidates=("mirt",), refit=True).fit(results, catalog)
    n_val = kept.training_["selection"]["n_validation_queries"]
    assert kept.training_["fit_queries"] == results.n_queries - n_val
    assert again.training_["fit_queries"] == results.n_queries
    assert "fit" not in kept.training_["stage_seconds"] and "fit" in again.training_["stage_seconds"]
    assert kept.neighbours_.embeddings.shape[0] == again.neighbours_.embeddings.shape[0] == results.n_queries
    # A fixed predictor refits by default (its calibrated P was better calibrated so).
    fixed = IRTRouter(predictor="mirt", embedder="hashing:64", calibration="platt", predictor_params=EPOCHS)
    assert fixed.fit(results, catalog).training_["fit_queries"] == results.n_queries
    # The same stages were tuned in both (validation does not depend on the refit) ...
    assert kept.training_["selection"]["cross_validation"] == again.training_["selection"]["cross_validation"]
    # ... and the routed models differ: one saw the validation queries' answers, the other did not.
    X = kept.embed(list(results.queries[:50]))
    assert not np.allclose(kept.predictor_.predict_proba(X), again.predictor_.predict_proba(X))


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("auto-cli")
    topic_results(n_per_topic=40, seed=3).to_frame().to_csv(root / "results.csv", index=False)
    (root / "llms.json").write_text(json.dumps(topic_catalog().to_records()))
    return root


def train_cli(files, out, *extra):
    args = ["train", str(files / "results.csv"), "--llms", str(files / "llms.json"), "--out", str(files / out)]
    res = CliRunner().invoke(cli, [*args, "--embedder", "hashing:64", "--epochs", "30", *extra])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_cli_train_names_the_candidates_a_time_budget_left_out(data_files):
    out = train_cli(data_files, "budget", "--time-budget", "0.000001")
    assert "left out for the time budget of 1e-06s: 2pl (not fitted, not compared)" in out, out
    assert out.splitlines()[0].startswith("chose mirt on "), out
    args = ["train", str(data_files / "results.csv"), "--llms", str(data_files / "llms.json")]
    bad = CliRunner().invoke(
        cli, [*args, "--out", str(data_files / "budget-bad"), "--embedder", "hashing:64", "--time-budget", "-3"]
    )
    assert bad.exit_code != 0 and "time_budget must be a number of seconds > 0" in bad.output, bad.output


def test_cli_train_explains_the_choice(data_files):
    out = train_cli(data_files, "explained", "--explain-choice")
    lines = out.splitlines()
    chose = [line for line in lines if line.startswith("chose ")]
    assert len(chose) == 1, out
    saved = load_router(data_files / "explained")
    sel = saved.training_["selection"]
    assert chose[0].startswith(f"chose {sel['chosen']} on {sel['n_validation_queries']} validation queries")
    chosen_value = next(r["validation_value"] for r in sel["table"] if r["chosen"])
    for row in sel["table"]:
        assert f"{row['candidate']} {row['validation_value']:+.4f}" in chose[0]
        # The family choice says how sure it is: the chosen one's error is 0, the others' gap +- error.
        assert row["se_vs_chosen"] >= 0 and (not row["chosen"] or row["se_vs_chosen"] == 0)
        if not row["chosen"]:
            gap = row["validation_value"] - chosen_value
            behind = f"({gap:+.4f} +- {row['se_vs_chosen']:.4f})"
            assert f"{row['candidate']} {row['validation_value']:+.4f} {behind}" in chose[0]
    assert any(line.startswith("  guard margins by alpha") for line in lines), out
    timed = ", ".join(f"{row['candidate']} {row['seconds']:.1f}s" for row in sel["table"])
    assert f"  time per candidate, fitted and judged: {timed} (--time-budget bounds it)" in lines, out
    gate = [line for line in lines if line.startswith("  novelty gate: ")]
    assert len(gate) == 1 and f"under {sel['novelty_gate']['threshold']:.3f}" in gate[0], out
    cv_rows = sel["cross_validation"]["table"]
    assert {(r["calibration"], r["guard"]) for r in cv_rows} == {("none", True), ("auto", True), ("stack", True)}
    assert sum(line.startswith("  out of fold: ") for line in lines) == len(cv_rows), out
    # Each configuration below its family's best says by how much, with that difference's error.
    for row in cv_rows:
        best = max(r["cv_value"] for r in cv_rows if r["candidate"] == row["candidate"])
        behind = [line for line in lines if line.startswith(f"  out of fold: {row['candidate']},")]
        assert row["se_vs_best"] >= 0 and (not row["kept"] or row["se_vs_best"] == 0)  # the kept is the best
        if row["cv_value"] < best:
            assert any(f"+- {row['se_vs_best']:.4f} from its best" in line for line in behind), out
    # Without the flag: the one-line verdict, not the details.
    plain = train_cli(data_files, "plain")
    assert any(line.startswith("chose ") for line in plain.splitlines())
    assert "guard margins" not in plain and "  calibration " not in plain


def test_cli_train_cross_fits_and_tunes_the_warmup_on_request(data_files):
    out = train_cli(data_files, "tuned", "--validation-folds", "2", "--tune-warmup", "--explain-choice")
    sel = load_router(data_files / "tuned").training_["selection"]
    lines = out.splitlines()
    crossed = [line for line in lines if line.startswith("  cross-fitted on 2 carves")]
    assert len(crossed) == len(sel["cross_fit"]["table"]) and sum("<- kept" in line for line in crossed) == 1, out
    (warmup,) = [line for line in lines if line.startswith("  warm-up lambda/k ")]
    if "skipped" in sel["warmup"]:
        # Routing by the task (kept on the first carve) reads no model: no warm-up is tuned.
        assert warmup == f"  warm-up lambda/k not tuned: {sel['warmup']['skipped']}", out
    else:
        assert warmup.endswith(f"routes with {sel['warmup']['lambda']:g}/{sel['warmup']['k']}"), out
    assert "cross-fitted" not in train_cli(data_files, "untuned", "--explain-choice")


def test_the_stages_kept_are_the_best_of_the_cross_validation(mirt_fitted):
    """Calibration none / auto / the stack is chosen by its out-of-fold value, guarded as the router
    routes (random folds; task folds are off by default and need 3 tasks); each candidate family is
    judged by its best configuration without the stack, and the winner keeps its best of all."""
    router, _ = mirt_fitted
    cv = router.training_["selection"]["cross_validation"]
    assert cv["folds"] == CV_FOLDS and cv["task_folds"] is False
    rows = cv["table"]
    assert len(rows) == 6 and all(r["guard"] for r in rows)  # 2 candidates x none / auto / stack
    for row in router.training_["selection"]["table"]:
        own = [r["cv_value"] for r in rows if r["candidate"] == row["candidate"] and r["calibration"] != "stack"]
        assert row["validation_value"] == max(own)
    (best,) = [r for r in rows if r["kept"]]
    assert best["candidate"] == router.training_["selection"]["chosen"]
    assert best["cv_value"] == max(r["cv_value"] for r in rows if r["candidate"] == best["candidate"])
    assert (router.guard_ is not None) == best["guard"]
    assert (router.calibrator_ is not None) == (best["calibration"] == "auto")


def test_a_wide_simpler_within_keeps_the_simplest_configuration():
    """With the tolerance wider than any difference, each family keeps its simplest configuration
    (the blend, uncalibrated); the family is still judged by its best one, and the record says so."""
    results, catalog = mirt_world()
    router = auto(simpler_within=1e6).fit(results, catalog)
    sel = router.training_["selection"]
    (kept,) = [r for r in sel["cross_validation"]["table"] if r["kept"]]
    assert kept["calibration"] == "none" and sel["simpler_within"] == 1e6
    assert router.stacker_ is None and router.calibrator_ is None and router.knn_blend_ is not None


def test_cross_fitting_tunes_the_stages_on_every_block_and_keeps_one_routing_model(tmp_path):
    """validation_folds=3: the family is chosen on the first block as before; the winner is fitted
    twice more, each time without one more block, and its stages are judged and fitted on the
    out-of-block predictions of all three blocks. The router still routes with the first block's
    fit (the one saved), and folds=1 is the single carve."""
    results, catalog = topic_results(n_per_topic=40, seed=6), topic_catalog()
    single = auto(candidates=("mirt",)).fit(results, catalog)
    crossed = auto(candidates=("mirt",), validation_folds=3).fit(results, catalog)
    sel, before = crossed.training_["selection"], single.training_["selection"]
    assert before["cross_fit"] is None
    n_val = sel["n_validation_queries"]
    assert n_val == before["n_validation_queries"]
    assert crossed.training_["fit_queries"] == single.training_["fit_queries"] == results.n_queries - n_val
    assert sel["cross_fit"]["folds"] == 3 and sel["cross_fit"]["n_queries"] == 3 * n_val  # 40 per task: 8 each
    assert crossed.guard_.validation["n_queries"] == 3 * n_val
    assert sum(row["kept"] for row in sel["cross_fit"]["table"]) == 1
    # The family's judgement and the routing model are those of the first block.
    assert sel["table"] == [{**row, "seconds": sel["table"][0]["seconds"]} for row in before["table"]]
    X = single.embed(list(results.queries[:30]))
    np.testing.assert_array_equal(single.predictor_.predict_proba(X), crossed.predictor_.predict_proba(X))
    crossed.save(tmp_path / "r")
    loaded = load_router(tmp_path / "r")
    assert loaded.validation_folds == 3
    queries = list(results.queries[:30])
    np.testing.assert_array_equal(loaded.predict(queries).p_hat, crossed.predict(queries).p_hat)
    # With task_folds the pooled re-judgement is averaged with one by whole tasks too.
    by_task = auto(candidates=("mirt",), validation_folds=3, task_folds=True).fit(results, catalog)
    assert by_task.training_["selection"]["cross_validation"]["task_folds"] is True
    judged = [[row["cv_value"] for row in r.training_["selection"]["cross_fit"]["table"]] for r in (crossed, by_task)]
    assert judged[0] != judged[1]
    with pytest.raises(ConfigError, match="validation_folds must be between 1 and 1 / validation_fraction"):
        auto(validation_folds=6).fit(results, catalog)
    for settings in ({"validation_folds": 2}, {"tune_warmup": True}):
        with pytest.raises(ConfigError, match="validation_folds and tune_warmup tune the stages"):
            IRTRouter(predictor="mirt", embedder="hashing:64", **settings).fit(results, catalog)


def test_a_tuned_warmup_is_the_best_pair_out_of_fold_and_routes(tmp_path):
    """tune_warmup: every pair of WARMUP_GRID (the router's own first) is judged with the kept
    configuration; the best routes, is recorded and saved. Off, the router's own pair routes."""
    results, catalog = topic_results(n_per_topic=40, seed=6), topic_catalog()
    plain = auto(candidates=("mirt",)).fit(results, catalog)
    assert plain.training_["selection"]["warmup"] is None
    assert (plain.warmup_lambda_, plain.warmup_k_) == (plain.warmup_lambda, plain.warmup_k) == (0.3, 5)
    # Without the kNN stages, so that P is the model's (here the blend would be kNN alone).
    tuned = auto(candidates=("mirt",), warmup_lambda=0.5, warmup_k=3, tune_warmup=True, knn_blend=False)
    tuned.fit(results, catalog)
    record = tuned.training_["selection"]["warmup"]
    pairs = [(row["lambda"], row["k"]) for row in record["table"]]
    assert pairs == [(0.5, 3), *WARMUP_GRID]
    values = [row["cv_value"] for row in record["table"]]
    assert record["table"][values.index(max(values))]["lambda"] == record["lambda"] == tuned.warmup_lambda_
    assert (record["lambda"], record["k"]) == (tuned.warmup_lambda_, tuned.warmup_k_)
    queries = list(results.queries[:30])
    X = tuned.embed(queries)
    lam = 0.5 if tuned.warmup_lambda_ != 0.5 else 0.0
    assert np.array_equal(tuned.predict(queries).p_hat, tuned.predict_embedded(X, queries).p_hat)
    assert not np.array_equal(tuned.predict(queries).p_hat, tuned.predict_embedded(X, queries, warmup_lambda=lam).p_hat)
    tuned.save(tmp_path / "r")
    loaded = load_router(tmp_path / "r")
    assert (loaded.warmup_lambda_, loaded.warmup_k_) == (tuned.warmup_lambda_, tuned.warmup_k_)
    np.testing.assert_array_equal(loaded.predict(queries).p_hat, tuned.predict(queries).p_hat)
