"""The embedded text can be capped: long prompts keep their head and tail, short ones are untouched."""

from __future__ import annotations

import numpy as np
import pytest

from irtrouter.embed.base import ELLIPSIS, MAX_CHARS, cap_text, cap_texts, text_cap
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.hashing import HashingEmbedder
from irtrouter.embed.local import E5Embedder, USEEmbedder, WordLlamaEmbedder

CAP = 512


class Capped(HashingEmbedder):
    max_chars = CAP


def long_prompt(n: int) -> str:
    return "".join(chr(ord("a") + i % 26) for i in range(n))


def test_short_texts_are_left_unchanged():
    for text in ["", "x", "What is 2 + 2?", "y" * CAP]:
        assert cap_text(text, CAP) is text


def test_the_default_cap_applies_to_every_embedder_that_declares_none():
    """1,024 characters (measured to lose no routing quality, issue 16) unless the embedder says otherwise."""
    assert MAX_CHARS == 1024
    text = long_prompt(5000)
    assert len(cap_text(text)) == MAX_CHARS
    emb = HashingEmbedder(64)
    np.testing.assert_array_equal(encode_texts(emb, [text]), emb.encode([cap_text(text, MAX_CHARS)]))
    assert not np.allclose(encode_texts(emb, [text]), emb.encode([text]))


def test_the_local_embedders_take_the_default_cap_and_an_override():
    """Constructing them loads no model, so this runs without their packages."""
    for cls in (USEEmbedder, E5Embedder, WordLlamaEmbedder):
        assert cls().max_chars == MAX_CHARS
        assert cls(max_chars=None).max_chars is None
        assert text_cap(cls(max_chars=2048)) == 2048


def test_the_service_caps_at_the_library_default():
    from irtrouter.serve.config import RoutingConfig

    assert RoutingConfig().max_query_chars == MAX_CHARS


@pytest.mark.parametrize("max_chars", [16, 17, 100, CAP])
def test_a_long_text_keeps_its_head_and_its_tail_within_the_cap(max_chars):
    text = "HEAD" + long_prompt(5000) + "TAIL"
    capped = cap_text(text, max_chars)
    assert len(capped) == max_chars
    head, _, tail = capped.partition(ELLIPSIS)
    assert text.startswith(head) and text.endswith(tail)
    assert len(head) - len(tail) in (0, 1)
    assert capped.startswith("HEAD") and capped.endswith("TAIL")


def test_capping_is_deterministic_and_idempotent():
    text = long_prompt(3000)
    assert cap_text(text, CAP) == cap_text(text, CAP)
    assert cap_text(cap_text(text, CAP), CAP) == cap_text(text, CAP)
    assert cap_text(text, None) is text


def test_a_cap_too_small_for_the_ellipsis_is_refused():
    with pytest.raises(ValueError, match="max_chars"):
        cap_text(long_prompt(100), max_chars=len(ELLIPSIS))


def test_every_embedding_path_embeds_the_capped_text(tmp_path):
    emb = Capped(64)
    text = long_prompt(4000) + " the question at the end"
    expected = emb.encode(cap_texts([text], CAP))
    assert not np.allclose(expected, emb.encode([text]))
    np.testing.assert_array_equal(encode_texts(emb, [text]), expected)
    np.testing.assert_array_equal(CachedEmbedder(emb, tmp_path).encode([text]), expected)
    # The cache keys on what was embedded, so a capped text and its original share an entry.
    np.testing.assert_array_equal(CachedEmbedder(emb, tmp_path).encode([cap_text(text, CAP)]), expected)


def test_an_embedder_may_declare_its_own_cap():
    class Uncapped(HashingEmbedder):
        max_chars = None

    emb = Uncapped(64)
    text = long_prompt(2000)
    np.testing.assert_array_equal(encode_texts(emb, [text]), emb.encode([text]))


def test_a_saved_router_routes_with_the_cap_it_was_trained_with(tmp_path):
    import json

    from irtrouter.routing.router import IRTRouter
    from irtrouter.routing.saved import load_router
    from tests.helpers import topic_catalog, topic_results

    router = IRTRouter(embedder="hashing:64", predictor="mirt", predictor_params={"max_epochs": 5})
    router.fit(topic_results(n_per_topic=10, seed=0), topic_catalog(), use_cache=False)
    router.save(tmp_path / "r")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["embedder"]["max_chars"] == MAX_CHARS
    assert text_cap(load_router(tmp_path / "r").embedder_) == MAX_CHARS
    # A router saved before the cap was recorded was trained on whole texts: it stays uncapped.
    del config["embedder"]["max_chars"]
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    assert text_cap(load_router(tmp_path / "r").embedder_) is None
