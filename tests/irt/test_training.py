import subprocess
import sys
import textwrap

import numpy as np
import pytest

from irtrouter.errors import ConfigError, DataError, NotFittedError
from irtrouter.irt import MIRTPredictor, NIRTPredictor
from irtrouter.irt.registry import PREDICTORS as REGISTERED
from irtrouter.irt.training import fit_parameters
from irtrouter.irt.twopl import TwoPLPredictor
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


# -- the two engines --------------------------------------------------------------------------
NUMPY_TRAINED = [MIRTPredictor(n_dims=3), MIRTPredictor(n_dims=3, offset_prior=2.0), TwoPLPredictor()]


def numpy_trained_id(model):
    return f"{model.kind}+offsets" if getattr(model, "offset_prior", None) else model.kind


def random_params(model, d_query, d_llm, n_llms, seed=0):
    """Parameters away from their initial values (so no gradient term is trivially 0)."""
    rng = np.random.default_rng(seed)
    model._n_llms = n_llms
    init = model.init_params(d_query, d_llm, rng)
    return {k: (v + rng.normal(0, 0.5, v.shape)).astype(np.float32) for k, v in init.items()}


@pytest.mark.parametrize("model", NUMPY_TRAINED, ids=numpy_trained_id)
def test_written_out_gradients_equal_torch_autograd(model):
    torch = pytest.importorskip("torch")
    from irtrouter.irt.torch_ops import TORCH_OPS

    rng = np.random.default_rng(1)
    Xq, Xm, _, _ = mirt_data(n_queries=11, n_llms=4, d=16, seed=1)
    if isinstance(model, TwoPLPredictor):
        Xm = np.eye(4, dtype=np.float32)  # the 2PL trains on one-hot identities
    params = random_params(model, Xq.shape[1], Xm.shape[1], 4)
    model._n_observed = 44  # the penalty's scale (offsets): a share of one cell's loss
    z, backward = model.logits_vjp(Xq, Xm, params, None)
    g = rng.normal(size=z.shape).astype(np.float32)
    grads = backward(g)
    for name, extra in model.penalty_gradient(params).items():
        grads[name] = grads[name] + extra
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    Xq_t, Xm_t = torch.from_numpy(Xq), torch.from_numpy(Xm)
    theta = model.abilities(TORCH_OPS, Xm_t, tensors)
    z_torch = model.logits(TORCH_OPS, Xq_t, theta, tensors, None)
    penalty = model.penalty(TORCH_OPS, Xq_t, Xm_t, theta, tensors, None)
    ((z_torch * torch.from_numpy(g)).sum() + penalty).backward()
    np.testing.assert_allclose(z, z_torch.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert set(grads) == set(params)
    for name, value in params.items():
        assert grads[name].shape == value.shape, name
        np.testing.assert_allclose(grads[name], tensors[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(
    "cls, extra", [(MIRTPredictor, {}), (MIRTPredictor, {"offset_prior": 2.0}), (TwoPLPredictor, {})]
)
def test_numpy_and_torch_engines_take_the_same_steps(cls, extra):
    # Holes, aggregated weights and an L2 weight decay: every term of the loss and of Adam's update.
    Xq, Xm, Y, _ = mirt_data(n_queries=300, n_llms=4, seed=7)
    Y[::5, 2] = np.nan
    weights = np.random.default_rng(0).integers(1, 4, Y.shape).astype(np.float32)
    model = cls(max_epochs=4, patience=10, learning_rate=0.01, weight_decay=1e-3, **extra)
    X_llms = np.eye(4, dtype=np.float32) if cls is TwoPLPredictor else Xm
    model._before_fit(Y, weights)
    runs = {
        engine: fit_parameters(model, Xq, X_llms, Y, weights=weights, engine=engine) for engine in ("numpy", "torch")
    }
    assert [r.engine for r in runs.values()] == ["numpy", "torch"]
    for name, value in runs["torch"].params.items():
        np.testing.assert_allclose(runs["numpy"].params[name], value, atol=1e-4, err_msg=name)
    for a, b in zip(runs["numpy"].history, runs["torch"].history, strict=True):
        assert a["epoch"] == b["epoch"]
        assert a["train_bce"] == pytest.approx(b["train_bce"], abs=1e-4)
        assert a["val_bce"] == pytest.approx(b["val_bce"], abs=1e-4)


def test_the_engine_is_numpy_only_where_the_gradients_are_written_out():
    Xq, Xm, Y, _ = mirt_data(n_queries=100, n_llms=3, seed=8)
    assert fit_parameters(MIRTPredictor(max_epochs=1), Xq, Xm, Y).engine == "numpy"
    with_offsets = MIRTPredictor(max_epochs=1, offset_prior=1.0)
    with_offsets._before_fit(Y, None)
    assert fit_parameters(with_offsets, Xq, Xm, Y).engine == "numpy"  # the prior's gradient is written out
    nirt = NIRTPredictor(max_epochs=1)
    ctx = context_for(NIRTPredictor, 100)
    nirt._before_fit(Y, None)
    assert fit_parameters(nirt, Xq, Xm, Y, context=ctx).engine == "torch"
    with pytest.raises(ConfigError, match="torch"):
        fit_parameters(nirt, Xq, Xm, Y, context=ctx, engine="numpy")
    with pytest.raises(ConfigError, match="engine must be one of"):
        fit_parameters(MIRTPredictor(), Xq, Xm, Y, engine="jax")


def test_mirt_and_2pl_train_without_importing_torch():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from irtrouter.irt import MIRTPredictor
        from irtrouter.irt.twopl import TwoPLPredictor
        rng = np.random.default_rng(0)
        Xq, Xm = rng.normal(size=(200, 8)).astype(np.float32), rng.normal(size=(3, 8)).astype(np.float32)
        Y = (rng.random((200, 3)) < 0.5).astype(np.float32)
        for cls in (MIRTPredictor, TwoPLPredictor):
            model = cls(max_epochs=2).fit(Xq, Xm, Y)
            print(model.predict_proba(Xq).shape)
            assert cls.from_state(*model.state()).train_engine_ == "numpy"  # recorded with the fit
        assert "torch" not in sys.modules, "torch was imported"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(200,", "3)", "(200,", "3)"]
