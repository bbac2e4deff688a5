"""NIRT-Router's relevance vectors: which of the 25 abilities each query needs (section 4.2.2).

Training queries
    Their embeddings are reduced (PCA by default, UMAP when ``umap-learn`` is installed and asked
    for) and clustered by density with HDBSCAN; points HDBSCAN calls noise join the nearest
    cluster. For each cluster, ``n_samples`` (=5) sample queries are shown to a labeller, and the
    abilities it names get 1 in the relevance vector of every query of the cluster, the rest 0.

Unseen queries
    The mean relevance vector of their 5 nearest training queries (computed at route time).

Labellers
    :class:`LLMAbilityLabeller` asks any OpenAI-compatible chat endpoint with the paper's prompt
    (Figure 9). :class:`OfflineAbilityLabeller` needs no network: it ranks the abilities by the
    mean embedding similarity between the sample queries and each ability's description and keeps
    the top ``top_k``. A saved router states which labeller made its vectors.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError, IRTRouterError
from irtrouter.irt.abilities import ABILITIES, ABILITY_NAMES

log = logging.getLogger(__name__)

LABELLER_BASE_URL_ENV = "IRTROUTER_LABELLER_BASE_URL"
LABELLER_MODEL_ENV = "IRTROUTER_LABELLER_MODEL"
LABELLER_API_KEY_ENV = "IRTROUTER_LABELLER_API_KEY"

PROMPT_TEMPLATE = (
    "You will be provided with the following query: {query} Identify which of the following "
    "abilities it requires from the LLM: {abilities}.\n\nOutput the abilities as a comma-separated list."
)


class AbilityLabeller(Protocol):
    """Names the abilities (indices into :data:`ABILITIES`) that sample queries require."""

    name: str

    def label(self, queries: Sequence[str]) -> set[int]: ...


class OfflineAbilityLabeller:
    """Top-``top_k`` abilities by mean cosine similarity of the queries to the descriptions."""

    def __init__(self, embedder: Embedder, top_k: int = 3) -> None:
        self.embedder = embedder
        self.top_k = top_k
        self.name = f"offline:embedding-similarity(top_k={top_k}, embedder={embedder.name})"
        self._ability_vectors = embedder.encode([f"{a.name}: {a.description}" for a in ABILITIES])

    def label(self, queries: Sequence[str]) -> set[int]:
        sims = self.embedder.encode(list(queries)) @ self._ability_vectors.T
        order = np.argsort(-sims.mean(axis=0), kind="stable")
        return {int(i) for i in order[: self.top_k]}


class LLMAbilityLabeller:
    """Ask an OpenAI-compatible chat endpoint which abilities each sample query needs.

    The union over the samples is the cluster's ability set (as in the paper). The API key is read
    from ``api_key_env`` at call time and never stored or logged.
    """

    def __init__(
        self, base_url: str, model: str, api_key_env: str = LABELLER_API_KEY_ENV, timeout: float = 60.0
    ) -> None:
        if not base_url or not model:
            raise ConfigError("the LLM labeller needs a base URL and a model name")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.name = f"llm:{model}@{self.base_url}"

    def label(self, queries: Sequence[str]) -> set[int]:
        import httpx

        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        found: set[int] = set()
        replies = []
        with httpx.Client(timeout=self.timeout) as client:
            for query in queries:
                prompt = PROMPT_TEMPLATE.format(query=query, abilities=", ".join(ABILITY_NAMES))
                try:
                    resp = client.post(
                        f"{self.base_url}/chat/completions",
                        headers=headers,
                        json={"model": self.model, "temperature": 0, "messages": [{"role": "user", "content": prompt}]},
                    )
                    resp.raise_for_status()
                    reply = resp.json()["choices"][0]["message"]["content"] or ""
                except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                    raise IRTRouterError(f"ability labeller {self.base_url} failed: {exc}") from None
                replies.append(reply)
                found |= parse_abilities(reply)
        if not found:
            raise IRTRouterError(
                f"ability labeller {self.name} named no known ability; it replied: {replies[0][:200]!r}"
            )
        return found


def parse_abilities(reply: str) -> set[int]:
    """Indices of the abilities named in a comma/newline separated reply (case-insensitive)."""
    lookup = {name.lower(): i for i, name in enumerate(ABILITY_NAMES)}
    out = set()
    for part in re.split(r"[,\n;]", reply):
        cleaned = re.sub(r"^[\s\-*\d.)\"']+|[\s.\"']+$", "", part).lower()
        cleaned = re.sub(r"^\d+:\s*", "", cleaned)
        if cleaned in lookup:
            out.add(lookup[cleaned])
    return out


def make_labeller(embedder: Embedder, base_url: str | None = None, model: str | None = None) -> AbilityLabeller:
    """The LLM labeller when an endpoint is configured (arguments or env vars), else the offline one."""
    base_url = base_url or os.environ.get(LABELLER_BASE_URL_ENV)
    model = model or os.environ.get(LABELLER_MODEL_ENV)
    if base_url:
        return LLMAbilityLabeller(base_url, model or "gpt-4o-mini")
    return OfflineAbilityLabeller(embedder)


@dataclass
class RelevanceResult:
    """Relevance vectors of the training queries and how they were made."""

    vectors: np.ndarray  # (n_queries, n_abilities) of 0/1
    cluster_labels: np.ndarray  # (n_queries,)
    cluster_abilities: list[list[int]] = field(default_factory=list)
    labeller: str = ""


def cluster_queries(
    X: np.ndarray,
    *,
    random_state: int = 0,
    min_cluster_size: int | None = None,
    reducer: str = "pca",
    n_components: int = 8,
) -> np.ndarray:
    """Density clusters of query embeddings; every point ends in a cluster (labels 0..k-1).

    HDBSCAN's "leaf" selection is used: its default ("eom") merges benchmark-style query sets into
    two or three giant clusters, while "leaf" finds clusters close to the tasks (on LLMRouter's
    train split: 14 clusters, 75% of queries in their cluster's majority task).
    """
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    n = len(X)
    if n < 4:
        return np.zeros(n, dtype=np.int64)
    n_components = min(n_components, X.shape[1], n - 1)
    if reducer == "umap":
        try:
            import umap
        except ImportError as exc:
            raise ConfigError("reducer='umap' needs umap-learn: pip install 'irtrouter[umap]'") from exc
        Z = umap.UMAP(n_components=n_components, random_state=random_state).fit_transform(X)
    elif reducer == "pca":
        Z = PCA(n_components=n_components, random_state=random_state).fit_transform(X)
    else:
        raise ConfigError(f"unknown reducer {reducer!r}; expected 'pca' or 'umap'")
    size = min_cluster_size or max(5, n // 400)
    labels = HDBSCAN(min_cluster_size=size, cluster_selection_method="leaf", copy=True).fit_predict(Z)
    clusters = [c for c in np.unique(labels) if c >= 0]
    if not clusters:
        return np.zeros(n, dtype=np.int64)
    centroids = np.stack([Z[labels == c].mean(axis=0) for c in clusters])
    noise = labels < 0
    if noise.any():
        dists = ((Z[noise, None, :] - centroids[None]) ** 2).sum(-1)
        labels[noise] = np.asarray(clusters)[dists.argmin(axis=1)]
    remap = {c: i for i, c in enumerate(clusters)}
    return np.asarray([remap[c] for c in labels], dtype=np.int64)


def relevance_vectors(
    texts: Sequence[str],
    X: np.ndarray,
    labeller: AbilityLabeller,
    *,
    n_samples: int = 5,
    random_state: int = 0,
    min_cluster_size: int | None = None,
    reducer: str = "pca",
    progress: bool = False,
) -> RelevanceResult:
    """Cluster the training queries and label each cluster's abilities (see the module docstring)."""
    from tqdm.auto import tqdm

    labels = cluster_queries(X, random_state=random_state, min_cluster_size=min_cluster_size, reducer=reducer)
    rng = np.random.default_rng(random_state)
    n_clusters = int(labels.max()) + 1
    vectors = np.zeros((len(texts), len(ABILITIES)), dtype=np.float32)
    cluster_abilities = []
    for c in tqdm(range(n_clusters), desc="labelling clusters", disable=not progress, leave=False):
        members = np.flatnonzero(labels == c)
        sample = rng.choice(members, size=min(n_samples, len(members)), replace=False)
        found = sorted(labeller.label([texts[i] for i in sample]))
        cluster_abilities.append(found)
        vectors[np.ix_(members, np.asarray(found, dtype=np.int64))] = 1.0
    log.info("relevance: %d clusters labelled by %s", n_clusters, labeller.name)
    return RelevanceResult(vectors, labels, cluster_abilities, labeller.name)
