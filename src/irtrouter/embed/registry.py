"""Build an embedder from a short spec string, the form saved routers and the CLI use.

=================  =============================================================
spec               embedder
=================  =============================================================
``use``            multilingual Universal Sentence Encoder v3 (default, 512-d)
``e5``             multilingual-e5-small, 4-bit (384-d; ``irtrouter[e5]``)
``wordllama``      WordLlama's bundled static embeddings (256-d; ``irtrouter[wordllama]``)
``hashing[:DIM]``  deterministic feature hashing (default 256-d): tests, smoke runs
``st:MODEL``       a sentence-transformers model (``irtrouter[st]``)
``openai:MODEL``   an OpenAI-compatible embeddings API (``$IRTROUTER_EMBED_BASE_URL``)
``A+B``            A's and B's embeddings side by side, e.g. ``use+hashing:512``
=================  =============================================================
"""

from __future__ import annotations

from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError

EMBEDDER_SPECS = ("use", "e5", "wordllama", "hashing[:DIM]", "st:MODEL", "openai:MODEL", "A+B")


def make_embedder(spec: str = "use", threads: int = 1) -> Embedder:
    """The embedder for ``spec`` (see the module table); ``threads``: the BLAS (USE) or engine (e5)
    threads of each call. One by default: a query's products are too small to split, and a second
    thread spinning on busy cores made a USE embedding ~10x slower (:mod:`irtrouter.embed.threads`).

    Examples
    --------
    >>> make_embedder("hashing:64").dim
    64
    >>> make_embedder("hashing:64+hashing:32").dim
    96
    """
    if "+" in spec:
        from irtrouter.embed.joined import JoinedEmbedder

        parts = spec.split("+")
        if not all(parts):
            raise ConfigError(f"embedder {spec!r} has an empty part; join specs as A+B")
        return JoinedEmbedder([make_embedder(part, threads) for part in parts])
    kind, _, arg = spec.partition(":")
    if kind == "use" and not arg:
        from irtrouter.embed.local import USEEmbedder

        return USEEmbedder(threads=threads)
    if kind == "e5" and not arg:
        from irtrouter.embed.local import E5Embedder

        return E5Embedder(threads=threads)
    if kind == "wordllama" and not arg:
        from irtrouter.embed.local import WordLlamaEmbedder

        return WordLlamaEmbedder()
    if kind == "hashing":
        from irtrouter.embed.hashing import HashingEmbedder

        if arg and not arg.isdigit():
            raise ConfigError(f"hashing embedder dimension must be a number, got {arg!r}")
        if arg and int(arg) < 8:
            raise ConfigError(f"hashing embedder dimension must be >= 8, got {arg}")
        return HashingEmbedder(dim=int(arg) if arg else 256)
    if kind == "st" and arg:
        from irtrouter.embed.remote import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(arg)
    if kind == "openai" and arg:
        from irtrouter.embed.remote import OpenAIAPIEmbedder

        return OpenAIAPIEmbedder(arg)  # type: ignore[return-value]  # dim is a lazily probed property
    raise ConfigError(f"unknown embedder {spec!r}; expected one of: {', '.join(EMBEDDER_SPECS)}")
