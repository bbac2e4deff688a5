"""Embeddings: the Embedder protocol, local encoders, a hashing encoder and a disk cache."""

from irtrouter.embed.base import Embedder, unit_rows
from irtrouter.embed.cache import CachedEmbedder, default_cache_dir
from irtrouter.embed.hashing import HashingEmbedder
from irtrouter.embed.registry import EMBEDDER_SPECS, make_embedder

__all__ = [
    "EMBEDDER_SPECS",
    "CachedEmbedder",
    "Embedder",
    "HashingEmbedder",
    "default_cache_dir",
    "make_embedder",
    "unit_rows",
]
