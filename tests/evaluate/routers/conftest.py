"""The evaluation's routers on the synthetic topic data (hashing embeddings), with short training."""

import pytest

from irtrouter.embed import make_embedder
from irtrouter.evaluate.metrics import realised_costs
from irtrouter.evaluate.routers.contract import QueryBatch, TrainingData
from irtrouter.evaluate.routers.registry import make_router

# Short training for CI, by each router's own parameter: the IRT predictors' epochs, MF's and the
# policy's stage-1 epochs, the MLP's iterations and the policy's pre-training and PPO steps.
SHORT = {"predictor_params": {"max_epochs": 8}, "max_epochs": 8, "max_iter": 40}


def build_router(name, **params):
    """``make_router(name)`` with the short training settings it takes, ``params`` winning."""
    router = make_router(name)
    short = {k: v for k, v in SHORT.items() if k in router.get_params()}
    return make_router(name, **{**short, **params})


@pytest.fixture(scope="session")
def build():
    return build_router


@pytest.fixture(scope="session")
def embedder():
    return make_embedder("hashing:128")


@pytest.fixture(scope="session")
def data(topic_data, embedder):
    """(training data, the test batch with its outcomes, the same batch without, test results, costs)."""
    train, test, catalog = topic_data
    td = TrainingData(train, catalog, embedder.encode(list(train.queries)), embedder)
    costs, _ = realised_costs(test, catalog)
    truth = QueryBatch(test.queries, embedder.encode(list(test.queries)), test.scores, costs)
    blind = QueryBatch(test.queries, truth.X)
    return td, truth, blind, test, costs
