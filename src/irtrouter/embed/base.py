"""The Embedder protocol: text in, unit-length float32 rows out.

Queries and LLM profiles are embedded by the same embedder (IRT-Router section 4.1). A router
records its embedder's ``name`` and ``dim`` and refuses to run with another one, because its
weights are only meaningful in that embedding space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Anything with a ``name``, a ``dim`` and ``encode(texts) -> (len(texts), dim) float32``.

    ``name`` identifies the embedding space (model and version): the disk cache and saved
    routers key on it. Rows must be L2-normalised.
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` as float32 with every non-zero row scaled to length 1."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
