"""torch implementations of :class:`irtrouter.irt.ops.ArrayOps` (imported by training only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F


class TorchOps:
    @staticmethod
    def sigmoid(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)

    @staticmethod
    def softplus(x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x)

    @staticmethod
    def softmax(x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)

    @staticmethod
    def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
        return F.logsigmoid(x)

    @staticmethod
    def relu(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)

    @staticmethod
    def log(x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


TORCH_OPS = TorchOps()


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread meanwhile. For small networks (the identity model, the routing
    policy) intra-op threads only add synchronisation: on a busy 2-core machine one thread trained
    the LLM Bandit policy 8x faster (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
