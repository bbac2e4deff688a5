"""An on-disk embedding cache, so re-training never re-embeds a text.

Vectors live in one SQLite file, keyed by (embedder name, SHA-256 of the text): another embedder
or a changed text never hits a stale entry. Writes are batched transactions, so an interrupted
run keeps what it had finished.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from irtrouter.embed.base import Embedder, cap_texts, text_cap

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "IRTROUTER_CACHE_DIR"
_CHUNK = 500


def default_cache_dir() -> Path:
    """``$IRTROUTER_CACHE_DIR``, else ``~/.cache/irtrouter``."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "irtrouter")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Wrap an :class:`Embedder` with a disk cache; same ``name`` and ``dim`` as the wrapped one.

    Parameters
    ----------
    inner : Embedder
    cache_dir : path, optional
        Folder of ``embeddings.sqlite`` (default :func:`default_cache_dir`).
    batch_size : int
        Texts embedded per call to ``inner`` (and per progress-bar step).

    Examples
    --------
    >>> from irtrouter.embed.hashing import HashingEmbedder
    >>> emb = CachedEmbedder(HashingEmbedder(64), cache_dir=tmp_path)  # doctest: +SKIP
    >>> emb.encode(["a query"]).shape  # doctest: +SKIP
    (1, 64)
    """

    def __init__(self, inner: Embedder, cache_dir: str | Path | None = None, batch_size: int = 64) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_chars = text_cap(inner)
        self.batch_size = batch_size
        self.path = Path(cache_dir or default_cache_dir()) / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (embedder TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
                "dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (embedder, text_sha256))"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def encode(self, texts: Sequence[str], progress: bool = False, desc: str = "embedding") -> np.ndarray:
        # Capped before hashing: the key is the text that was embedded.
        texts = cap_texts(texts, self.max_chars)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        found = self._lookup(sorted(set(keys)))
        todo: dict[str, int] = {}
        for i, k in enumerate(keys):
            vec = found.get(k)
            if vec is not None:
                out[i] = vec
            else:
                todo.setdefault(k, i)
        if todo:
            self._embed_missing(texts, keys, todo, out, progress, desc)
        return out

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, dim, blob in db.execute(
                    f"SELECT text_sha256, dim, vector FROM vectors WHERE embedder = ? AND text_sha256 IN ({marks})",
                    [self.name, *chunk],
                ):
                    if dim == self.dim:
                        found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _embed_missing(
        self, texts: list[str], keys: list[str], todo: dict[str, int], out: np.ndarray, progress: bool, desc: str
    ) -> None:
        from tqdm.auto import tqdm

        first_rows = list(todo.values())
        bar = tqdm(total=len(first_rows), desc=desc, unit="text", disable=not progress, leave=False)
        by_key: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(first_rows), self.batch_size):
                rows = first_rows[start : start + self.batch_size]
                vecs = np.asarray(self.inner.encode([texts[i] for i in rows]), dtype=np.float32)
                with self._connect() as db:
                    db.executemany(
                        "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                        [(self.name, keys[i], self.dim, v.tobytes()) for i, v in zip(rows, vecs, strict=True)],
                    )
                for i, v in zip(rows, vecs, strict=True):
                    by_key[keys[i]] = v
                bar.update(len(rows))
        finally:
            bar.close()
        for i, k in enumerate(keys):
            if k in by_key:
                out[i] = by_key[k]
        log.info("embedded %d new text(s) with %s (cache: %s)", len(first_rows), self.name, self.path)


def encode_texts(
    embedder: Embedder, texts: Sequence[str], progress: bool = False, desc: str = "embedding"
) -> np.ndarray:
    """``embedder.encode(texts)`` as float32, each text capped (:func:`~irtrouter.embed.base.cap_text`
    at the embedder's :func:`~irtrouter.embed.base.text_cap`), with a progress bar when it is a
    :class:`CachedEmbedder`. Training, routing and the service embed through here."""
    if isinstance(embedder, CachedEmbedder):
        return embedder.encode(texts, progress=progress, desc=desc)
    return np.asarray(embedder.encode(cap_texts(texts, text_cap(embedder))), dtype=np.float32)
