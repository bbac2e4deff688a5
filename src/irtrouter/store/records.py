"""What the decision log holds: one row per routed request, and the feedback scores given for them.

The schema is the contract between the service that writes the log and the tools that read it
(learning from traffic, shadow evaluation, export for retraining); every backend of
:mod:`irtrouter.store` keeps these tables and columns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 3

#: Schema 3: the ``/healthz`` write probe's table (one row, rewritten by each probe) and the
#: indexes that retention (``storage.retention_days``) and reading by time need.
SCHEMA_3 = (
    "CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, checked_at REAL NOT NULL, writer TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS decisions_created ON decisions(created_at)",
    "CREATE INDEX IF NOT EXISTS feedback_created ON feedback(created_at)",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    request_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,            -- unix seconds
    endpoint TEXT NOT NULL,              -- chat | chat-stream | route
    profile TEXT NOT NULL,
    query_hash TEXT NOT NULL,            -- sha256 of the routed query text
    query_text TEXT,                     -- only with storage.store_text
    llm_id TEXT NOT NULL,                -- the router's choice
    answered_by TEXT,                    -- the LLM that answered (after fallback), NULL if none
    alpha REAL NOT NULL,
    p_hat TEXT NOT NULL,                 -- JSON {llm_id: P-hat} over every router LLM
    decision TEXT NOT NULL,              -- JSON routing object sent to the client
    expected_input_tokens INTEGER,
    expected_output_tokens INTEGER,
    expected_cost_usd REAL,              -- of the chosen LLM
    cost_source TEXT,
    input_tokens INTEGER,                -- reported by the provider
    output_tokens INTEGER,
    cost_usd REAL,                       -- provider tokens x catalog prices
    routing_ms REAL,
    latency_ms REAL,                     -- whole request, as seen by the service
    upstream_status INTEGER,             -- HTTP status of the last provider call
    attempts TEXT,                       -- JSON list of provider calls
    status TEXT NOT NULL,                -- routed | ok | streaming | failed | stream_error | client_closed
    -- schema 2: what learning from traffic, shadow evaluation, budgets and savings need
    router_version TEXT,                 -- the version of the router that decided
    propensity REAL,                     -- probability with which llm_id was chosen (1 when deterministic)
    query_embedding BLOB,                -- float32 little-endian embedding of the routed query
    client_key_id TEXT,                  -- id of the client key (never the key itself)
    session_id TEXT,                     -- the conversation the request belongs to
    reference_llm TEXT,                  -- the profile's reference LLM (savings are against it)
    reference_cost_usd REAL              -- what the request would have cost on reference_llm
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL REFERENCES decisions(request_id),
    created_at REAL NOT NULL,
    score REAL NOT NULL,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS feedback_request ON feedback(request_id);
""" + "\n".join(f"{statement};" for statement in SCHEMA_3)

#: Statements that bring a database of the key's version - 1 to the key's version, in order.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: tuple(
        f"ALTER TABLE decisions ADD COLUMN {column}"
        for column in (
            "router_version TEXT",
            "propensity REAL",
            "query_embedding BLOB",
            "client_key_id TEXT",
            "session_id TEXT",
            "reference_llm TEXT",
            "reference_cost_usd REAL",
        )
    ),
    3: SCHEMA_3,
}

DECISION_COLUMNS = (
    "request_id",
    "created_at",
    "endpoint",
    "profile",
    "query_hash",
    "query_text",
    "llm_id",
    "answered_by",
    "alpha",
    "p_hat",
    "decision",
    "expected_input_tokens",
    "expected_output_tokens",
    "expected_cost_usd",
    "cost_source",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "routing_ms",
    "latency_ms",
    "upstream_status",
    "attempts",
    "status",
    "router_version",
    "propensity",
    "query_embedding",
    "client_key_id",
    "session_id",
    "reference_llm",
    "reference_cost_usd",
)
OUTCOME_COLUMNS = (
    "answered_by",
    "decision",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "upstream_status",
    "attempts",
    "status",
    "reference_cost_usd",  # priced from the reported tokens, known when the stream ends
)


def query_hash(text: str) -> str:
    """sha256 hex of the routed query text (what is stored unless ``store_text``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class DecisionRecord:
    """One row of ``decisions`` (columns documented in the schema)."""

    request_id: str
    created_at: float
    endpoint: str
    profile: str
    query_hash: str
    query_text: str | None
    llm_id: str
    alpha: float
    p_hat: dict[str, float]
    decision: dict[str, Any]
    expected_input_tokens: int | None
    expected_output_tokens: int | None
    expected_cost_usd: float | None
    cost_source: str
    routing_ms: float
    status: str
    answered_by: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    upstream_status: int | None = None
    attempts: list[dict[str, Any]] | None = None
    router_version: str | None = None
    propensity: float | None = None
    query_embedding: bytes | None = None
    client_key_id: str | None = None
    session_id: str | None = None
    reference_llm: str | None = None
    reference_cost_usd: float | None = None

    def row(self, columns: tuple[str, ...]) -> tuple[Any, ...]:
        out = []
        for c in columns:
            v = getattr(self, c)
            out.append(json.dumps(v) if isinstance(v, dict | list) else v)
        return tuple(out)
