"""Batch jobs over tables of queries: route every query, or embed them, locally or on Ray.

* :mod:`~irtrouter.batch.route`: :class:`BatchRouter`, one decision row per query;
* :mod:`~irtrouter.batch.embed`: :class:`BatchEmbedder`, the embedding cache and/or a Parquet of
  embeddings;
* :mod:`~irtrouter.batch.job`: :class:`BatchJob`, what either engine runs;
* :mod:`~irtrouter.batch.local` (one process, the router's batch path) and
  :mod:`~irtrouter.batch.ray` (Ray Data ``map_batches`` over a pool of actors, imported only
  when used: Ray is the optional ``ray`` extra);
* :mod:`~irtrouter.batch.tables`: Parquet, JSONL and CSV in and out.
"""

from irtrouter.batch.embed import BatchEmbedder
from irtrouter.batch.job import BatchJob
from irtrouter.batch.local import run_local
from irtrouter.batch.route import BatchRouter, RouteOptions

__all__ = ["BatchEmbedder", "BatchJob", "BatchRouter", "RouteOptions", "run_local"]
