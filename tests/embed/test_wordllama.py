"""WordLlama's bundled static embeddings: loaded from the package's own files, never the network."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest

from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.local import WordLlamaEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import EmbedderError

needs_wordllama = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("wordllama") is None,
    reason="wordllama is not installed (pip install 'irtrouter[wordllama]')",
)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: wordllama 0.4's own loader would download its tokenizer."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@needs_wordllama
def test_loads_and_embeds_with_the_network_refused(no_network):
    emb = make_embedder("wordllama")
    assert isinstance(emb, WordLlamaEmbedder)
    X = emb.encode(["What time is it?", "What is the time now?", "Write a quicksort in Python"])
    assert X.shape == (3, emb.dim) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert X[0] @ X[1] > X[0] @ X[2]  # paraphrases agree more than unrelated requests
    assert emb.encode([]).shape == (0, emb.dim)


@needs_wordllama
def test_a_text_embeds_the_same_alone_and_in_a_padded_batch(no_network):
    """Batches pad to their longest text; the padding must not leak into a shorter text's mean."""
    emb = WordLlamaEmbedder()
    short, long = "solve this integral", "explain the causes of the first world war " * 40
    alone = emb.encode([short])
    batched = emb.encode([long, short, long])
    np.testing.assert_allclose(batched[1], alone[0], rtol=1e-5, atol=1e-6)


@needs_wordllama
def test_the_cap_applies_to_wordllama_too(no_network, tmp_path):
    emb = WordLlamaEmbedder(max_chars=64)
    text = "Summarise the report below. " + "filler words about nothing in particular " * 50 + "In French."
    capped = encode_texts(emb, [text])
    assert not np.allclose(capped, WordLlamaEmbedder(max_chars=None).encode([text]))
    np.testing.assert_array_equal(CachedEmbedder(emb, tmp_path).encode([text]), capped)


def test_without_the_package_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "wordllama", None)  # import wordllama now raises ImportError
    with pytest.raises(EmbedderError, match=r"irtrouter\[wordllama\]"):
        WordLlamaEmbedder().encode(["a query"])
