"""One formula, two array libraries: numpy inference must equal torch training exactly enough."""

import numpy as np
import pytest
import torch

from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.irt.torch_ops import TORCH_OPS


@pytest.mark.parametrize("cls", [MIRTPredictor, NIRTPredictor])
def test_torch_forward_equals_numpy_forward(cls):
    rng = np.random.default_rng(3)
    pred = cls(n_dims=25)
    cls = pred  # the formulas are methods of a configured predictor
    params = pred.init_params(48, 40, rng)
    params = {k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32) for k, v in params.items()}
    if cls is NIRTPredictor:
        params["W_1"], params["w_2"] = np.abs(params["W_1"]), np.abs(params["w_2"])
    Xq = rng.normal(size=(17, 48)).astype(np.float32)
    Xm = rng.normal(size=(6, 40)).astype(np.float32)
    ctx = (rng.random((17, 25)) < 0.3).astype(np.float32)

    theta_np = cls.abilities(NUMPY_OPS, Xm, params)
    out_np = NUMPY_OPS.sigmoid(cls.logits(NUMPY_OPS, Xq, theta_np, params, ctx))
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    theta_t = cls.abilities(TORCH_OPS, torch.from_numpy(Xm), tp)
    out_t = torch.sigmoid(cls.logits(TORCH_OPS, torch.from_numpy(Xq), theta_t, tp, torch.from_numpy(ctx)))

    assert out_np.shape == (17, 6)
    np.testing.assert_allclose(out_np, out_t.numpy(), rtol=1e-5, atol=1e-6)
    d_np = cls.difficulty(NUMPY_OPS, Xq, params, ctx)
    d_t = cls.difficulty(TORCH_OPS, torch.from_numpy(Xq), tp, torch.from_numpy(ctx))
    np.testing.assert_allclose(d_np, d_t.numpy(), rtol=1e-5, atol=1e-6)


def test_numpy_ops_are_stable_at_extremes():
    x = np.array([-1000.0, 0.0, 1000.0], dtype=np.float32)
    np.testing.assert_allclose(NUMPY_OPS.sigmoid(x), [0.0, 0.5, 1.0])
    assert np.isfinite(NUMPY_OPS.softplus(x)).all()
    np.testing.assert_allclose(NUMPY_OPS.softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])
