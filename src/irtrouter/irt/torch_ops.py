"""torch implementations of :class:`irtrouter.irt.ops.ArrayOps` (imported by training only)."""

from __future__ import annotations

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
