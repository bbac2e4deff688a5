import numpy as np
import pytest

from irtrouter.embed import CachedEmbedder, HashingEmbedder, make_embedder
from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError


class CountingEmbedder:
    """A real embedder (hashing) that counts the texts it was asked to embed."""

    def __init__(self, name="counting-32"):
        self.inner = HashingEmbedder(32)
        self.name, self.dim = name, 32
        self.calls: list[str] = []

    def encode(self, texts):
        self.calls.extend(texts)
        return self.inner.encode(texts)


def test_hashing_is_deterministic_unit_length_and_topical():
    emb = HashingEmbedder(128)
    X = emb.encode(["solve the integral equation", "solve the integral equation", "ancient roman empire"])
    np.testing.assert_array_equal(X[0], X[1])
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-6)
    assert X[0] @ emb.encode(["integral equation to solve"])[0] > X[0] @ X[2]
    assert isinstance(emb, Embedder)


def test_cache_never_reembeds_and_keys_on_embedder_name(tmp_path):
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, cache_dir=tmp_path)
    first = cached.encode(["a", "b", "a"])
    assert inner.calls == ["a", "b"]
    again = CachedEmbedder(inner, cache_dir=tmp_path).encode(["b", "a", "c"])
    assert inner.calls == ["a", "b", "c"]
    np.testing.assert_array_equal(again[0], first[1])
    other = CountingEmbedder(name="another-32")
    CachedEmbedder(other, cache_dir=tmp_path).encode(["a"])
    assert other.calls == ["a"]  # same text, different embedder: not a hit


def test_registry_specs_and_errors():
    assert make_embedder("hashing:64").dim == 64
    assert make_embedder("hashing").dim == 256
    with pytest.raises(ConfigError, match="unknown embedder 'bert'"):
        make_embedder("bert")
    with pytest.raises(ConfigError, match="must be a number"):
        make_embedder("hashing:big")


def test_joined_embedder_averages_its_parts_similarities():
    texts = ["solve the integral equation", "integral equation to solve", "ancient roman empire"]
    joined = make_embedder("hashing:64+hashing:32")
    assert (joined.name, joined.dim) == ("hashing-64+hashing-32", 96)
    X = joined.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-6)
    A, B = HashingEmbedder(64).encode(texts), HashingEmbedder(32).encode(texts)
    np.testing.assert_allclose(X @ X.T, (A @ A.T + B @ B.T) / 2, atol=1e-6)
    assert joined.encode([]).shape == (0, 96)
    with pytest.raises(ConfigError, match="empty part"):
        make_embedder("hashing+")
    with pytest.raises(ConfigError, match="unknown embedder 'bert'"):
        make_embedder("hashing+bert")


@pytest.mark.parametrize(("spec", "dim"), [("use", 512), ("e5", 384)])
def test_local_models_run_offline(spec, dim):
    emb = make_embedder(spec)
    X = emb.encode(["Wie spät ist es?", "What time is it?", "Write a quicksort in Python"])
    assert X.shape == (3, dim) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert X[0] @ X[1] > X[0] @ X[2]  # multilingual: the German and English questions agree
    assert emb.encode([]).shape == (0, dim)
