"""One formula, two array libraries: numpy inference must equal torch training, for every predictor."""

import numpy as np
import pytest
import torch

from irtrouter.irt.mf import MFPredictor
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.registry import PREDICTORS
from irtrouter.irt.torch_ops import TORCH_OPS

N_QUERIES, N_LLMS, D_QUERY, D_LLM = 17, 6, 48, 40
# Every routable predictor, and RouteLLM's matrix factorisation (a baseline's predictor).
ALL_PREDICTORS = {**PREDICTORS, "mf": MFPredictor}


def random_params(pred, rng):
    """The predictor's initial parameters moved off their initial values (zeros, ones, 2PL's zero
    abilities), so that every term of the formula takes part, within the predictor's domain."""
    params = pred.init_params(D_QUERY, D_LLM, rng)
    params = {k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32) for k, v in params.items()}
    if pred.kind == "nirt":  # the interaction network is kept non-negative in training
        params["W_1"], params["w_2"] = np.abs(params["W_1"]), np.abs(params["w_2"])
    if pred.kind == "identity":  # its difficulty reads the trained pool's identities (set after fit)
        params["pool_mu"] = rng.normal(size=(N_LLMS, pred.n_dims)).astype(np.float32)
    return params


def context_for(pred, rng):
    """NIRT's 0/1 relevance vectors; None for the predictors that take no context."""
    if not pred.requires_context:
        return None
    return (rng.random((N_QUERIES, pred.n_dims)) < 0.3).astype(np.float32)


def torch_or_none(a):
    return None if a is None else torch.from_numpy(a)


def both_formulas(pred, params, Xq, Xm, ctx):
    """(abilities, logits, difficulty) by the numpy formula and by the torch formula."""
    theta = pred.abilities(NUMPY_OPS, Xm, params)
    out_np = (theta, pred.logits(NUMPY_OPS, Xq, theta, params, ctx), pred.difficulty(NUMPY_OPS, Xq, params, ctx))
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    Xq_t, ctx_t = torch.from_numpy(Xq), torch_or_none(ctx)
    theta_t = pred.abilities(TORCH_OPS, torch.from_numpy(Xm), tp)
    out_t = (theta_t, pred.logits(TORCH_OPS, Xq_t, theta_t, tp, ctx_t), pred.difficulty(TORCH_OPS, Xq_t, tp, ctx_t))
    return out_np, tuple(t.detach().numpy() for t in out_t)


@pytest.mark.parametrize("name", sorted(ALL_PREDICTORS))
def test_torch_formulas_equal_numpy_formulas(name):
    cls = ALL_PREDICTORS[name]
    rng = np.random.default_rng(3)
    pred = cls(n_dims=cls.default_n_dims())  # the formulas are methods of a configured predictor
    params = random_params(pred, rng)
    Xq = rng.normal(size=(N_QUERIES, D_QUERY)).astype(np.float32)
    Xm = rng.normal(size=(N_LLMS, D_LLM)).astype(np.float32)
    ctx = context_for(pred, rng)

    (theta, logits, difficulty), (theta_t, logits_t, difficulty_t) = both_formulas(pred, params, Xq, Xm, ctx)

    assert theta.shape == (N_LLMS, pred.n_dims)
    assert logits.shape == (N_QUERIES, N_LLMS)
    assert difficulty.shape == (N_QUERIES,)
    np.testing.assert_allclose(theta, theta_t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, logits_t, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(NUMPY_OPS.sigmoid(logits), torch.sigmoid(torch.from_numpy(logits_t)), atol=1e-5)
    np.testing.assert_allclose(difficulty, difficulty_t, rtol=1e-4, atol=1e-5)
    # The comparison is not between constants: the logits separate queries and LLMs.
    assert np.ptp(logits, axis=0).min() > 0 and np.ptp(logits, axis=1).min() > 0
    if name != "mf":  # RouteLLM's MF has no item difficulty: 0 by definition
        assert np.ptp(difficulty) > 0


@pytest.mark.parametrize("name", [n for n, cls in sorted(ALL_PREDICTORS.items()) if cls.requires_context])
def test_the_context_takes_part_in_both_formulas(name):
    """Where a predictor needs a context, another context gives other logits on both sides (the
    comparison above is then one of formulas that read it)."""
    cls = ALL_PREDICTORS[name]
    rng = np.random.default_rng(4)
    pred = cls(n_dims=cls.default_n_dims())
    params = random_params(pred, rng)
    Xq = rng.normal(size=(N_QUERIES, D_QUERY)).astype(np.float32)
    Xm = rng.normal(size=(N_LLMS, D_LLM)).astype(np.float32)
    first, first_t = both_formulas(pred, params, Xq, Xm, context_for(pred, rng))
    other, other_t = both_formulas(pred, params, Xq, Xm, context_for(pred, rng))
    assert not np.allclose(first[1], other[1]) and not np.allclose(first_t[1], other_t[1])
    np.testing.assert_allclose(other[1], other_t[1], rtol=1e-4, atol=1e-4)


def test_numpy_ops_are_stable_at_extremes():
    x = np.array([-1000.0, 0.0, 1000.0], dtype=np.float32)
    np.testing.assert_allclose(NUMPY_OPS.sigmoid(x), [0.0, 0.5, 1.0])
    assert np.isfinite(NUMPY_OPS.softplus(x)).all()
    np.testing.assert_allclose(NUMPY_OPS.softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])
