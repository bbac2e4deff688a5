"""Reading the decision log back: decisions left-joined with their feedback, as a pandas frame.

The tools that learn from traffic (``irtrouter learn``, ``shadow``, ``drift``, ``data export``)
read through :func:`read_log`. The SQL is plain SQL-92 (a left join, ``>=`` on a bound parameter)
so every backend of :mod:`irtrouter.store` runs it (``sqlite:///PATH`` or ``postgresql://...``);
only :func:`connect` knows the backend. Both are opened read-only (SQLite ``mode=ro``, PostgreSQL
``default_transaction_read_only``), so reading never creates, migrates or locks a database that
the service is writing (WAL readers do not block the writer; PostgreSQL readers never do).

Columns added by later schema versions are read as missing (None) from an older database, so a
schema-1 log still reads: it simply carries no propensities or embeddings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from irtrouter.errors import DataError, StorageError
from irtrouter.store.backends import connect_readonly, database_errors, placeholder
from irtrouter.store.base import redact_url
from irtrouter.store.records import DECISION_COLUMNS

#: The feedback columns of :func:`read_log` (NULL for a decision without feedback).
FEEDBACK_COLUMNS = ("feedback_id", "feedback_created_at", "score", "comment")


def read_log(url: str, since: float | None = None, *, with_feedback_only: bool = False) -> pd.DataFrame:
    """Decisions (every column of ``decisions``) left-joined with their feedback rows.

    Parameters
    ----------
    url : str
        The store's URL (``sqlite:///PATH`` or ``postgresql://...``).
    since : float, optional
        Unix seconds: only decisions created at or after it.
    with_feedback_only : bool
        Inner join: only decisions that have feedback.

    Returns
    -------
    DataFrame
        One row per (decision, feedback row) pair, ordered by decision time, then feedback time and
        id; a decision with no feedback appears once with NULL ``feedback_id``, ``score``... (see
        :data:`FEEDBACK_COLUMNS`). ``p_hat`` is decoded to a dict; ``query_embedding`` stays bytes
        (:func:`decode_embeddings`).

    Raises
    ------
    StorageError
        When the database cannot be opened or has no decision tables.

    Examples
    --------
    >>> frame = read_log("sqlite:///runs/serve.sqlite", since=1.7e9)  # doctest: +SKIP
    >>> frame.groupby("answered_by")["score"].mean()  # doctest: +SKIP
    """
    conn = connect_readonly(url)
    try:
        present = _columns(conn, url)
        select = [f"d.{c}" if c in present else f"NULL AS {c}" for c in DECISION_COLUMNS]
        select += ["f.id AS feedback_id", "f.created_at AS feedback_created_at", "f.score", "f.comment"]
        join = "JOIN" if with_feedback_only else "LEFT JOIN"
        sql = f"SELECT {', '.join(select)} FROM decisions d {join} feedback f ON f.request_id = d.request_id"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += f" WHERE d.created_at >= {placeholder(url)}"
            params = (float(since),)
        sql += " ORDER BY d.created_at, d.request_id, f.created_at, f.id"
        try:
            rows = conn.execute(sql, params).fetchall()
        except database_errors(url) as exc:
            raise StorageError(f"{redact_url(url)}: cannot read the decision log ({exc})") from None
    finally:
        conn.close()
    frame = pd.DataFrame(rows, columns=[*DECISION_COLUMNS, *FEEDBACK_COLUMNS])
    frame["p_hat"] = [_json_dict(v, url, "p_hat") for v in frame["p_hat"]]
    return frame


def parse_time(text: str) -> float:
    """Unix seconds from ``text``: a number of seconds, or an ISO 8601 date or time (UTC unless it
    names a zone).

    Examples
    --------
    >>> parse_time("1700000000"), parse_time("1970-01-02")
    (1700000000.0, 86400.0)
    """
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(f"expected unix seconds or an ISO 8601 time (2025-01-31T12:00), got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _columns(conn: Any, url: str) -> set[str]:
    try:
        cursor = conn.execute("SELECT * FROM decisions WHERE 1 = 0")
        conn.execute("SELECT id, request_id, created_at, score, comment FROM feedback WHERE 1 = 0")
    except database_errors(url) as exc:
        raise StorageError(f"{redact_url(url)}: not a decision log ({exc})") from None
    return {d[0] for d in cursor.description}


def _json_dict(value: Any, url: str, column: str) -> dict[str, float]:
    if value is None:
        return {}
    try:
        out = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        raise DataError(f"{column} is not JSON: {str(value)[:60]!r}", source=redact_url(url)) from None
    if not isinstance(out, dict):
        raise DataError(f"{column} is not a JSON object", source=redact_url(url))
    return out


def decode_embeddings(blobs: Sequence[bytes | None], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(X, ok)``: the float32 little-endian ``query_embedding`` blobs as rows of ``X`` (n, dim);
    ``ok[i]`` is False (and row ``i`` zero) where the blob is missing or not ``dim`` floats long.

    Examples
    --------
    >>> X, ok = decode_embeddings([np.ones(2, "<f4").tobytes(), None, b"xx"], 2)
    >>> X.tolist(), ok.tolist()
    ([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]], [True, False, False])
    """
    X = np.zeros((len(blobs), dim), dtype=np.float32)
    ok = np.zeros(len(blobs), dtype=bool)
    for i, blob in enumerate(blobs):
        if isinstance(blob, bytes | bytearray | memoryview) and len(blob) == 4 * dim:
            row = np.frombuffer(bytes(blob), dtype="<f4")
            if np.isfinite(row).all():
                X[i], ok[i] = row, True
    return X, ok
