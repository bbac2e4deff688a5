"""LLM Bandit (Li, 2025): one preference-conditioned routing policy over any set of candidate LLMs.

For a query x, a candidate set K and a preference w (the weight of cost against quality,
omega = [1, w]), each candidate k is described by ``(I_k, c_k, p_k)``: its identity vector (stage 1,
:mod:`irtrouter.irt.identity`), its cost divided by the largest cost in the set, and its predicted
success ``p_k = sigmoid(f(e_x, I_k))`` (uncalibrated, as in the paper). Then

    element   z_k = relu(W_xi I_k + w_xc c_k + w_xp p_k + b_x)
    set       s   = PMA(SAB(z_1 .. z_K))                  multi-head attention: permutation invariant
    query     q   = relu(W_q e_x + b_q)
    weight    u   = relu(w_w w + b_w)                     (a linear map of omega = [1, w])
    h             = W_h2 relu(W_hs s + W_hq q + W_hu u + b_h1) + b_h2          in R^d
    pi(k | x, K, w) = softmax over k in K of I_k . h
    V(x, K)       = W_v2 relu(W_vs s + W_vq q + b_v1) + b_v2                   in R^2, never sees w

so permuting the candidates permutes the probabilities, any number of candidates is allowed, and
an LLM added after training (identity from a quiz, :mod:`irtrouter.onboard.identity_quiz`) is
scored through its identity alone. The formulas are written once over
:class:`~irtrouter.irt.ops.ArrayOps`: numpy here (routing, no torch), torch in
:mod:`irtrouter.routing.policy_training` (supervised pre-training on pairwise comparisons, then
multi-objective PPO; ``V`` serves training only). SAB/PMA follow the Set Transformer (Lee et al.,
2019): ``MAB(X, Y) = LN(H + rFF(H))``, ``H = LN(X + Multihead(X, Y, Y))``, one SAB, PMA with one seed.

:class:`PolicyRouter` wraps the policy with what routing needs: an :class:`IRTRouter` over the
identity predictor (embedder, p-hat, cost model, catalog) and the saved-router format
(``config.json`` records ``"router_kind": "policy"``; :func:`irtrouter.routing.load_router` reads it
back with numpy alone).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.data.catalog import LLMCatalog
from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.base import Embedder
from irtrouter.errors import ConfigError, NotFittedError, RouterFormatError
from irtrouter.irt.ops import NUMPY_OPS, ArrayOps
from irtrouter.irt.relevance import AbilityLabeller
from irtrouter.routing.decision import RoutingDecision, allowed_mask, resolve_weights
from irtrouter.routing.router import IRTRouter, Prediction

log = logging.getLogger(__name__)

Params = dict[str, Any]
ROUTER_KIND = "policy"
_LN_EPS = 1e-5


# -- the network, written once for numpy and torch -----------------------------------------------
def init_policy_params(
    d_query: int, d_identity: int, hidden_units: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Initial weights (float32): fan-in scaled normals, zero biases, unit layer-norm gains."""
    h = hidden_units

    def normal(fan_in: float, *shape: int) -> np.ndarray:
        return rng.normal(0.0, fan_in**-0.5, shape).astype(np.float32)

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, np.float32)

    params = {
        "W_xi": normal(d_identity, h, d_identity),
        "w_xc": normal(1, h),
        "w_xp": normal(1, h),
        "b_x": zeros(h),
        "pma_seed": normal(1, 1, h),
        "W_q": normal(1, h, d_query),  # unit-norm query embeddings
        "b_q": zeros(h),
        "w_w": normal(1, h),
        "b_w": zeros(h),
        "W_hs": normal(3 * h, h, h),
        "W_hq": normal(3 * h, h, h),
        "W_hu": normal(3 * h, h, h),
        "b_h1": zeros(h),
        "W_h2": normal(h, d_identity, h),
        "b_h2": zeros(d_identity),
        "W_vs": normal(2 * h, h, h),
        "W_vq": normal(2 * h, h, h),
        "b_v1": zeros(h),
        "W_v2": normal(h, 2, h),
        "b_v2": zeros(2),
    }
    for block in ("sab", "pma"):
        for name in ("Wq", "Wk", "Wv", "Wo", "W_ff1", "W_ff2"):
            params[f"{block}.{name}"] = normal(h, h, h)
        for name in ("b_ff1", "b_ff2", "ln1_b", "ln2_b"):
            params[f"{block}.{name}"] = zeros(h)
        params[f"{block}.ln1_g"] = np.ones(h, np.float32)
        params[f"{block}.ln2_g"] = np.ones(h, np.float32)
    return params


def _layer_norm(x: Any, gain: Any, bias: Any) -> Any:
    centred = x - x.mean(-1, keepdims=True)
    return centred / ((centred**2).mean(-1, keepdims=True) + _LN_EPS) ** 0.5 * gain + bias


def _attention_block(ops: ArrayOps, params: Params, block: str, X: Any, Y: Any, n_heads: int) -> Any:
    """MAB(X, Y): ``X`` (b or 1, n, h) attends over ``Y`` (b, m, h); a leading 1 broadcasts (PMA)."""
    p = {name.removeprefix(f"{block}."): v for name, v in params.items() if name.startswith(f"{block}.")}
    h = X.shape[-1]
    dh = h // n_heads

    def heads(T: Any) -> Any:  # (b, n, h) -> (b, heads, n, dh)
        return T.reshape(T.shape[0], T.shape[1], n_heads, dh).swapaxes(1, 2)

    Q, K, V = heads(X @ p["Wq"].T), heads(Y @ p["Wk"].T), heads(Y @ p["Wv"].T)
    att = (ops.softmax(Q @ K.swapaxes(-1, -2) / math.sqrt(dh)) @ V).swapaxes(1, 2)  # (b, n, heads, dh)
    att = att.reshape(att.shape[0], att.shape[1], h) @ p["Wo"].T
    H = _layer_norm(X + att, p["ln1_g"], p["ln1_b"])
    ff = ops.relu(H @ p["W_ff1"].T + p["b_ff1"]) @ p["W_ff2"].T + p["b_ff2"]
    return _layer_norm(H + ff, p["ln2_g"], p["ln2_b"])


def encode(
    ops: ArrayOps, params: Params, X: Any, identities: Any, costs: Any, p_hat: Any, n_heads: int
) -> tuple[Any, Any]:
    """The set vector ``s`` (b, h) and the query vector ``q`` (b, h).

    Parameters
    ----------
    X : (b, d_query)
        Query embeddings.
    identities : (k, d) or (b, k, d)
        The candidates' identity vectors, shared by the batch or per query.
    costs, p_hat : (b, k)
        The candidates' costs divided by the largest in the set, and predicted success.
    """
    z = ops.relu(
        identities @ params["W_xi"].T
        + costs[..., None] * params["w_xc"]
        + p_hat[..., None] * params["w_xp"]
        + params["b_x"]
    )
    z = _attention_block(ops, params, "sab", z, z, n_heads)
    s = _attention_block(ops, params, "pma", params["pma_seed"][None], z, n_heads)[:, 0, :]
    return s, ops.relu(X @ params["W_q"].T + params["b_q"])


def candidate_logits(ops: ArrayOps, params: Params, s: Any, q: Any, identities: Any, preference: Any) -> Any:
    """Logits ``I_k . h`` (b, k) from the encodings; ``preference`` is w, shape (b,)."""
    u = ops.relu(preference[:, None] * params["w_w"] + params["b_w"])
    hidden = ops.relu(s @ params["W_hs"].T + q @ params["W_hq"].T + u @ params["W_hu"].T + params["b_h1"])
    h = hidden @ params["W_h2"].T + params["b_h2"]
    return (identities * h[:, None, :]).sum(-1)


def state_value(ops: ArrayOps, params: Params, s: Any, q: Any) -> Any:
    """V(x, K) (b, 2): expected [quality, -cost] of the policy's pick; independent of w."""
    return ops.relu(s @ params["W_vs"].T + q @ params["W_vq"].T + params["b_v1"]) @ params["W_v2"].T + params["b_v2"]


def policy_logits(
    ops: ArrayOps,
    params: Params,
    X: Any,
    identities: Any,
    costs: Any,
    p_hat: Any,
    preference: Any,
    n_heads: int,
) -> Any:
    """Candidate logits (b, k) for queries ``X`` (b, d_query); see :func:`encode` for the shapes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> params = init_policy_params(d_query=8, d_identity=4, hidden_units=16, rng=rng)
    >>> I = rng.normal(size=(3, 4)).astype(np.float32)
    >>> X, c, p = rng.normal(size=(2, 8)), rng.random((2, 3)), rng.random((2, 3))
    >>> a = policy_logits(NUMPY_OPS, params, X, I, c, p, np.array([0.5, 1.0]), n_heads=4)
    >>> perm = [2, 0, 1]
    >>> b = policy_logits(NUMPY_OPS, params, X, I[perm], c[:, perm], p[:, perm], np.array([0.5, 1.0]), n_heads=4)
    >>> bool(np.allclose(a[:, perm], b, atol=1e-5))
    True
    """
    s, q = encode(ops, params, X, identities, costs, p_hat, n_heads)
    return candidate_logits(ops, params, s, q, identities, preference)


def set_costs(costs: np.ndarray) -> np.ndarray:
    """Costs (b, k) divided by the largest in each row (the set): the policy's ``c_k`` in [0, 1]."""
    costs = np.asarray(costs, dtype=np.float64)
    top = costs.max(axis=-1, keepdims=True)
    return np.divide(costs, top, out=np.zeros_like(costs), where=top > 0)


# -- settings --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolicySettings:
    """Policy architecture and training settings; the digest's tag says where each comes from.

    [3P] = the third-party re-implementation cited by the digest, [UNVERIFIED] = our default where
    no source gives the paper's value.

    Attributes
    ----------
    hidden_units : int
        Width of every policy layer [UNVERIFIED; 3P 128; 64 trains twice as fast on 2 cores].
    n_heads : int
        Attention heads of the SAB and PMA blocks [3P: 4].
    max_preference : float
        Training draws the cost weight w ~ U(0, max_preference) [3P: omega = [1, w], w ~ U(0, 2)];
        routing refuses a w outside [0, max_preference].
    pretrain_steps, pretrain_batch, pretrain_learning_rate : int, int, float
        Supervised pre-training on pairwise comparisons [3P: 500 steps, batch 1024, Adam lr 1e-3].
    pretrain_pairs : bool
        Pre-train on pairs of LLMs only (the paper's pairwise comparisons) or, when False (our
        default), on random candidate sets of every size with the same target rule: a policy
        pre-trained on pairs picks among larger sets less well (llmrouter, seed 0, full training:
        hypervolume 0.485 with pairs vs 0.509 with sets) [ours].
    ppo_steps, ppo_batch, ppo_epochs, learning_rate : int, int, int, float
        Multi-objective PPO: rollouts of ``ppo_batch`` queries, ``ppo_epochs`` passes over each
        [3P: 500 steps, batch 256, lr 1e-3, 4 epochs].
    clip, value_coef, entropy_coef : float
        PPO's clipped surrogate, value-loss and entropy weights [3P: 0.2, 0.5, 0.01].
    mixup_alpha : float
        On-manifold mixup: each rollout query is blended with its nearest training query,
        lambda ~ Beta(a, a) folded to the dominant side [3P: a = 0.2]; 0 turns mixup off.
    min_candidates : int
        Smallest random candidate set in PPO (sizes are uniform up to every LLM) [INF].
    normalise_advantages : bool
        Standardise the scalarised advantages of each rollout [UNVERIFIED; common PPO practice].
    max_grad_norm : float
        Gradient clipping [UNVERIFIED].
    eval_every, eval_queries : int
        Early stopping for PPO [ours]: every ``eval_every`` steps the greedy policy is scored on
        up to ``eval_queries`` of stage 1's validation queries (never trained on) and the best
        checkpoint, the pre-trained policy included, is kept. PPO's rewards are realised scores of
        training queries, which the policy can memorise through the query embedding.
    crossfit_folds : int
        The policy stages see out-of-fold p-hat from this many identity models, each trained
        without one fold of the queries (0 or 1: the in-sample p-hat of the final model) [ours;
        :mod:`irtrouter.routing.policy_training` says why]. Costs ``crossfit_folds`` more stage-1
        fits on ``(k - 1) / k`` of the data.
    """

    hidden_units: int = 64
    n_heads: int = 4
    max_preference: float = 2.0
    pretrain_steps: int = 500
    pretrain_batch: int = 1024
    pretrain_learning_rate: float = 1e-3
    pretrain_pairs: bool = False
    ppo_steps: int = 500
    ppo_batch: int = 256
    ppo_epochs: int = 4
    learning_rate: float = 1e-3
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    mixup_alpha: float = 0.2
    min_candidates: int = 2
    normalise_advantages: bool = True
    max_grad_norm: float = 1.0
    eval_every: int = 25
    eval_queries: int = 512
    crossfit_folds: int = 2

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> PolicySettings:
        """Validated settings from a dict of overrides (unknown keys are named in the error)."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"unknown policy parameter(s) {unknown}; known: {', '.join(sorted(known))}")
        settings = cls(**params)
        for name in (
            "hidden_units",
            "n_heads",
            "pretrain_batch",
            "ppo_batch",
            "ppo_epochs",
            "min_candidates",
            "eval_every",
            "eval_queries",
        ):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"policy parameter {name} must be a positive integer, got {value!r}")
        for name in ("pretrain_steps", "ppo_steps", "crossfit_folds"):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"policy parameter {name} must be an integer >= 0, got {value!r}")
        if settings.hidden_units % settings.n_heads:
            raise ConfigError(
                f"hidden_units ({settings.hidden_units}) must be a multiple of n_heads ({settings.n_heads})"
            )
        if not (math.isfinite(settings.max_preference) and settings.max_preference > 0):
            raise ConfigError(f"max_preference must be > 0, got {settings.max_preference!r}")
        if settings.mixup_alpha < 0 or settings.clip <= 0:
            raise ConfigError("mixup_alpha must be >= 0 and clip > 0")
        return settings


# -- the router ------------------------------------------------------------------------------------
class PolicyRouter(IRTRouter):
    """Route each query with the LLM Bandit policy, for any preference w and any candidate subset.

    An :class:`IRTRouter` over the identity predictor (no warm-up) whose decision rule is the
    learned policy instead of ``alpha * P - beta * C``: everything else (embedding, p-hat, cost
    model, catalog, adding LLMs, the saved format) is inherited.

    Parameters
    ----------
    embedder : str
        Embedder spec (:func:`irtrouter.embed.make_embedder`): ``use`` (default), ``hashing``...
    n_dims : int
        Identity-vector dimension d (:class:`~irtrouter.irt.identity.IdentityIRTPredictor`).
    identity_params : dict, optional
        Extra arguments of the identity predictor (``hidden_units``, ``max_epochs``, ``kl_weight``...).
    policy_params : dict, optional
        Overrides of :class:`PolicySettings` (``ppo_steps``, ``hidden_units``...).
    cost_model : {"auto", "price", "tokens", "observed", ...}
        Cost model of :mod:`irtrouter.routing.cost`; its per-query cost, divided by the largest in
        the candidate set, is both the policy's cost input and the cost half of the PPO reward.
    random_state : int
        Seeds stage 1, pre-training and PPO.

    Notes
    -----
    The trade-off is a preference ``w`` (cost weight; quality weight 1). Calls written for
    :class:`IRTRouter` pass ``alpha`` / ``beta`` instead, read as ``w = beta / alpha``; beyond the
    trained range ``[0, max_preference]`` that w is clipped to ``max_preference`` (the policy's most
    cost-averse setting) and the decision says so, whereas an explicit ``preference`` out of range
    is an error.

    Examples
    --------
    >>> router = PolicyRouter(embedder="hashing").fit(results, catalog)  # doctest: +SKIP
    >>> router.route("Prove that sqrt(2) is irrational", preference=0.2).llm_id  # doctest: +SKIP
    >>> router.route("What is 2 + 2?", preference=1.5, allowed_llms=["small", "medium"])  # doctest: +SKIP
    """

    def __init__(
        self,
        embedder: str = "use",
        n_dims: int = 16,
        identity_params: dict[str, Any] | None = None,
        policy_params: dict[str, Any] | None = None,
        cost_model: str = "auto",
        random_state: int = 0,
    ) -> None:
        super().__init__(
            predictor="identity",
            n_dims=n_dims,
            embedder=embedder,
            warmup_lambda=0.0,  # the policy sees p-hat of the query itself, in training as at routing
            cost_model=cost_model,
            predictor_params=identity_params,
            random_state=random_state,
        )
        self.identity_params = identity_params
        self.policy_params = policy_params

    def get_params(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder,
            "n_dims": self.n_dims,
            "identity_params": dict(self.identity_params or {}),
            "policy_params": dict(self.policy_params or {}),
            "cost_model": self.cost_model,
            "random_state": self.random_state,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"PolicyRouter({args})"

    # -- training --------------------------------------------------------------------------------
    def fit(
        self,
        results: ResultsMatrix,
        catalog: LLMCatalog,
        *,
        embedder: Embedder | None = None,
        labeller: AbilityLabeller | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        progress: bool = False,
        candidate_sets: Sequence[Sequence[str]] | None = None,
        query_embeddings: np.ndarray | None = None,
    ) -> PolicyRouter:
        """Stage 1 (identity vectors), then supervised pre-training and PPO of the policy.

        Parameters
        ----------
        results, catalog :
            Training results (unobserved cells allowed: stage 1 masks them; the policy stages use
            the queries observed for every LLM) and the LLMs' prices and profiles.
        candidate_sets : list of lists of LLM ids, optional
            Restrict the candidate sets PPO draws to these (default: random subsets of every size
            from ``min_candidates`` up). Used to test generalisation to sets never trained on.
        embedder, labeller, cache_dir, use_cache, progress, query_embeddings :
            As in :meth:`IRTRouter.fit` (``labeller`` is unused: identities have no named abilities).
        """
        settings = PolicySettings.from_params(self.policy_params)
        started = time.perf_counter()
        super().fit(
            results,
            catalog,
            embedder=embedder,
            cache_dir=cache_dir,
            use_cache=use_cache,
            progress=progress,
            query_embeddings=query_embeddings,
        )
        from irtrouter.routing.policy_training import out_of_fold_p_hat, train_policy

        p_hat = None
        if settings.crossfit_folds >= 2:
            p_hat = out_of_fold_p_hat(self, results, settings.crossfit_folds, self.random_state, progress)
        trained = train_policy(
            self,
            results,
            settings,
            candidate_sets=candidate_sets,
            p_hat=p_hat,
            random_state=self.random_state,
            progress=progress,
        )
        self.settings_ = settings
        self.policy_params_ = trained.params
        self.training_ = {
            **self.training_,
            "policy": trained.summary,
            "total_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    # -- routing ---------------------------------------------------------------------------------
    def _check_policy(self) -> None:
        if not hasattr(self, "policy_params_"):
            raise NotFittedError("this PolicyRouter is not fitted: call fit() or load_router()")

    def resolve_preference(
        self, alpha: float = 0.8, beta: float | None = None, preference: float | None = None
    ) -> tuple[float, dict[str, Any]]:
        """The cost weight w and what to record about it (class Notes).

        ``preference`` if given (must lie in ``[0, max_preference]``), else ``beta / alpha``
        clipped to that range.
        """
        self._check_policy()
        top = self.settings_.max_preference
        if preference is not None:
            if isinstance(preference, bool) or not isinstance(preference, int | float) or not math.isfinite(preference):
                raise ConfigError(f"preference must be a number, got {preference!r}")
            if not 0 <= preference <= top:
                raise ConfigError(
                    f"preference w must lie in [0, {top:g}], the range the policy was trained on; got {preference:g}"
                )
            return float(preference), {"preference": float(preference)}
        a, b = resolve_weights(alpha, beta)
        if b <= top * a * (1 + 1e-9):  # tolerance: alpha = 1 / (1 + w) does not round-trip exactly
            w = min(b / a, top)
            return w, {"preference": round(w, 6)}
        return top, {"preference": top, "preference_clipped_from": "inf" if a == 0 else round(b / a, 6)}

    def probabilities(
        self,
        prediction: Prediction,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        preference: float | None = None,
    ) -> np.ndarray:
        """pi(k | x, K, w) (n_queries, n_llms) for a :class:`Prediction` of :meth:`predict`;
        0 outside the candidate set K (``allowed_llms``, default every LLM)."""
        w, _ = self.resolve_preference(alpha, beta, preference)
        return self._probabilities(prediction, w, allowed_mask(self.llm_ids, allowed_llms))

    def _probabilities(self, prediction: Prediction, w: float, mask: np.ndarray) -> np.ndarray:
        if prediction.features is None:
            raise ConfigError("the prediction carries no query embeddings: make it with this router's predict()")
        cand = np.flatnonzero(mask)
        n = len(prediction.features)
        logits = policy_logits(
            NUMPY_OPS,
            self.policy_params_,
            np.asarray(prediction.features, dtype=np.float32),
            np.asarray(self.predictor_.abilities_[cand], dtype=np.float32),
            set_costs(prediction.cost[:, cand]).astype(np.float32),
            prediction.p_hat[:, cand].astype(np.float32),
            np.full(n, w, dtype=np.float32),
            self.settings_.n_heads,
        )
        probs = np.zeros((n, len(mask)), dtype=np.float64)
        probs[:, cand] = NUMPY_OPS.softmax(np.asarray(logits, dtype=np.float64))
        return probs

    def choose(
        self,
        prediction: Prediction,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        preference: float | None = None,
    ) -> np.ndarray:
        """Index of the policy's most probable candidate for each query (greedy routing)."""
        return self.probabilities(prediction, alpha, beta, allowed_llms, preference).argmax(axis=1)

    def route(
        self,
        query: str,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        preference: float | None = None,
    ) -> RoutingDecision:
        """Route one query to the policy's most probable candidate.

        The decision's ``score`` holds the policy's probabilities (0 outside the candidate set);
        ``alpha`` and ``beta`` are reported as ``1 / (1 + w)`` and ``w / (1 + w)``.
        """
        return self.route_many([query], alpha, beta, allowed_llms, preference)[0]

    def route_many(
        self,
        queries: Sequence[str],
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        preference: float | None = None,
    ) -> list[RoutingDecision]:
        """Route a batch of queries with one embedding call."""
        w, note = self.resolve_preference(alpha, beta, preference)
        mask = allowed_mask(self.llm_ids, allowed_llms)
        pred = self.predict(queries)
        probs = self._probabilities(pred, w, mask)
        extras = {"router": "llm-bandit", "score": "policy probability", **note}
        return self._decisions(
            queries, pred, probs.argmax(axis=1), 1.0 / (1.0 + w), w / (1.0 + w), mask, probs, extras=extras
        )

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the router to directory ``path`` (config.json + weights.npz, no pickle)."""
        self._check_policy()
        from irtrouter.routing.persistence import save_router

        extra_config = {"router_kind": ROUTER_KIND, "policy": asdict(self.settings_)}
        extra_arrays = {f"policy.{k}": np.asarray(v) for k, v in self.policy_params_.items()}
        return save_router(self, path, extra_config=extra_config, extra_arrays=extra_arrays)

    def restore_policy(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Called by :func:`~irtrouter.routing.persistence.load_router` once the IRT part is read."""
        try:
            self.settings_ = PolicySettings.from_params(config["policy"])
        except ConfigError as exc:
            raise RouterFormatError(f"the saved policy settings are not valid here: {exc}") from None
        self.policy_params_ = {k.removeprefix("policy."): v for k, v in arrays.items() if k.startswith("policy.")}
        if "W_h2" not in self.policy_params_:
            raise KeyError("policy.W_h2")
