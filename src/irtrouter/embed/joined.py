"""Several embedders side by side: ``use+hashing:512`` (:func:`irtrouter.embed.make_embedder`).

Each part's unit rows are concatenated and the result divided by sqrt(number of parts), so the
rows stay unit-length and the cosine similarity of two texts is the mean of their similarities
in each part: a meaning embedding and a lexical one count alike. Measured as ``default``'s
embedder and not kept (docs/BENCHMARKS.md, issue 12, "Tried: lexical features beside USE"):
USE with word and trigram hashing routed better on llmrouter and routerbench_subset OOD and
worse on routerdc_7llm, and validation could not tell which.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irtrouter.embed.base import Embedder, cap_texts, text_cap, unit_rows


class JoinedEmbedder:
    """The concatenation of ``parts``' embeddings, each part weighted alike.

    Examples
    --------
    >>> from irtrouter.embed.hashing import HashingEmbedder
    >>> emb = JoinedEmbedder([HashingEmbedder(16), HashingEmbedder(8)])
    >>> emb.name, emb.dim, round(float(np.linalg.norm(emb.encode(["a query"])[0])), 5)
    ('hashing-16+hashing-8', 24, 1.0)
    """

    def __init__(self, parts: Sequence[Embedder]) -> None:
        if len(parts) < 2:
            raise ValueError("a joined embedder needs at least two parts")
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)
        self.dim = sum(p.dim for p in self.parts)
        # The widest of the parts' caps reaches encode, which gives each part its own cut.
        caps = [text_cap(p) for p in self.parts]
        self.max_chars: int | None = None if None in caps else max(c for c in caps if c is not None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        blocks = [unit_rows(p.encode(cap_texts(texts, text_cap(p)))).reshape(len(texts), p.dim) for p in self.parts]
        return (np.hstack(blocks) / np.sqrt(len(blocks))).astype(np.float32)
