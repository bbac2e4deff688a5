"""RouteLLM's matrix factorisation (Ong et al., 2024) as a cell predictor.

Used by the ``routellm-mf`` baseline of the evaluation (:mod:`irtrouter.evaluate.routers.binary`);
it is not a routable predictor of :class:`~irtrouter.routing.router.IRTRouter`, whose abilities come
from LLM profiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from irtrouter.irt.base import IRTPredictor, Params
from irtrouter.irt.ops import ArrayOps


class MFPredictor(IRTPredictor):
    """RouteLLM's matrix factorisation as a cell predictor: ``logit(q, M) = w . (v_M/|v_M| * W e_q)``.

    ``v_M`` is a free embedding per LLM (the training loop is fed one-hot identities in place of
    profiles, so ``v_M = W_P onehot_M``). RouteLLM trains it on pairwise preferences; the data here
    are absolute scores, so it is trained with the shared loop on the observed cells (BCE), and the
    strong win rate is ``sigmoid(logit_large - logit_small)`` as in RouteLLM. No item difficulty:
    :meth:`difficulty` is 0.
    """

    kind = "mf"

    def init_params(self, d_query: int, d_llm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = self.n_dims
        return {
            "W_P": rng.normal(0, 1, (n, d_llm)).astype(np.float32),
            "W_q": rng.uniform(-(d_query**-0.5), d_query**-0.5, (n, d_query)).astype(np.float32),
            "w_c": rng.uniform(-(n**-0.5), n**-0.5, n).astype(np.float32),
        }

    def abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        v = X_llms @ params["W_P"].T
        return v / ((v * v).sum(-1)[:, None] ** 0.5 + 1e-12)

    def logits(self, ops: ArrayOps, X_queries: Any, theta: Any, params: Params, context: Any = None) -> Any:
        return ((X_queries @ params["W_q"].T) * params["w_c"]) @ theta.T

    def difficulty(self, ops: ArrayOps, X_queries: Any, params: Params, context: Any = None) -> Any:
        return (X_queries @ params["W_q"].T)[:, 0] * 0.0
