"""LLM Bandit's policy network (Li, 2025), written once for numpy (routing) and torch (training).

For a query x, a candidate set K and a preference w (the weight of cost against quality,
omega = [1, w]), each candidate k is described by ``(I_k, c_k, p_k)``: its identity vector (stage 1,
:mod:`irtrouter.irt.identity`), its cost divided by the largest cost in the set, and its predicted
success ``p_k = sigmoid(f(e_x, I_k))`` (uncalibrated, as in the paper). Then

    element   z_k = relu(W_xi I_k + w_xc c_k + w_xp p_k + b_x)
    set       s   = PMA(SAB(z_1 .. z_K))                  multi-head attention: permutation invariant
    query     q   = relu(W_q e_x + b_q)
    weight    u   = relu(w_w w + b_w)                     (a linear map of omega = [1, w])
    h             = W_h2 relu(W_hs s + W_hq q + W_hu u + b_h1) + b_h2          in R^d
    pi(k | x, K, w) = softmax over k in K of I_k . h  (+ a(w) . [p_k, c_k] with ``own_score``)
    V(x, K)       = W_v2 relu(W_vs s + W_vq q + b_v1) + b_v2                   in R^2, never sees w

so permuting the candidates permutes the probabilities, any number of candidates is allowed, and
an LLM added after training (identity from a quiz, :mod:`irtrouter.onboard.identity_quiz`) is
scored through its identity alone. With the ``own_score`` setting the logit also reads the
candidate's own p-hat and cost, ``a(w) = W_own u + b_own`` (zero at initialisation), so a candidate
whose identity the policy cannot read (a quizzed newcomer: small norm, logit near 0) is still
scored by its predicted success and cost [ours; issue 12 item 7]. The formulas are written over
:class:`~irtrouter.irt.ops.ArrayOps`: numpy in :mod:`irtrouter.routing.policy.router`, torch in
:mod:`irtrouter.routing.policy.training` (``V`` serves training only). SAB/PMA follow the Set
Transformer (Lee et al., 2019): ``MAB(X, Y) = LN(H + rFF(H))``, ``H = LN(X + Multihead(X, Y, Y))``,
one SAB, PMA with one seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from irtrouter.irt.ops import ArrayOps

Params = dict[str, Any]
_LN_EPS = 1e-5


def init_policy_params(
    d_query: int, d_identity: int, hidden_units: int, rng: np.random.Generator, own_score: bool = False
) -> dict[str, np.ndarray]:
    """Initial weights (float32): fan-in scaled normals, zero biases, unit layer-norm gains; with
    ``own_score``, the own-score head ``own.W`` / ``own.b`` at zero (no draw from ``rng``)."""
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
    if own_score:
        params["own.W"], params["own.b"] = zeros(2, h), zeros(2)
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


def candidate_logits(
    ops: ArrayOps,
    params: Params,
    s: Any,
    q: Any,
    identities: Any,
    preference: Any,
    costs: Any = None,
    p_hat: Any = None,
) -> Any:
    """Logits ``I_k . h`` (b, k) from the encodings; ``preference`` is w, shape (b,). A policy with
    the own-score head (``own.W``) adds ``a(w) . [p_k, c_k]`` and needs ``costs`` and ``p_hat``."""
    u = ops.relu(preference[:, None] * params["w_w"] + params["b_w"])
    hidden = ops.relu(s @ params["W_hs"].T + q @ params["W_hq"].T + u @ params["W_hu"].T + params["b_h1"])
    h = hidden @ params["W_h2"].T + params["b_h2"]
    logits = (identities * h[:, None, :]).sum(-1)
    if "own.W" in params:
        a = u @ params["own.W"].T + params["own.b"]  # (b, 2)
        logits = logits + a[:, 0:1] * p_hat + a[:, 1:2] * costs
    return logits


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
    >>> from irtrouter.irt.ops import NUMPY_OPS
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
    return candidate_logits(ops, params, s, q, identities, preference, costs, p_hat)


def set_costs(costs: np.ndarray) -> np.ndarray:
    """Costs (b, k) divided by the largest in each row (the set): the policy's ``c_k`` in [0, 1]."""
    costs = np.asarray(costs, dtype=np.float64)
    top = costs.max(axis=-1, keepdims=True)
    return np.divide(costs, top, out=np.zeros_like(costs), where=top > 0)
