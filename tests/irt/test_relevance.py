import numpy as np
import pytest

from irtrouter.embed import make_embedder
from irtrouter.errors import IRTRouterError
from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.relevance import (
    LLMAbilityLabeller,
    OfflineAbilityLabeller,
    cluster_queries,
    parse_abilities,
    relevance_vectors,
)
from tests.fake_openai import FakeOpenAI


def test_clusters_find_separated_groups_and_absorb_noise():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 20))
    X = np.vstack([c + rng.normal(0, 0.5, (60, 20)) for c in centres]).astype(np.float32)
    labels = cluster_queries(X, random_state=0)
    assert labels.min() == 0 and len(labels) == 180
    group = np.repeat(np.arange(3), 60)
    for c in np.unique(labels):  # leaf clusters may split a group, but never mix two
        assert len(np.unique(group[labels == c])) == 1


def test_offline_labeller_reads_the_query():
    labeller = OfflineAbilityLabeller(make_embedder("use"))
    code = labeller.label(
        [
            "Write a Python function that returns the n-th Fibonacci number.",
            "Implement binary search over a sorted list in Python.",
        ]
    )
    maths = labeller.label(["Solve for x: 3x + 7 = 22.", "What is 17 times 23?"])
    assert ABILITY_NAMES.index("Programming and algorithms") in code
    assert ABILITY_NAMES.index("Mathematical calculation") in maths
    assert "offline" in labeller.name


def test_parse_abilities_is_forgiving_about_format():
    found = parse_abilities("1. Reasoning, mathematical calculation\n- Inference.\nNot an ability")
    assert found == {ABILITY_NAMES.index(n) for n in ("Reasoning", "Mathematical calculation", "Inference")}


def test_llm_labeller_uses_the_papers_prompt_over_http(monkeypatch):
    monkeypatch.setenv("IRTROUTER_LABELLER_API_KEY", "sk-test-secret")

    def reply(body):
        prompt = body["messages"][0]["content"]
        return "Programming and algorithms, Reasoning" if "Python" in prompt else "Information retrieval"

    with FakeOpenAI(reply) as server:
        labeller = LLMAbilityLabeller(server.base_url, "labeller-model")
        found = labeller.label(["Write Python code to sort", "Who was the first emperor of Rome?"])
        prompt = server.requests[0]["messages"][0]["content"]
    assert found == {
        ABILITY_NAMES.index(n) for n in ("Programming and algorithms", "Reasoning", "Information retrieval")
    }
    assert prompt.startswith("You will be provided with the following query: Write Python code to sort")
    assert "Output the abilities as a comma-separated list." in prompt
    assert server.headers[0]["Authorization"] == "Bearer sk-test-secret"
    assert "sk-test-secret" not in labeller.name


def test_llm_labeller_fails_clearly():
    with (
        FakeOpenAI(lambda body: "I cannot help with that") as server,
        pytest.raises(IRTRouterError, match="named no known ability"),
    ):
        LLMAbilityLabeller(server.base_url, "m").label(["q"])
    with pytest.raises(IRTRouterError, match=r"labeller http://127\.0\.0\.1:9/v1 failed"):
        LLMAbilityLabeller("http://127.0.0.1:9/v1", "m", timeout=2).label(["q"])


def test_relevance_vectors_are_constant_within_a_cluster():
    texts = [f"python function code loop {i}" for i in range(30)] + [f"ancient empire war king {i}" for i in range(30)]
    emb = make_embedder("hashing:64")
    res = relevance_vectors(texts, emb.encode(texts), OfflineAbilityLabeller(emb), random_state=0)
    assert res.vectors.shape == (60, 25) and set(np.unique(res.vectors)) <= {0.0, 1.0}
    for c in np.unique(res.cluster_labels):
        rows = res.vectors[res.cluster_labels == c]
        assert (rows == rows[0]).all() and rows[0].sum() == 3
