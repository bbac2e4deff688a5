"""Queries unlike every training query: routed by the IRT model alone.

The kNN blend, the stack (:mod:`irtrouter.routing.stacking`), the calibration and the guard
(:mod:`irtrouter.routing.selection`) are fitted on validation queries carved from the training
tasks. They are local devices: the blend and the stack read the scores of a query's nearest
training queries, and the calibration's corrections and the guard's margins and default LLM are
what paid on queries like the training ones. On a query far from every training query the
neighbours are strangers and the validated corrections say nothing, while the IRT model still
predicts from the query's embedding and the LLMs' abilities (IRT-Router's case for unseen
queries). Measured on the protocol's out-of-distribution splits (docs/BENCHMARKS.md, issue 12):
the mean cosine similarity of a test query to its 10 nearest training queries is about 0.17 on
routerbench_subset (validation queries: 0.96) and 0.34 on zeroeval (0.54).

So a query is **unfamiliar** when its *familiarity* (that mean similarity to its ``FAMILIAR_K``
nearest training queries) is below the ``FAMILIAR_QUANTILE`` quantile of the validation queries'
familiarity (measured against the queries the model was fitted on): less familiar than nearly
every query the stages were validated on. It is then routed by the model's own P (after the
warm-up, as IRT-Router routes) with none of the stages fitted on the validation queries: no kNN
blend or stack, no guard, and no calibration either, whose per-LLM corrections are the training
tasks' (calibrated, the unfamiliar queries of zeroeval OOD seed 1 went to an LLM the calibration
favoured and lost a quarter of their performance). Every other query is routed as before. Numpy
only at route time: the neighbours are already searched for the warm-up and the blend.

Examples
--------
>>> E = np.eye(3, dtype=np.float32)                     # three training queries
>>> near = np.array([[0, 1, 2], [2, 1, 0]])
>>> [round(f, 2) for f in familiarity(np.array([[1.0, 0, 0], [0.6, 0, 0.8]], np.float32), E, near, k=1).tolist()]
[1.0, 0.8]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FAMILIAR_K", "FAMILIAR_QUANTILE", "Familiarity", "familiarity"]

#: Nearest training queries whose mean similarity is a query's familiarity.
FAMILIAR_K = 10
#: A query less familiar than this share of the validation queries is unfamiliar.
FAMILIAR_QUANTILE = 0.01


def familiarity(X: np.ndarray, embeddings: np.ndarray, near: np.ndarray, k: int = FAMILIAR_K) -> np.ndarray:
    """Mean cosine similarity (n,) of each row of ``X`` (unit length) to its ``k`` nearest rows of
    ``embeddings``, given as indices ``near`` (n, >= k), most similar first."""
    rows = near[:, :k]
    return np.einsum("nd,nkd->n", np.asarray(X, dtype=np.float32), embeddings[rows]) / rows.shape[1]


@dataclass(frozen=True)
class Familiarity:
    """The familiarity below which a query is unfamiliar; ``validation`` records the validation
    queries' familiarity (quantiles) for the report."""

    threshold: float
    validation: dict[str, Any]

    @classmethod
    def fit(cls, familiarities: np.ndarray, quantile: float = FAMILIAR_QUANTILE) -> Familiarity:
        """From the validation queries' familiarity (to the queries the model was fitted on)."""
        q = np.quantile(familiarities, [0.0, quantile, 0.1, 0.5, 0.9])
        record = {
            "k": FAMILIAR_K,
            "quantile": quantile,
            "n_validation_queries": len(familiarities),
            "validation_familiarity": {
                "min": round(float(q[0]), 6),
                "q10": round(float(q[2]), 6),
                "median": round(float(q[3]), 6),
                "q90": round(float(q[4]), 6),
            },
        }
        return cls(threshold=float(q[1]), validation=record)

    def unfamiliar(self, X: np.ndarray, embeddings: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mask, familiarity)`` of embedded queries with their neighbour indices."""
        f = familiarity(X, embeddings, near)
        return f < self.threshold, f

    def report(self) -> dict[str, Any]:
        return {"threshold": round(self.threshold, 6), **self.validation}

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"threshold": self.threshold, "validation": self.validation}, {}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Familiarity:
        return cls(threshold=float(config["threshold"]), validation=config.get("validation", {}))
