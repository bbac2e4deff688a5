"""Optional embedders for users who have them: sentence-transformers models and
OpenAI-compatible embedding APIs. Neither is used by default or in tests that need no network.

The API key is read from an environment variable (never stored in a saved router or logged).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from irtrouter.embed.base import unit_rows
from irtrouter.errors import EmbedderError

EMBED_BASE_URL_ENV = "IRTROUTER_EMBED_BASE_URL"
EMBED_API_KEY_ENV = "IRTROUTER_EMBED_API_KEY"


class SentenceTransformerEmbedder:
    """Any ``sentence-transformers`` model by name or local path (``pip install 'irtrouter[st]'``)."""

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError("st:<model> needs sentence-transformers: pip install 'irtrouter[st]'") from exc
        self._model: Any = SentenceTransformer(model)
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"st:{model}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._model.encode(list(texts), normalize_embeddings=True))


class OpenAIAPIEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint.

    The base URL comes from ``base_url`` or ``$IRTROUTER_EMBED_BASE_URL`` (default OpenAI's), the key
    from ``$IRTROUTER_EMBED_API_KEY`` or ``$OPENAI_API_KEY``. ``dim`` is learned from the first call
    unless given.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        dim: int | None = None,
        timeout: float = 30.0,
        batch_size: int = 256,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get(EMBED_BASE_URL_ENV) or "https://api.openai.com/v1").rstrip("/")
        self.name = f"openai:{model}"
        self._dim = dim
        self.timeout = timeout
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.encode(["dimension probe"]).shape[1])
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import httpx

        key = os.environ.get(EMBED_API_KEY_ENV) or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        rows: list[list[float]] = []
        with httpx.Client(timeout=self.timeout) as client:
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                try:
                    resp = client.post(
                        f"{self.base_url}/embeddings", headers=headers, json={"model": self.model, "input": batch}
                    )
                    resp.raise_for_status()
                    data = sorted(resp.json()["data"], key=lambda d: d["index"])
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    raise EmbedderError(f"embedding API {self.base_url} failed: {exc}") from None
                rows.extend(d["embedding"] for d in data)
        out = unit_rows(np.asarray(rows, dtype=np.float32)) if rows else np.zeros((0, self._dim or 0), np.float32)
        if self._dim is None and len(out):
            self._dim = out.shape[1]
        return out
