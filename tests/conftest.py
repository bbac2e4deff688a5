"""Shared fixtures: an isolated embedding cache, the shared real data, small synthetic results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import TOPIC_LLMS, topic_catalog, topic_results
from tests.postgres import postgres_cluster, postgres_url  # noqa: F401  (fixtures: the store and serve tests)

SHARED_DATA_ENV = "IRTROUTER_SHARED_DATA"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the user's ~/.cache: each test session gets its own embedding cache, unless
    IRTROUTER_TEST_CACHE_DIR points at a persistent one (benchmark-style reruns)."""
    persistent = os.environ.get("IRTROUTER_TEST_CACHE_DIR")
    os.environ["IRTROUTER_CACHE_DIR"] = persistent or str(tmp_path_factory.mktemp("embed-cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or $IRTROUTER_SHARED_DATA). Missing data fails loudly, never skips."""
    root = Path(os.environ.get(SHARED_DATA_ENV, Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    if not root.is_dir():
        pytest.fail(
            f"shared datasets not found at {root}: set {SHARED_DATA_ENV} to the folder of "
            "llmrouter/, routerbench_subset/, ... (CI checks it out beside the project)"
        )
    return root.resolve()


@pytest.fixture(scope="session")
def topic_data():
    """(train, test, catalog): synthetic queries whose topic decides which LLM answers well."""
    train = topic_results(n_per_topic=80, seed=1)
    test = topic_results(n_per_topic=30, seed=2, prefix="t")
    return train, test, topic_catalog()


@pytest.fixture(scope="session")
def topic_llms() -> tuple[str, ...]:
    return TOPIC_LLMS
