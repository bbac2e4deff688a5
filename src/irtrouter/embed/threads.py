"""BLAS threads per call: one thread around the one-query matrix products of routing.

Measured on 2 shared cores (issue 16): a 1 x 512 by 512 x 1,500 product takes ~0.2 ms with one
OpenBLAS thread and ~4-5 ms with two, because the second thread spins waiting for the first on a
product too small to split while the cores are busy. Batches, not BLAS threads, are what use
several cores. The service pins the whole process (``irtrouter serve --blas-threads``); the
library limits only its own calls, so an application's other BLAS work keeps its setting.

The BLAS libraries are discovered again only when modules were imported since the last scan
(threadpoolctl's scan of the loaded libraries costs ~0.4 ms, far more than the products; a BLAS
library arrives with the import of numpy, scipy, torch...), and a call whose libraries already run at most the
wanted threads changes nothing, so nested and concurrent calls never raise a count.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: BLAS threads of the routing hot path, for batches of at most :data:`SMALL_BATCH` queries.
ROUTE_BLAS_THREADS = 1
#: Up to this many queries a batch's products are "small": one thread is faster on busy cores.
SMALL_BATCH = 16


def _blas_libraries() -> tuple[Any, ...]:
    return _scan(len(sys.modules))


@functools.lru_cache(maxsize=1)
def _scan(n_modules: int) -> tuple[Any, ...]:
    """The loaded BLAS libraries; ``n_modules`` keys the cache (a new import may load another)."""
    from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """At most ``threads`` BLAS threads inside the block (``None``: leave them as they are).

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1):
    ...     float(np.ones(4) @ np.ones(4))
    4.0
    """
    if threads is None:
        yield
        return
    changed = []
    for lib in _blas_libraries():
        before = lib.get_num_threads()
        if before is not None and before > threads:
            lib.set_num_threads(threads)
            changed.append((lib, before))
    try:
        yield
    finally:
        for lib, before in changed:
            lib.set_num_threads(before)


def routing_threads(n_queries: int) -> int | None:
    """The BLAS threads for routing ``n_queries`` at once: :data:`ROUTE_BLAS_THREADS` for a small
    batch, else the process's own setting (a large batch's products do split across cores)."""
    return ROUTE_BLAS_THREADS if n_queries <= SMALL_BATCH else None
