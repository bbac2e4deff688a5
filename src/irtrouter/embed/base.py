"""The Embedder protocol: text in, unit-length float32 rows out.

Queries and LLM profiles are embedded by the same embedder (IRT-Router section 4.1). A router
records its embedder's ``name`` and ``dim`` and refuses to run with another one, because its
weights are only meaningful in that embedding space.

What is embedded can be capped (:func:`cap_text`): a long prompt keeps its head and its tail,
because an encoder's cost grows with the text (USE: ~12 ms per 1,000 characters on one core, ~3 ms
for a typical 200-character query) while the instruction and the question sit at the two ends.
Every text goes through :func:`irtrouter.embed.cache.encode_texts` or
:class:`~irtrouter.embed.cache.CachedEmbedder`, which apply the cap, so training, routing and the
cache all see the same capped text. The default, :data:`MAX_CHARS` = 1,024, was measured
(``benchmarks/capping.py``, docs/BENCHMARKS.md, issue 16): on the ID split of all five datasets of
the shared data, MIRT-Router's Reward at alpha 0.8 and 0.5 with capped texts stays within 0.2
points of the uncapped one, less than the spread between training seeds, while the p99 of a USE
embedding on the 1,000 queries of benchmarks/route_latency.py fell from 7.3x to 4.3x its p50 (one
run on a loaded machine). A 512 cap cut the p99 further (3.2x) but lost 0.45 points on LLMRouter
at alpha 0.5 over three seeds (paired interval below 0). An embedder's own ``max_chars`` (None: no
cap) replaces the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Anything with a ``name``, a ``dim`` and ``encode(texts) -> (len(texts), dim) float32``.

    ``name`` identifies the embedding space (model and version): the disk cache and saved
    routers key on it. Rows must be L2-normalised. An embedder may declare ``max_chars`` (an int,
    or None for no cap) to replace :data:`MAX_CHARS` for the texts given to it (:func:`text_cap`).
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


#: Characters of a text that are embedded when an embedder declares no ``max_chars`` (module
#: docstring): 1,024 leaves 91% of LLMRouter's queries (median 111 characters, p99 2,249), 95% of
#: RouterDC's and 89% of RouteLLM's untouched, and 13% of RouterBench's (median 1,491).
MAX_CHARS: int | None = 1024
#: What stands for the cut middle of a capped text.
ELLIPSIS = "\n...\n"


def cap_text(text: str, max_chars: int | None = MAX_CHARS) -> str:
    """``text`` when it has at most ``max_chars`` characters, else its head and its tail joined by
    :data:`ELLIPSIS`, ``max_chars`` characters in all (the head takes the odd one). ``None``: no cap.

    Examples
    --------
    >>> cap_text("short")
    'short'
    >>> cap_text("abcdefghijklmnopqrstuvwxyz", max_chars=15)
    'abcde\\n...\\nvwxyz'
    """
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars <= len(ELLIPSIS):
        raise ValueError(f"max_chars must exceed {len(ELLIPSIS)}, got {max_chars}")
    kept = max_chars - len(ELLIPSIS)
    head = (kept + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (kept - head) :]


def text_cap(embedder: object) -> int | None:
    """The cap of the texts ``embedder`` is given: its own ``max_chars`` when it declares one."""
    return getattr(embedder, "max_chars", MAX_CHARS)


def cap_texts(texts: Sequence[str], max_chars: int | None = MAX_CHARS) -> list[str]:
    """:func:`cap_text` of each text."""
    return [cap_text(t, max_chars) for t in texts]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` as float32 with every non-zero row scaled to length 1."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
