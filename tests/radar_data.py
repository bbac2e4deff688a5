"""Synthetic data with known 2PL structure, for the RADAR parts (2PL, scalarisation, onboarding).

The shared datasets have no reasoning-budget configurations, so configurations are tested here:
two base LLMs x three reasoning efforts, each configuration with a known scalar ability, its own
price and mean output (reasoning + completion) tokens. A query's difficulty is set by the words it
is made of (five levels), so a router with the hashing embedder can learn it from the text.
"""

from __future__ import annotations

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix, query_id_for

LEVEL_WORDS = [
    ["hello", "name", "colour", "cat", "dog", "sun", "day", "red"],
    ["sum", "list", "city", "river", "count", "month", "word", "add"],
    ["equation", "function", "treaty", "enzyme", "velocity", "grammar", "matrix", "poem"],
    ["integral", "theorem", "recursion", "thermodynamics", "jurisprudence", "eigenvalue", "genome", "proof"],
    ["cohomology", "renormalisation", "undecidable", "adjoint", "manifold", "topos", "spectral", "conjecture"],
]
FILLER = ["the", "a", "of", "what", "which", "how", "please", "tell", "me", "about", "explain", "find"]

BASES = {"small": (0.2, 0.8, "a small fast cheap model"), "large": (2.0, 8.0, "a large strong expensive model")}
EFFORT_TOKENS = {"low": 150.0, "medium": 600.0, "high": 1800.0}
# Known abilities: budget helps, and a large model at low effort beats a small one at high effort.
ABILITY = {
    "small@low": -1.6,
    "small@medium": -0.9,
    "small@high": -0.4,
    "large@low": 0.2,
    "large@medium": 0.9,
    "large@high": 1.5,
}
CONFIG_IDS = tuple(ABILITY)


def configuration_catalog() -> LLMCatalog:
    specs = []
    for base, (p_in, p_out, profile) in BASES.items():
        plain = LLMSpec(base, p_in, p_out, profile=profile)
        for effort, tokens in EFFORT_TOKENS.items():
            spec = plain.with_budget(reasoning_effort=effort, expected_output_tokens=tokens)
            specs.append(LLMSpec(**{**spec.to_dict(), "profile": f"{profile}, {effort} reasoning effort"}))
    return LLMCatalog(specs, source="synthetic-configurations")


def configuration_results(n_queries: int = 600, seed: int = 0, prefix: str = "q") -> ResultsMatrix:
    """Scores drawn from P = sigmoid(a (theta - b)), b = level - 2 (+ noise), a = 1.7; output tokens
    ~ Poisson around each configuration's mean, more on harder queries."""
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, len(LEVEL_WORDS), n_queries)
    texts = []
    for i, level in enumerate(levels):
        words = list(rng.choice(LEVEL_WORDS[level], size=4, replace=False)) + list(rng.choice(FILLER, size=3))
        rng.shuffle(words)
        texts.append(f"{prefix}{i} " + " ".join(words))
    b = levels - 2.0 + rng.normal(0, 0.3, n_queries)
    theta = np.array([ABILITY[g] for g in CONFIG_IDS])
    p = 1 / (1 + np.exp(-1.7 * (theta[None, :] - b[:, None])))
    scores = (rng.random(p.shape) < p).astype(np.float64)
    mean_tokens = np.array([EFFORT_TOKENS[g.split("@")[1]] for g in CONFIG_IDS])
    tokens = rng.poisson(mean_tokens[None, :] * (1 + 0.2 * levels[:, None])).astype(np.float64)
    return ResultsMatrix(
        query_ids=tuple(query_id_for(t) for t in texts),
        queries=tuple(texts),
        llm_ids=CONFIG_IDS,
        scores=scores,
        tasks=tuple(f"level{level}" for level in levels),
        input_tokens=np.full(scores.shape, 20.0),
        output_tokens=tokens,
        source=f"synthetic-configurations(seed={seed})",
        query_meta={"difficulty": b},
    )


def twopl_arrays(n_queries: int = 1500, n_configs: int = 6, d: int = 16, seed: int = 0):
    """Embeddings and 0/1 scores from a known 2PL with linear item heads, with its parameters."""
    rng = np.random.default_rng(seed)
    Xq = rng.normal(size=(n_queries, d))
    Xq = (Xq / np.linalg.norm(Xq, axis=1, keepdims=True)).astype(np.float32)
    w_a, w_b = rng.normal(0, 0.6, d), rng.normal(0, 4.0, d)
    a = 1.5 + Xq @ w_a
    b = Xq @ w_b
    theta = np.linspace(-1.5, 1.5, n_configs)
    P = 1 / (1 + np.exp(-a[:, None] * (theta[None, :] - b[:, None])))
    Y = (rng.random(P.shape) < P).astype(np.float32)
    return Xq, Y, {"a": a, "b": b, "theta": theta, "P": P}
