"""Small routers on the synthetic topic data (hashing embedder), shared by the explain tests."""

import copy
from typing import ClassVar

import pytest

from irtrouter.routing import IRTRouter


class TopicLabeller:
    """Names each synthetic query's abilities from its topic word (a known relevance structure)."""

    name = "test:topic-words"
    ABILITIES: ClassVar[dict[str, set[int]]] = {"math": {9}, "code": {13}, "history": {3, 17}}

    def label(self, queries):
        return set().union(*(v for q in queries for k, v in self.ABILITIES.items() if f" {k} " in q))


def fit(kind, topic_data, **params):
    # The explanation tests check numbers against the router's own parameters and structure that
    # comes from the data and labeller, not learned quality: a few epochs are enough.
    # One torch thread: these models are tiny, and on a busy 2-core machine thread hand-offs made
    # the fits ~30x slower (10 s vs 0.3 s measured). The setting is restored afterwards.
    import torch

    train, _, catalog = topic_data
    router = IRTRouter(
        predictor=kind, embedder="hashing:64", predictor_params={"max_epochs": 25}, random_state=0, **params
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return router.fit(train, catalog, labeller=TopicLabeller(), use_cache=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def mirt_warm_router(topic_data):
    return fit("mirt", topic_data)


@pytest.fixture(scope="session")
def mirt_router(mirt_warm_router):
    """The same MIRT without warm-up (read at predict time), so each explanation can be
    recomputed from the query embedding alone."""
    router = copy.copy(mirt_warm_router)
    router.warmup_lambda = router.warmup_lambda_ = 0.0
    return router


@pytest.fixture(scope="session")
def nirt_router(topic_data):
    return fit("nirt", topic_data)


@pytest.fixture(scope="session")
def twopl_router(topic_data):
    return fit("2pl", topic_data, n_dims=1)
