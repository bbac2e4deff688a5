"""Training steps with torch's autograd (:mod:`irtrouter.irt.training`'s engine for every
predictor that does not give its gradients in numpy); imported only to train."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from irtrouter.irt.torch_ops import TORCH_OPS, single_thread
from irtrouter.irt.training import ADAM_BETAS, ADAM_EPS, TrainingData

if TYPE_CHECKING:
    from irtrouter.irt.base import IRTPredictor


class TorchSteps:
    """Adam (fused) on the predictor's formula through autograd; a step may draw the abilities
    (:meth:`~irtrouter.irt.base.IRTPredictor.sample_abilities`), add a penalty and project the
    parameters back into their domain (:meth:`~irtrouter.irt.base.IRTPredictor.constrain`)."""

    def __init__(self, predictor: IRTPredictor, init: dict[str, np.ndarray], data: TrainingData) -> None:
        torch.manual_seed(predictor.random_state)
        self.predictor, self.n_llms = predictor, data.n_llms
        self.params = {k: torch.nn.Parameter(torch.from_numpy(np.array(v, dtype=np.float32))) for k, v in init.items()}
        predictor.constrain(self.params)
        # fused: one kernel per step for all parameters instead of about ten ops per tensor (Adam was
        # over a quarter of a small predictor's step); the same update up to float rounding.
        self.optimiser = torch.optim.Adam(
            self.params.values(), lr=predictor.learning_rate, betas=ADAM_BETAS, eps=ADAM_EPS,
            weight_decay=predictor.weight_decay, fused=True,
        )  # fmt: skip
        self.Xq = torch.from_numpy(data.X_queries)
        self.Xm = torch.from_numpy(data.X_llms)
        self.cell_weight = torch.from_numpy(data.cell_weight)
        self.targets = torch.from_numpy(data.targets)
        self.ctx = None if data.context is None else torch.from_numpy(data.context)

    def single_thread(self) -> AbstractContextManager[None]:
        return single_thread()

    def _gather(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # index_select, not Xq[rows]: the same rows in a third of the time; a batch is a few
        # microseconds of arithmetic, so gathers and per-op overheads are most of a step.
        return self.Xq.index_select(0, rows), None if self.ctx is None else self.ctx.index_select(0, rows)

    def _masked_bce(
        self, rows: torch.Tensor, x_rows: torch.Tensor, ctx_rows: torch.Tensor | None, theta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.predictor.logits(TORCH_OPS, x_rows, theta, self.params, ctx_rows)
        m = self.cell_weight.index_select(0, rows)
        losses = F.binary_cross_entropy_with_logits(logits, self.targets.index_select(0, rows), reduction="none")
        return (losses * m).sum(), m.sum()

    def loss(self, rows: np.ndarray) -> tuple[float, float]:
        with torch.no_grad():
            index = torch.from_numpy(rows)
            theta = self.predictor.abilities(TORCH_OPS, self.Xm, self.params)
            total, count = self._masked_bce(index, *self._gather(index), theta)
        return float(total), float(count)

    def step(self, rows: np.ndarray) -> tuple[float, float]:
        index = torch.from_numpy(rows)
        # Validation scores the point estimate; a training step may draw abilities and add a penalty.
        theta = self.predictor.sample_abilities(TORCH_OPS, self.Xm, self.params)
        x_rows, ctx_rows = self._gather(index)
        total, count = self._masked_bce(index, x_rows, ctx_rows, theta)
        if count == 0:
            return 0.0, 0.0
        loss = total / count + self.predictor.penalty(TORCH_OPS, x_rows, self.Xm, theta, self.params, ctx_rows)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        self.predictor.constrain(self.params)
        return float(total.detach()), float(count)

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.params.items()}
