import subprocess
import sys
import textwrap
from typing import ClassVar

import numpy as np
import pytest

from irtrouter.data.catalog import LLMSpec
from irtrouter.errors import ConfigError, DataError, NotFittedError, RouterFormatError, UnknownLLMError
from irtrouter.routing import IRTRouter, load_router
from tests.helpers import TOPIC_LLMS


class TopicLabeller:
    """A labeller that names abilities from the topic word each synthetic query carries."""

    name = "test:topic-words"
    ABILITIES: ClassVar[dict[str, set[int]]] = {"math": {9}, "code": {13}, "history": {3, 17}}

    def label(self, queries):
        return set().union(*(v for q in queries for k, v in self.ABILITIES.items() if f" {k} " in q))


@pytest.fixture(scope="module", params=["mirt", "nirt"])
def fitted(request, topic_data):
    train, _, catalog = topic_data
    router = IRTRouter(predictor=request.param, embedder="hashing:128", predictor_params={"max_epochs": 400})
    return router.fit(train, catalog, labeller=TopicLabeller())


def test_router_learns_who_is_good_at_what(fitted, topic_data):
    _, test, _ = topic_data
    pred = fitted.predict(test.queries)
    tasks = np.array(test.tasks)
    by = {m: j for j, m in enumerate(TOPIC_LLMS)}
    # Among the cheap LLMs, each topic's specialist is predicted best on its topic.
    assert pred.p_hat[tasks == "math", by["math-small"]].mean() > pred.p_hat[tasks == "math", by["code-small"]].mean()
    assert pred.p_hat[tasks == "code", by["code-small"]].mean() > pred.p_hat[tasks == "code", by["math-small"]].mean()
    chosen = fitted.choose(pred, alpha=0.8)
    assert (chosen[tasks == "math"] == by["math-small"]).mean() > 0.8
    assert (chosen[tasks == "code"] == by["code-small"]).mean() > 0.8
    # When only performance matters the expensive all-rounder wins most history queries.
    assert (fitted.choose(pred, alpha=1.0)[tasks == "history"] == by["big"]).mean() > 0.8


def test_route_reports_every_llm_and_respects_the_allowed_subset(fitted):
    d = fitted.route("solve the integral equation for x", alpha=0.8)
    assert d.llm_ids == TOPIC_LLMS and len(d.p_hat) == len(d.cost) == len(d.score) == 4
    assert d.score[d.index] == max(d.score)
    limited = fitted.route("solve the integral equation for x", alpha=1.0, allowed_llms=["weak-small", "code-small"])
    assert limited.llm_id in {"weak-small", "code-small"}
    assert limited.allowed == (False, True, True, False)
    body = d.to_dict()
    assert body["llm_id"] == d.llm_id and len(body["llms"]) == 4


def test_save_load_gives_identical_decisions(fitted, topic_data, tmp_path):
    _, test, _ = topic_data
    fitted.save(tmp_path / "r")
    again = load_router(tmp_path / "r")
    for alpha in (0.2, 0.5, 0.8):
        a, b = fitted.route_many(test.queries, alpha), again.route_many(test.queries, alpha)
        assert [x.llm_id for x in a] == [x.llm_id for x in b]
        assert [x.p_hat for x in a] == [x.p_hat for x in b]
        assert [x.difficulty for x in a] == [x.difficulty for x in b]
    assert again.training_ == fitted.training_
    if fitted.predictor == "nirt":
        assert again.relevance_info_["labeller"] == "test:topic-words"


def test_fit_on_given_query_embeddings_equals_fit_that_embeds(fitted, topic_data):
    train, test, catalog = topic_data
    params = {"predictor": fitted.predictor, "embedder": "hashing:128", "predictor_params": {"max_epochs": 400}}
    given = IRTRouter(**params).fit(
        train, catalog, labeller=TopicLabeller(), query_embeddings=fitted.neighbours_.embeddings
    )
    np.testing.assert_array_equal(given.predict(test.queries).p_hat, fitted.predict(test.queries).p_hat)
    with pytest.raises(ConfigError, match=r"query_embeddings has shape \(3, 128\)"):
        IRTRouter(**params).fit(train, catalog, query_embeddings=fitted.neighbours_.embeddings[:3])


def test_warm_up_changes_predictions_only_when_on(fitted, topic_data):
    _, test, _ = topic_data
    X = fitted.embed(test.queries[:10])
    cold = fitted.predict_embedded(X, test.queries[:10], warmup_lambda=0.0)
    warm = fitted.predict_embedded(X, test.queries[:10], warmup_lambda=0.5)
    assert not np.allclose(cold.p_hat, warm.p_hat)
    # lambda = 1 is the neighbours' mean alone: it equals predicting from that mean directly.
    near = fitted.neighbours_.search(X, fitted.warmup_k)
    mean = fitted.neighbours_.embeddings[near].mean(axis=1)
    full = fitted.predict_embedded(X, test.queries[:10], warmup_lambda=1.0)
    ctx = None if fitted.train_relevance_ is None else fitted.train_relevance_[near[:, : fitted.relevance_k]].mean(1)
    np.testing.assert_allclose(full.p_hat, fitted.predictor_.predict_proba(mean, ctx), rtol=1e-5)


def test_new_llm_from_profile_alone(fitted, topic_data):
    train, _, catalog = topic_data
    router = IRTRouter(embedder="hashing:128", predictor_params={"max_epochs": 20}).fit(train, catalog)
    router.add_llm(LLMSpec("newcomer", 0.3, 0.3, "small model specialised in python code function"))
    d = router.route("python function to reverse a list")
    assert d.llm_ids[-1] == "newcomer" and 0 <= d.p_hat[-1] <= 1
    with pytest.raises(ConfigError, match="already"):
        router.add_llm(LLMSpec("newcomer", 1, 1))


def test_errors(topic_data, fitted):
    train, _, catalog = topic_data
    with pytest.raises(NotFittedError):
        IRTRouter().route("hello")
    with pytest.raises(ConfigError, match="unknown predictor 'svm'"):
        IRTRouter(predictor="svm").fit(train, catalog)
    with pytest.raises(ConfigError, match="n_dims must be 25"):
        IRTRouter(predictor="nirt", n_dims=10).fit(train, catalog)
    with pytest.raises(UnknownLLMError, match="unknown LLM 'big'"):
        IRTRouter(embedder="hashing:64").fit(train, catalog.subset(["math-small", "code-small", "weak-small"]))
    with pytest.raises(DataError, match="empty query"):
        fitted.route("   ")
    with pytest.raises(UnknownLLMError):
        fitted.route("x", allowed_llms=["gpt-9"])
    with pytest.raises(ConfigError, match="max_epoch"):
        IRTRouter(embedder="hashing:64", predictor_params={"max_epoch": 3}).fit(train, catalog)


def test_loading_and_routing_never_import_torch(fitted, tmp_path):
    fitted.save(tmp_path / "r")
    code = textwrap.dedent(f"""
        import sys
        from irtrouter import load_router
        router = load_router({str(tmp_path / "r")!r})
        print(router.route("integral of x squared").llm_id)
        assert "torch" not in sys.modules, "torch was imported"
        assert "pandas" not in sys.modules, "pandas was imported"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in TOPIC_LLMS


def test_persistence_errors(fitted, tmp_path):
    with pytest.raises(RouterFormatError, match="not a saved router"):
        load_router(tmp_path)
    fitted.save(tmp_path / "r")
    config = tmp_path / "r" / "config.json"
    text = config.read_text()
    config.write_text(text.replace('"schema_version": 1', '"schema_version": 99'))
    with pytest.raises(RouterFormatError, match="schema version 99"):
        load_router(tmp_path / "r")
    config.write_text(text)
    from irtrouter.embed import HashingEmbedder

    with pytest.raises(RouterFormatError, match="not hashing-64"):
        load_router(tmp_path / "r", embedder=HashingEmbedder(64))
    (tmp_path / "r" / "weights.npz").write_bytes(b"garbage")
    with pytest.raises(RouterFormatError, match=r"weights\.npz.*not an \.npz archive"):
        load_router(tmp_path / "r")


def test_a_router_on_joined_embedders_reloads_them_and_routes_the_same(topic_data, tmp_path):
    train, test, catalog = topic_data
    router = IRTRouter(embedder="hashing:64+hashing:32", predictor_params={"max_epochs": 20}).fit(train, catalog)
    router.save(tmp_path / "joined")
    again = load_router(tmp_path / "joined")
    assert again.embedder_.name == "hashing-64+hashing-32" and again.embedder_.dim == 96
    a, b = router.route_many(test.queries, 0.8), again.route_many(test.queries, 0.8)
    assert [x.llm_id for x in a] == [x.llm_id for x in b]
    assert [x.p_hat for x in a] == [x.p_hat for x in b]
