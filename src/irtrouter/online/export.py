"""The decision log as long results (``irtrouter data export``): what ``irtrouter train`` reads.

One row per (query, LLM) with a score: ``query_id`` (:func:`~irtrouter.data.results.query_id_for`
of the text, as training names queries), ``query``, ``llm_id`` (the LLM that answered: ``answered_by``),
``score`` (the request's last feedback, :data:`~irtrouter.online.feedback.DUPLICATE_RULE`), ``task``
(empty: traffic has none) and the provider's ``input_tokens``, ``output_tokens`` and ``cost_usd``.
The same query answered by the same LLM in several requests keeps the latest request's row (the
last-wins rule again, one level up). Requests logged without their text (``store_text`` off) cannot
be retrained on and are counted, not exported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from irtrouter.data.results import query_id_for
from irtrouter.errors import ConfigError
from irtrouter.online.feedback import has_text, scored_requests

EXPORT_COLUMNS = ("query_id", "query", "llm_id", "score", "task", "input_tokens", "output_tokens", "cost_usd")


@dataclass(frozen=True)
class Export:
    """The long results and what could not be exported."""

    frame: pd.DataFrame
    n_without_text: int
    n_repeated: int


def log_to_results(log: pd.DataFrame) -> Export:
    """Long results from :func:`~irtrouter.store.reading.read_log` rows (module docstring).

    Examples
    --------
    >>> log = pd.DataFrame({"request_id": ["r1"], "created_at": [1.0], "query_text": ["2+2?"],
    ...     "answered_by": ["m"], "llm_id": ["m"], "feedback_id": [1], "feedback_created_at": [2.0],
    ...     "score": [1.0], "input_tokens": [3], "output_tokens": [1], "cost_usd": [1e-6]})
    >>> log_to_results(log).frame[["query", "llm_id", "score"]].values.tolist()
    [['2+2?', 'm', 1.0]]
    """
    scored = scored_requests(log).frame
    texted = has_text(scored["query_text"])
    with_text = scored[texted].sort_values(["created_at", "request_id"], kind="stable")
    frame = pd.DataFrame(
        {
            "query_id": [query_id_for(t) for t in with_text["query_text"]],
            "query": with_text["query_text"].to_numpy(dtype=object),
            "llm_id": with_text["answered_by"].to_numpy(dtype=object),
            "score": with_text["score"].to_numpy(dtype=np.float64),
            "task": "",
            "input_tokens": pd.to_numeric(with_text["input_tokens"], errors="coerce").to_numpy(dtype=np.float64),
            "output_tokens": pd.to_numeric(with_text["output_tokens"], errors="coerce").to_numpy(dtype=np.float64),
            "cost_usd": pd.to_numeric(with_text["cost_usd"], errors="coerce").to_numpy(dtype=np.float64),
        },
        columns=list(EXPORT_COLUMNS),
    )
    unique = frame.drop_duplicates(["query_id", "llm_id"], keep="last").reset_index(drop=True)
    return Export(unique, n_without_text=int((~texted).sum()), n_repeated=len(frame) - len(unique))


SUFFIXES = ("parquet", "csv", "jsonl", "ndjson")


def results_suffix(path: str) -> str:
    """The format of an export path (its suffix), checked before anything is read.

    Raises
    ------
    ConfigError
        For a suffix other than ``.parquet``, ``.csv``, ``.jsonl`` or ``.ndjson``.
    """
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in SUFFIXES:
        raise ConfigError(f"--out {path}: expected a .parquet, .csv or .jsonl file")
    return suffix


def write_results(frame: pd.DataFrame, path: str) -> None:
    """Write long results as ``.parquet``, ``.csv`` or ``.jsonl`` (by the suffix)."""
    suffix = results_suffix(path)
    if suffix == "parquet":
        frame.to_parquet(path, index=False)
    elif suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
