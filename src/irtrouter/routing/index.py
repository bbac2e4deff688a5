"""Nearest training queries behind one interface: exact search below a size, an HNSW graph above.

Every neighbour search of the package (the query warm-up, NIRT's unseen-query relevance, the kNN
blend, the explanation's similar task, the kNN baselines of :mod:`irtrouter.evaluate.routers`)
goes through :class:`NeighbourIndex` (exact) or its stand-in :class:`ApproximateIndex` (same
API); :func:`build_index` picks one by the number of training queries.

* **Exact** (:class:`NeighbourIndex`): cosine similarity of unit-length rows by one matrix product
  per block of queries, the top ``k`` by ``argpartition``, most similar first.
* **Approximate** (:class:`ApproximateIndex`): a usearch HNSW graph over the rows quantised to
  int8 (a quarter of the float32 memory; the float32 rows are kept once, in ``embeddings``). The
  graph proposes ``max(2k, k + 16)`` candidates, which are re-ranked by their exact float32
  similarity, so the neighbours come in the exact order whenever the true top ``k`` are among the
  candidates. The search beam (efSearch) is at least twice the candidates. usearch was chosen by
  measurement against hnswlib and faiss-cpu (docs/BENCHMARKS.md, issues 15a and 16): a small
  wheel, a graph that serialises to bytes, int8 storage, the fastest build.

Saved routers keep the graph's own serialised bytes as a uint8 array (``state()``; no pickle):
building it takes minutes at 1M queries, loading the bytes takes milliseconds.

Examples
--------
>>> rows = np.eye(4, dtype=np.float32)
>>> NeighbourIndex(rows).search(rows[[2]], 2)[0, 0].item()
2
>>> build_index(rows).kind
'exact'
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from irtrouter.errors import ConfigError, RouterFormatError

#: Training sets of at least this many queries get an approximate index (``method="auto"``).
#: Measured (benchmarks/scale.py, 384-d, 2 busy cores): the exact search grows linearly, ~60 ms a
#: query at 100k rows (the issue's figure) and so ~12 ms at 20k, past the embedding's cost; the
#: graph answers in ~1-3 ms at 10k-100k and changed 0-0.2% of decisions there, but costs a build
#: (15 s at 10k, minutes at 100k on those cores) and its answers are approximate.
EXACT_BELOW = 20_000
#: Index kinds ``build_index`` takes.
INDEX_METHODS = ("auto", "exact", "approximate")

_ROWS_PER_BLOCK = 1024  # queries per similarity block...
_FLOATS_PER_BLOCK = 1 << 25  # ...and at most 32M similarities (128 MB) in it: 32 queries at 1M rows


class NeighbourIndex:
    """Exact k-nearest-neighbour search over the training query embeddings.

    Parameters
    ----------
    embeddings : ndarray (n_train, dim)
        Unit-length rows.

    Examples
    --------
    >>> index = NeighbourIndex(np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]))
    >>> index.search(np.array([[0.0, 1.0]]), 2).tolist()
    [[1, 2]]
    """

    #: ``config.json``'s name of the index kind (:func:`index_from_state`).
    kind: ClassVar[str] = "exact"

    def __init__(self, embeddings: np.ndarray) -> None:
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def search(self, X: np.ndarray, k: int) -> np.ndarray:
        """Indices (n, k) of the k most similar training rows, most similar first."""
        X, k = self._check(X, k)
        return self._exact(X, k)

    def _check(self, X: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        return np.atleast_2d(np.asarray(X, dtype=np.float32)), min(k, len(self.embeddings))

    def _exact(self, X: np.ndarray, k: int) -> np.ndarray:
        n_train = len(self.embeddings)
        out = np.empty((len(X), k), dtype=np.int64)
        step = max(1, min(_ROWS_PER_BLOCK, _FLOATS_PER_BLOCK // n_train))
        for start in range(0, len(X), step):
            sims = X[start : start + step] @ self.embeddings.T
            if k < n_train:
                # The k largest from the far end: no negated copy of the block (a quarter faster).
                top = np.argpartition(sims, n_train - k, axis=1)[:, n_train - k :]
            else:
                top = np.broadcast_to(np.arange(n_train), sims.shape)
            order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
            out[start : start + len(sims)] = np.take_along_axis(top, order, axis=1)
        return out

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(config, arrays)`` saved beside the embeddings (the exact index needs nothing more)."""
        return {"kind": self.kind}, {}


#: Graphs of fewer rows are built by one thread (the same graph on every build; see ``threads``).
ONE_THREAD_BELOW = 5_000


class ApproximateIndex(NeighbourIndex):
    """HNSW search (usearch) with exact re-ranking of the candidates: a :class:`NeighbourIndex`
    that answers in about the same time at any size.

    Parameters
    ----------
    embeddings : ndarray (n_train, dim)
        Unit-length rows.
    connectivity, expansion_add, expansion_search : int
        HNSW's M, efConstruction and efSearch (recall against time; benchmarks/scale.py).
    threads : int
        Threads that build the graph (0: every core, but one below ``ONE_THREAD_BELOW`` rows:
        a graph built by several threads depends on their order, so a small graph, built in
        milliseconds, is built alike every time). Search uses one thread for a few queries,
        every core for large batches.

    Examples
    --------
    >>> rows = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    >>> rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    >>> index = ApproximateIndex(rows)
    >>> bool((index.search(rows[:5], 3) == NeighbourIndex(rows).search(rows[:5], 3)).all())
    True
    """

    kind: ClassVar[str] = "usearch-hnsw"

    def __init__(
        self,
        embeddings: np.ndarray,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 64,
        threads: int = 0,
        *,
        graph: np.ndarray | None = None,
    ) -> None:
        super().__init__(embeddings)
        self.connectivity, self.expansion_add, self.expansion_search = connectivity, expansion_add, expansion_search
        self._lock = threading.Lock()
        # Imported here, not at the top: usearch costs ~0.4 s to import, and routers below
        # EXACT_BELOW (most of them) never need it.
        from usearch.index import Index

        self._graph = Index(
            ndim=self.dim,
            metric="ip",
            dtype="i8",
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
        )
        if graph is None:
            if threads == 0 and len(self.embeddings) < ONE_THREAD_BELOW:
                threads = 1
            self._graph.add(np.arange(len(self.embeddings)), self.embeddings, threads=threads)
        else:
            self._graph.load(np.ascontiguousarray(graph, dtype=np.uint8).tobytes())
            if len(self._graph) != len(self.embeddings) or self._graph.ndim != self.dim:
                raise RouterFormatError("the saved neighbour graph does not match the training embeddings")

    def search(self, X: np.ndarray, k: int) -> np.ndarray:
        """Indices (n, k) of the (approximately) k most similar training rows, most similar first."""
        X, k = self._check(X, k)
        n_candidates = min(max(2 * k, k + 16), len(self.embeddings))
        if n_candidates >= len(self.embeddings):  # the graph would return everything anyway
            return self._exact(X, k)
        candidates = np.zeros((len(X), n_candidates), dtype=np.int64)
        # One search at a time: usearch's per-thread search buffers are indexed from 0 in every
        # call, so two concurrent callers (the service's worker threads) would share them.
        with self._lock:
            # The beam must hold well over the candidates asked for.
            ef = max(self.expansion_search, 2 * n_candidates)
            if self._graph.expansion_search != ef:
                self._graph.expansion_search = ef  # type: ignore[misc]  # settable, typed read-only
            if len(X) == 1:  # usearch answers one query with a flat Matches (no counts)
                keys = np.asarray(self._graph.search(X[0], n_candidates, threads=1).keys, dtype=np.int64)
                candidates[0, : len(keys)], counts = keys, np.array([len(keys)])
            else:
                matches = self._graph.search(X, n_candidates, threads=0 if len(X) >= 64 else 1)
                candidates[:], counts = matches.keys, np.asarray(matches.counts)  # type: ignore[union-attr]
        out = np.empty((len(X), k), dtype=np.int64)
        short = counts < k  # a sparse corner of the graph: those rows are searched exactly
        if short.any():
            out[short] = self._exact(X[short], k)
        rows = np.flatnonzero(~short)
        for start in range(0, len(rows), _ROWS_PER_BLOCK):
            block = rows[start : start + _ROWS_PER_BLOCK]
            valid = np.arange(n_candidates) < counts[block, None]
            cand = np.where(valid, candidates[block], 0)
            sims = np.einsum("nd,ncd->nc", X[block], self.embeddings[cand])
            sims = np.where(valid, sims, -np.inf)
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            out[block] = np.take_along_axis(cand, order, axis=1)
        return out

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(config, arrays)``: the HNSW settings and the graph's own serialised bytes (uint8)."""
        config = {
            "kind": self.kind,
            "connectivity": self.connectivity,
            "expansion_add": self.expansion_add,
            "expansion_search": self.expansion_search,
        }
        return config, {"graph": np.frombuffer(bytes(self._graph.save() or b""), dtype=np.uint8)}


def build_index(embeddings: np.ndarray, method: str = "auto", exact_below: int = EXACT_BELOW) -> NeighbourIndex:
    """The neighbour index of ``embeddings``: exact below ``exact_below`` rows (``method="auto"``),
    or the one ``method`` names.

    Examples
    --------
    >>> build_index(np.eye(3, dtype=np.float32), "exact").kind
    'exact'
    """
    if method not in INDEX_METHODS:
        raise ConfigError(f"unknown neighbour index {method!r}; expected one of {', '.join(INDEX_METHODS)}")
    if method == "approximate" or (method == "auto" and len(embeddings) >= exact_below):
        return ApproximateIndex(embeddings)
    return NeighbourIndex(embeddings)


def index_from_state(
    embeddings: np.ndarray, config: dict[str, Any] | None, arrays: dict[str, np.ndarray]
) -> NeighbourIndex:
    """The index a saved router describes (``config`` None: routers saved before indexes had a
    kind, which searched exactly)."""
    kind = "exact" if config is None else config.get("kind", "exact")
    if kind == NeighbourIndex.kind:
        return NeighbourIndex(embeddings)
    if kind == ApproximateIndex.kind:
        if "graph" not in arrays:
            raise RouterFormatError("the saved router names an approximate neighbour index but has no graph")
        assert config is not None  # kind came from it
        settings = {k: int(config[k]) for k in ("connectivity", "expansion_add", "expansion_search") if k in config}
        return ApproximateIndex(embeddings, graph=arrays["graph"], **settings)
    raise RouterFormatError(f"unknown neighbour index kind {kind!r} in the saved router")
