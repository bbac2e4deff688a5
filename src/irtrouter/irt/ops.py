"""The few array operations the IRT formulas need, for numpy and for torch.

Each formula of the predictors (:mod:`irtrouter.irt.mirt`, ``nirt``, ``twopl``, ``identity``,
``mf``) and of the LLM Bandit policy network (:mod:`irtrouter.routing.policy.network`) is written
once against this interface and runs on numpy arrays (routing, no torch import) and on torch
tensors (training with autograd, :data:`irtrouter.irt.torch_ops.TORCH_OPS`; MIRT and the 2PL also
write out their gradients and train in numpy). Arithmetic and
``@`` are shared by both array types; only these functions differ.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class ArrayOps(Protocol):
    def sigmoid(self, x: Any) -> Any: ...
    def softplus(self, x: Any) -> Any: ...
    def softmax(self, x: Any) -> Any: ...  # over the last axis
    def log_sigmoid(self, x: Any) -> Any: ...
    def relu(self, x: Any) -> Any: ...
    def log(self, x: Any) -> Any: ...


class NumpyOps:
    """numpy implementations, stable for large |x|."""

    @staticmethod
    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 0.5 * (np.tanh(0.5 * x) + 1.0)

    @staticmethod
    def softplus(x: np.ndarray) -> np.ndarray:
        return np.logaddexp(np.zeros((), dtype=x.dtype), x)

    @staticmethod
    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    @staticmethod
    def log_sigmoid(x: np.ndarray) -> np.ndarray:
        return -np.logaddexp(np.zeros((), dtype=x.dtype), -x)

    @staticmethod
    def relu(x: np.ndarray) -> np.ndarray:
        return np.maximum(x, np.zeros((), dtype=x.dtype))

    @staticmethod
    def log(x: np.ndarray) -> np.ndarray:
        return np.log(x)


NUMPY_OPS = NumpyOps()
