"""The embedded text can be capped: long prompts keep their head and tail, short ones are untouched."""

from __future__ import annotations

import numpy as np
import pytest

from irtrouter.embed.base import ELLIPSIS, MAX_CHARS, cap_text, cap_texts
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.hashing import HashingEmbedder

CAP = 512


class Capped(HashingEmbedder):
    max_chars = CAP


def long_prompt(n: int) -> str:
    return "".join(chr(ord("a") + i % 26) for i in range(n))


def test_short_texts_are_left_unchanged():
    for text in ["", "x", "What is 2 + 2?", "y" * CAP]:
        assert cap_text(text, CAP) is text


def test_no_cap_by_default():
    """Off unless an embedder declares one: a default cap would change every benchmark embedding."""
    text = long_prompt(5000)
    assert MAX_CHARS is None and cap_text(text) is text
    emb = HashingEmbedder(64)
    np.testing.assert_array_equal(encode_texts(emb, [text]), emb.encode([text]))


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
