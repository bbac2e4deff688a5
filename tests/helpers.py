"""Synthetic results with a known structure, for fast tests with the hashing embedder.

Three topics (math, code, history), each with its own words; four LLMs: a cheap math
specialist, a cheap coder, a cheap generalist that is weak at everything, and an expensive LLM
good at everything. A query's topic decides who answers it well, so a router that learned
anything sends math to the math LLM when cost matters.
"""

from __future__ import annotations

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix, query_id_for

TOPIC_WORDS = {
    "math": ["integral", "derivative", "equation", "algebra", "prime", "number", "sum", "product", "fraction", "solve"],
    "code": ["python", "function", "list", "loop", "class", "return", "string", "compile", "bug", "array"],
    "history": ["empire", "war", "king", "century", "revolution", "treaty", "dynasty", "battle", "ancient"],
}
FILLER = ["the", "a", "of", "what", "which", "how", "please", "tell", "me", "about", "explain", "find"]
TOPIC_LLMS = ("math-small", "code-small", "weak-small", "big")
# Probability of a good answer per LLM and topic.
SKILL = {
    "math-small": {"math": 0.9, "code": 0.2, "history": 0.3},
    "code-small": {"math": 0.2, "code": 0.9, "history": 0.3},
    "weak-small": {"math": 0.15, "code": 0.15, "history": 0.2},
    "big": {"math": 0.95, "code": 0.95, "history": 0.9},
}


def topic_catalog() -> LLMCatalog:
    prices = {"math-small": 0.2, "code-small": 0.2, "weak-small": 0.1, "big": 10.0}
    profiles = {
        "math-small": "small model specialised in math equation algebra",
        "code-small": "small model specialised in python code function",
        "weak-small": "tiny cheap model",
        "big": "large expensive model good at math code history",
    }
    return LLMCatalog([LLMSpec(m, prices[m], prices[m], profiles[m]) for m in TOPIC_LLMS])


def topic_results(n_per_topic: int = 60, seed: int = 0, prefix: str = "q") -> ResultsMatrix:
    rng = np.random.default_rng(seed)
    texts, tasks, rows = [], [], []
    for topic, words in TOPIC_WORDS.items():
        for i in range(n_per_topic):
            picked = list(rng.choice(words, size=4, replace=False)) + list(rng.choice(FILLER, size=3))
            rng.shuffle(picked)
            texts.append(f"{prefix}{i} {topic} " + " ".join(picked))
            tasks.append(topic)
            rows.append([float(rng.random() < SKILL[m][topic]) for m in TOPIC_LLMS])
    return ResultsMatrix(
        query_ids=tuple(query_id_for(t) for t in texts),
        queries=tuple(texts),
        llm_ids=TOPIC_LLMS,
        scores=np.asarray(rows),
        tasks=tuple(tasks),
        source=f"synthetic-topics(seed={seed})",
    )


def mirt_data(n_queries: int = 2000, n_llms: int = 8, d: int = 32, n_dims: int = 3, seed: int = 0):
    """Embeddings and 0/1 scores drawn from a known MIRT model (eq. 4-5), with its parameters."""
    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    Xq, Xm = unit(rng.normal(size=(n_queries, d))), unit(rng.normal(size=(n_llms, d)))
    W_a, w_b, W_theta = rng.normal(0, 1, (n_dims, d)), rng.normal(0, 3, d), rng.normal(0, 3, (n_dims, d))
    a = Xq @ W_a.T + 1.0
    b = Xq @ w_b
    theta = Xm @ W_theta.T
    P = 1 / (1 + np.exp(-(a @ theta.T - b[:, None])))
    Y = (rng.random(P.shape) < P).astype(np.float32)
    return Xq, Xm, Y, {"a": a, "b": b, "theta": theta, "P": P}
