"""Embedding a table of queries: fill the embedding cache, and/or add an ``embedding`` column.

:class:`BatchEmbedder` is a callable class like :class:`~irtrouter.batch.route.BatchRouter`: it
builds the embedder once and maps a ``pyarrow.Table`` to the same table with a fixed-size list
column ``embedding`` (float32). With a cache folder it embeds through
:class:`~irtrouter.embed.cache.CachedEmbedder`, so a later ``irtrouter train`` on the same texts
(and the same cache folder) embeds nothing. The cache is one SQLite file per folder: on a
cluster each host fills its own, which is why the Parquet of embeddings is the output to use
there.

Examples
--------
>>> embed = BatchEmbedder("hashing:8")
>>> embed(pa.table({"query": ["What is 2 + 2?"]})).schema.field("embedding").type
FixedSizeListType(fixed_size_list<item: float>[8])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from irtrouter.batch.route import check_queries
from irtrouter.embed.base import Embedder
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import DataError

EMBEDDING_COLUMN = "embedding"


class BatchEmbedder:
    """Embed the ``query_column`` of each table with the embedder ``spec`` (``hashing:64``, ``use``...).

    Parameters
    ----------
    spec : str
        An embedder spec (:func:`irtrouter.embed.registry.make_embedder`).
    query_column : str
    cache_dir : path, optional
        Fill (and read) the embedding cache in this folder.
    vectors : bool
        Add the ``embedding`` column (False: only fill the cache, return the table unchanged).
    """

    def __init__(
        self, spec: str, query_column: str = "query", cache_dir: str | Path | None = None, vectors: bool = True
    ) -> None:
        inner = make_embedder(spec)
        self.embedder: Embedder | CachedEmbedder = CachedEmbedder(inner, cache_dir) if cache_dir else inner
        self.query_column = query_column
        self.vectors = vectors

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.vectors and EMBEDDING_COLUMN in batch.column_names:
            raise DataError(f"the input already has a column {EMBEDDING_COLUMN!r}")
        queries = batch.column(self.query_column).to_pylist()
        ids = batch.column("query_id").to_pylist() if "query_id" in batch.column_names else None
        check_queries(queries, ids, "batch embed")
        X = np.ascontiguousarray(encode_texts(self.embedder, queries), dtype=np.float32)
        if not self.vectors:
            return batch
        flat = pa.array(X.reshape(-1), pa.float32())
        return batch.append_column(EMBEDDING_COLUMN, pa.FixedSizeListArray.from_arrays(flat, X.shape[1]))
