"""Abilities read from LLM profiles, plus optional free per-LLM offsets (MIRT and NIRT).

    theta_M = link(W_theta e_M + c_theta + u_M)

``link`` is the identity for MIRT and the sigmoid for NIRT (abilities in (0, 1)). The offset
``u_M`` (``offset_prior``, off by default) is free per trained LLM under a Gaussian prior
N(0, 1 / offset_prior) (MAP: ``offset_prior / 2 * |u|^2`` per LLM added to the summed BCE). The
profile map still places a newcomer: :meth:`ProfileAbilityPredictor.profile_ability` has no
offset, so cold start is unchanged. A well-observed LLM gets an ability of its own, so two LLMs
whose profiles read alike can differ (variants of one family, prompt variants of one model).
RADAR's 2PL and the identity model need no offsets: their abilities are free already.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.irt.base import IRTPredictor, Params
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps


class ProfileAbilityPredictor(IRTPredictor):
    """An IRT predictor whose abilities are a map of the profile embeddings, plus free offsets
    when ``offset_prior`` is set (module docstring). Subclasses set ``offset_prior`` in their
    constructor, give :meth:`ability_logits` (the profile map) and, when it is not the identity,
    :meth:`ability_link`, and add :meth:`offset_params` to their initial parameters."""

    offset_prior: float | None

    @abstractmethod
    def ability_logits(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        """``W_theta e_M + c_theta``: the profile map, before the link."""

    def ability_link(self, ops: ArrayOps, pre: Any) -> Any:
        """Maps the profile map (plus offset) to the ability; the identity by default."""
        return pre

    def abilities(self, ops: ArrayOps, X_llms: Any, params: Params) -> Any:
        """The trained LLMs' abilities (their profiles' in training order, plus their offsets)."""
        pre = self.ability_logits(ops, X_llms, params)
        return self.ability_link(ops, pre + params["U"] if "U" in params else pre)

    def offset_params(self, n_dims: int) -> dict[str, np.ndarray]:
        """The offsets' initial parameters (zeros; none without ``offset_prior``)."""
        return {} if self.offset_prior is None else {"U": np.zeros((self._n_llms, n_dims), np.float32)}

    def penalty(self, ops: ArrayOps, X_queries: Any, X_llms: Any, theta: Any, params: Params, context: Any) -> Any:
        if "U" not in params:
            return 0.0
        # The prior's share of one cell's loss: the batch loss is a mean over observed cells.
        assert self.offset_prior is not None
        return self.offset_prior * (params["U"] ** 2).sum() / (2.0 * self._n_observed)

    def penalty_gradient(self, params: Params) -> dict[str, np.ndarray]:
        if "U" not in params:
            return {}
        assert self.offset_prior is not None
        return {"U": np.float32(self.offset_prior / self._n_observed) * params["U"]}

    def _before_fit(self, Y: np.ndarray, weights: np.ndarray | None) -> None:
        if self.offset_prior is not None and not self.offset_prior > 0:
            raise ConfigError(f"offset_prior must be > 0 (or None: no offsets), got {self.offset_prior!r}")
        self._n_llms = Y.shape[1]
        self._n_observed: float = max(int((~np.isnan(Y)).sum()), 1)
        # The prior is per observation: an aggregated cell counts as its weight.
        if weights is not None and np.shape(weights) == Y.shape:
            self._n_observed = max(float(np.asarray(weights)[~np.isnan(Y)].sum()), 1.0)

    def profile_ability(self, X_llm: np.ndarray) -> np.ndarray:
        """Ability of an LLM from its profile embedding alone (no offset: IRT-Router section 6.3)."""
        self._check_fitted()
        X = np.atleast_2d(X_llm).astype(np.float32)
        return np.asarray(self.ability_link(NUMPY_OPS, self.ability_logits(NUMPY_OPS, X, self.params_)))
