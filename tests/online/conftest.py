"""Fixtures for learning from traffic: a small trained router on the synthetic topics."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from irtrouter.routing import IRTRouter
from irtrouter.store import DecisionRecord, SQLiteStore, query_hash
from tests.helpers import topic_catalog, topic_results


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2PL router on the synthetic topics, hashing embedder (fast, deterministic), no lineage."""
    path = tmp_path_factory.mktemp("online-router")
    router = IRTRouter(embedder="hashing:64", predictor="2pl", predictor_params={"max_epochs": 60})
    router.fit(topic_results(n_per_topic=40, seed=1), topic_catalog(), use_cache=False)
    router.save(path)
    return path


@dataclass
class LoggedRequest:
    """One decision to write through the real store, with its feedback scores (in order)."""

    query: str | None
    llm_id: str
    answered_by: str | None
    scores: list[float] = field(default_factory=list)
    embedding: np.ndarray | None = None
    propensity: float | None = 1.0
    p_hat: dict[str, float] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
    router_version: str | None = None
    alpha: float = 0.8
    cost_usd: float | None = 1e-4
    created_at: float | None = None


def write_log(path: Path, requests: list[LoggedRequest]) -> str:
    """Write ``requests`` through :class:`SQLiteStore` (decisions, then feedback); the store URL."""
    url = f"sqlite:///{path}"

    async def go() -> None:
        store = SQLiteStore(url)
        await store.start()
        try:
            for i, r in enumerate(requests):
                record = DecisionRecord(
                    request_id=f"req-{i:05d}",
                    created_at=time.time() if r.created_at is None else r.created_at,
                    endpoint="route",
                    profile="auto",
                    query_hash=query_hash(r.query or f"hidden-{i}"),
                    query_text=r.query,
                    llm_id=r.llm_id,
                    alpha=r.alpha,
                    p_hat=r.p_hat,
                    decision=r.decision,
                    expected_input_tokens=10,
                    expected_output_tokens=20,
                    expected_cost_usd=r.cost_usd,
                    cost_source="tokens",
                    routing_ms=0.1,
                    status="ok",
                    answered_by=r.answered_by,
                    input_tokens=10,
                    output_tokens=20,
                    cost_usd=r.cost_usd,
                    router_version=r.router_version,
                    propensity=r.propensity,
                    query_embedding=None if r.embedding is None else np.asarray(r.embedding, "<f4").tobytes(),
                )
                await store.add_decision(record)
            for i, r in enumerate(requests):
                for s in r.scores:
                    assert await store.add_feedback(f"req-{i:05d}", s, None) is not None
        finally:
            await store.close()

    asyncio.run(go())
    return url
