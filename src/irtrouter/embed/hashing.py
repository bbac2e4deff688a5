"""A deterministic hashing embedder: no model, no download, microseconds a query.

Words, word pairs and character trigrams are hashed (BLAKE2b, so the result is the same on every
machine and Python) into ``dim`` signed buckets. Texts that share words land near each other,
which is all unit tests and smoke runs need; it knows no synonyms, so use it for speed, not for
quality.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from irtrouter.embed.base import unit_rows

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Feature hashing of words, word bigrams and character trigrams.

    Examples
    --------
    >>> emb = HashingEmbedder(dim=64)
    >>> emb.encode(["add two numbers", "add three numbers"]).shape
    (2, 64)
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ValueError(f"dim must be >= 8, got {dim}")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in _features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                out[row, h % self.dim] += weight if (h >> 63) & 1 else -weight
        return unit_rows(out)


def _features(text: str) -> list[tuple[str, float]]:
    words = _WORD.findall(text.lower())
    feats = [(f"w:{w}", 1.0) for w in words]
    feats += [(f"b:{a} {b}", 0.5) for a, b in itertools.pairwise(words)]
    flat = " ".join(words)
    feats += [(f"c:{flat[i : i + 3]}", 0.25) for i in range(max(0, len(flat) - 2))]
    return feats or [("empty", 1.0)]
