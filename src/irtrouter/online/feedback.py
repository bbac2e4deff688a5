"""Scored requests: one feedback score per logged decision, and the query features it was routed on.

**Duplicate rule: the last score wins.** A request may be scored several times (a user changes
their mind, a grader re-runs); the row with the latest ``feedback.created_at`` (ties: the highest
feedback id, i.e. the one written last) is the request's score, and the earlier ones are ignored
and counted. The last word is the one the scorer stands by; a mean would let a retried grader
count twice.

The feedback informs the ability of ``answered_by`` (the LLM that actually answered, after any
fallback), never ``llm_id`` (the router's choice); a decision nobody answered is skipped.

A decision's query is read from its ``query_embedding`` (float32 bytes written by the service);
where that is missing, from embedding its ``query_text``; a row with neither is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from irtrouter.routing.router import IRTRouter
from irtrouter.store.reading import decode_embeddings

DUPLICATE_RULE = "last"


@dataclass(frozen=True)
class ScoredRequests:
    """One row per scored, answered request (``frame``) and what was left out.

    Attributes
    ----------
    frame : DataFrame
        The decision columns plus ``score`` (by :data:`DUPLICATE_RULE`) and ``n_scores`` (feedback
        rows the request had).
    n_feedback_rows : int
        Feedback rows read.
    n_superseded : int
        Feedback rows ignored because a later score of the same request wins.
    n_unanswered : int
        Scored requests no LLM answered (failed before an answer).
    """

    frame: pd.DataFrame
    n_feedback_rows: int
    n_superseded: int
    n_unanswered: int


def scored_requests(log: pd.DataFrame) -> ScoredRequests:
    """Apply the duplicate rule to :func:`irtrouter.store.reading.read_log` rows.

    Examples
    --------
    >>> log = pd.DataFrame({"request_id": ["a", "a", "b"], "answered_by": ["m", "m", "m"],
    ...                     "feedback_id": [1, 2, 3], "feedback_created_at": [5.0, 9.0, 1.0],
    ...                     "score": [0.0, 1.0, 0.5]})
    >>> scored_requests(log).frame[["request_id", "score", "n_scores"]].values.tolist()
    [['a', 1.0, 2], ['b', 0.5, 1]]
    """
    fed = log[log["feedback_id"].notna()]
    ordered = fed.sort_values(["request_id", "feedback_created_at", "feedback_id"], kind="stable")
    counts = ordered.groupby("request_id", sort=False)["feedback_id"].transform("size")
    last = ordered.assign(n_scores=counts.astype(int)).drop_duplicates("request_id", keep="last")
    answered = last[last["answered_by"].notna()]
    return ScoredRequests(
        frame=answered.reset_index(drop=True),
        n_feedback_rows=len(fed),
        n_superseded=len(fed) - len(last),
        n_unanswered=len(last) - len(answered),
    )


def has_text(values: Iterable[object]) -> np.ndarray:
    """Per logged ``query_text`` value, whether it is a text that is not blank (a store without
    ``store_text`` logs None).

    Examples
    --------
    >>> has_text(["2+2?", " ", None]).tolist()
    [True, False, False]
    """
    return np.array([isinstance(t, str) and bool(t.strip()) for t in values], dtype=bool)


def query_embeddings(router: IRTRouter, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(X, ok)``: each row's routed embedding (the stored one, else its text embedded with the
    router's embedder); ``ok`` is False for rows with neither (their row of ``X`` is zero)."""
    dim = router.embedder_.dim
    X, ok = decode_embeddings(list(frame["query_embedding"]), dim)
    texts = frame["query_text"].to_numpy(dtype=object)
    need = np.flatnonzero(~ok & has_text(texts))
    if len(need):
        X[need] = router.embed([str(texts[i]) for i in need])
        ok[need] = True
    return X, ok
