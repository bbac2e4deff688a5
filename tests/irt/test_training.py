import numpy as np
import pytest

from irtrouter.errors import ConfigError, DataError, NotFittedError
from irtrouter.irt import MIRTPredictor, NIRTPredictor
from irtrouter.irt.registry import PREDICTORS as REGISTERED
from tests.helpers import mirt_data

# The contract holds for every predictor a router can be built with.
PREDICTORS = list(REGISTERED.values())


def context_for(cls, n):
    if not cls.requires_context:
        return None
    rng = np.random.default_rng(0)
    return (rng.random((n, 25)) < 0.2).astype(np.float32)


@pytest.mark.parametrize("cls", PREDICTORS)
def test_contract_fit_returns_self_and_is_seeded(cls):
    Xq, Xm, Y, _ = mirt_data(n_queries=300, n_llms=4, seed=2)
    ctx = context_for(cls, 300)
    a = cls(max_epochs=3, random_state=5)
    assert a.fit(Xq, Xm, Y, context=ctx) is a
    b = cls(max_epochs=3, random_state=5).fit(Xq, Xm, Y, context=ctx)
    c = cls(max_epochs=3, random_state=6).fit(Xq, Xm, Y, context=ctx)
    np.testing.assert_array_equal(a.predict_proba(Xq, ctx), b.predict_proba(Xq, ctx))
    assert not np.allclose(a.predict_proba(Xq, ctx), c.predict_proba(Xq, ctx))


@pytest.mark.parametrize("cls", PREDICTORS)
def test_contract_permuting_llms_permutes_outputs(cls):
    Xq, Xm, Y, _ = mirt_data(n_queries=300, n_llms=4, seed=3)
    ctx = context_for(cls, 300)
    perm = np.array([2, 0, 3, 1])
    a = cls(max_epochs=3, random_state=0).fit(Xq, Xm, Y, context=ctx)
    b = cls(max_epochs=3, random_state=0).fit(Xq, Xm[perm], Y[:, perm], context=ctx)
    np.testing.assert_allclose(a.predict_proba(Xq, ctx)[:, perm], b.predict_proba(Xq, ctx), atol=1e-4)


@pytest.mark.parametrize("cls", PREDICTORS)
def test_contract_state_round_trips_exactly(cls):
    Xq, Xm, Y, _ = mirt_data(n_queries=200, n_llms=3, seed=4)
    ctx = context_for(cls, 200)
    model = cls(max_epochs=2).fit(Xq, Xm, Y, llm_ids=["x", "y", "z"], context=ctx)
    config, arrays = model.state()
    again = cls.from_state(config, arrays)
    np.testing.assert_array_equal(again.predict_proba(Xq, ctx), model.predict_proba(Xq, ctx))
    assert again.llm_ids_ == ("x", "y", "z")


def test_unobserved_cells_do_not_count():
    Xq, Xm, Y, _ = mirt_data(n_queries=300, n_llms=4, seed=5)
    Y_holes = Y.copy()
    Y_holes[::3, 1] = np.nan
    garbage = Y.copy()
    garbage[::3, 1] = 1 - garbage[::3, 1]  # different values in the same cells...
    garbage[::3, 1] = np.nan  # ...masked: the fit must not depend on what was there
    a = MIRTPredictor(max_epochs=3).fit(Xq, Xm, Y_holes)
    b = MIRTPredictor(max_epochs=3).fit(Xq, Xm, garbage)
    np.testing.assert_array_equal(a.predict_proba(Xq), b.predict_proba(Xq))
    assert not np.allclose(a.predict_proba(Xq), MIRTPredictor(max_epochs=3).fit(Xq, Xm, Y).predict_proba(Xq))


def test_early_stopping_keeps_the_best_epoch():
    Xq, Xm, Y, _ = mirt_data(n_queries=400, n_llms=4, seed=6)
    model = MIRTPredictor(max_epochs=400, patience=3, learning_rate=0.05).fit(Xq, Xm, Y)
    val = [h["val_bce"] for h in model.history_]
    assert len(val) < 400
    assert model.best_epoch_ == int(np.argmin(val)) + 1
    assert len(val) - model.best_epoch_ >= 3


def test_bad_inputs():
    Xq, Xm, Y, _ = mirt_data(n_queries=50, n_llms=3)
    with pytest.raises(DataError, match="expected"):
        MIRTPredictor().fit(Xq, Xm, Y[:, :2])
    with pytest.raises(DataError, match="no observed scores"):
        MIRTPredictor().fit(Xq, Xm, np.full_like(Y, np.nan))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        MIRTPredictor().fit(Xq, Xm, Y * 2)
    with pytest.raises(ConfigError, match="context"):
        NIRTPredictor().fit(Xq, Xm, Y)
    with pytest.raises(NotFittedError):
        MIRTPredictor().predict_proba(Xq)
