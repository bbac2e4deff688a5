"""Shadow evaluation: how a candidate router would have done on the logged traffic (``irtrouter shadow``).

The live service chose LLM ``a_i`` for request ``i`` with probability ``p_i`` (the logged
``propensity``) and got score ``r_i``. The candidate, routing the same embedded query under the
same trade-off, rule and allowed LLMs, would choose ``c_i``. With ``m_i = 1[c_i = a_i]``:

* **IPS** (inverse propensity): ``V = mean(m_i r_i / p_i)``: unbiased whenever every LLM the
  candidate picks had ``p_i > 0`` under the live policy.
* **Doubly robust**: ``V = mean(rhat_i(c_i) + m_i (r_i - rhat_i(a_i)) / p_i)`` with the
  candidate's own predictions as the reward model (P-hat for performance, its expected USD for
  cost; for a cost model without USD, such as ``price``, each LLM's prices times the row's logged
  token counts, :func:`logged_token_costs`): unbiased under the same condition, and with less
  variance when the model is good.

Under a deterministic live policy (``p_i = 1``) the rows where the candidate disagrees carry no
observed reward: IPS scores them 0 and DR scores them by the model alone, so without exploration
the estimates lean on agreement (IPS is then biased towards 0 whenever the candidate changes
decisions; DR towards the candidate's own predictions). A missing propensity (older logs) is
taken as 1 and counted.

The three quantities are each row's score (performance), its USD cost, and its Reward,
``100 (alpha score - beta cost / scale)`` with the decision's own alpha and beta and ``scale`` the
largest mean expected cost of one LLM over the rows (the evaluation's single-LLM cost scale,
per query), so that the live and candidate Rewards are on one scale. The live value is the
on-policy mean. Intervals are percentile bootstraps over requests, paired between live and
candidate for the difference. Rows answered by a fallback LLM (``answered_by != llm_id``) are left
out: their reward belongs to no policy's choice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from irtrouter.errors import DataError
from irtrouter.online.feedback import has_text, query_embeddings, scored_requests
from irtrouter.routing.router import IRTRouter

QUANTITIES = ("performance", "cost_usd", "reward")


def ips_terms(rewards: np.ndarray, propensity: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Per-row IPS terms ``m r / p`` (their mean is the estimate).

    >>> ips_terms(np.array([1.0, 1.0]), np.array([0.5, 1.0]), np.array([True, False])).tolist()
    [2.0, 0.0]
    """
    return np.where(match, np.asarray(rewards, dtype=np.float64) / np.asarray(propensity, dtype=np.float64), 0.0)


def dr_terms(
    rewards: np.ndarray, propensity: np.ndarray, match: np.ndarray, model_target: np.ndarray, model_logged: np.ndarray
) -> np.ndarray:
    """Per-row doubly-robust terms ``rhat(c) + m (r - rhat(a)) / p``.

    >>> dr_terms(np.array([1.0]), np.array([0.5]), np.array([True]), np.array([0.6]), np.array([0.6])).round(3).tolist()
    [1.4]
    """
    correction = ips_terms(np.asarray(rewards, dtype=np.float64) - model_logged, propensity, match)
    return np.asarray(model_target, dtype=np.float64) + correction


def bootstrap_means(terms: np.ndarray, n_boot: int = 1000, random_state: int = 0) -> np.ndarray:
    """Bootstrap replicates of the mean of each row of ``terms`` (k, n), resampling the n columns
    together (paired): shape (n_boot, k)."""
    terms = np.atleast_2d(np.asarray(terms, dtype=np.float64))
    n = terms.shape[1]
    if n == 0:
        return np.full((n_boot, len(terms)), np.nan)
    rng = np.random.default_rng(random_state)
    out = np.empty((n_boot, len(terms)))
    for start in range(0, n_boot, 100):  # 100 replicates at a time bounds the memory
        stop = min(start + 100, n_boot)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=stop - start).astype(np.float64)
        out[start:stop] = counts @ terms.T / n
    return out


@dataclass(frozen=True)
class Estimate:
    """A value and its bootstrap interval."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high


def _estimate(terms: np.ndarray, replicates: np.ndarray, level: float) -> Estimate:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail]) if len(terms) else (np.nan, np.nan)
    return Estimate(float(np.mean(terms)) if len(terms) else float("nan"), float(low), float(high))


@dataclass(frozen=True)
class ShadowReport:
    """Live vs candidate on logged traffic: ``estimates[quantity][method]`` with method in
    ``live``, ``ips``, ``dr``, ``dr_minus_live``."""

    n_decisions: int
    n_scored: int
    share_changed: float
    share_changed_scored: float
    share_explored: float
    level: float
    estimates: dict[str, dict[str, Estimate]]
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "n_decisions": self.n_decisions,
            "n_scored": self.n_scored,
            "share_changed": self.share_changed,
            "share_changed_scored": self.share_changed_scored,
            "share_explored": self.share_explored,
            "level": self.level,
            "estimates": {q: {m: e.to_json() for m, e in ms.items()} for q, ms in self.estimates.items()},
            "counts": self.counts,
        }


def _decision(raw: Any) -> dict[str, Any]:
    try:
        out = json.loads(raw) if isinstance(raw, str) else {}
    except json.JSONDecodeError:
        out = {}
    return out if isinstance(out, dict) else {}


@dataclass(frozen=True)
class _Routed:
    choice: np.ndarray  # candidate's choice per row (index into candidate.llm_ids)
    p_hat: np.ndarray  # (n, n_llms)
    cost_usd: np.ndarray  # (n, n_llms) expected
    alpha: np.ndarray
    beta: np.ndarray


def route_logged(candidate: IRTRouter, frame: pd.DataFrame, X: np.ndarray) -> _Routed:
    """The candidate's choice, P-hat and expected USD for logged decisions, each routed under its
    own logged trade-off, rule and allowed LLMs (grouped, one batch per group)."""
    n, ids = len(frame), candidate.llm_ids
    choice = np.zeros(n, dtype=np.int64)
    p_hat, cost = np.zeros((n, len(ids))), np.zeros((n, len(ids)))
    alpha, beta = np.zeros(n), np.zeros(n)
    logged = frame["query_text"].tolist()
    texts = [t if ok else "?" for t, ok in zip(logged, has_text(logged), strict=True)]  # prices only
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, raw in enumerate(frame["decision"]):
        d = _decision(raw)
        allowed = tuple(r["llm_id"] for r in d.get("llms", []) if r.get("allowed") and r.get("llm_id") in ids)
        a = float(d.get("alpha", frame["alpha"].iloc[i]))
        b = float(d.get("beta", 1.0 - a))
        groups.setdefault((a, b, d.get("rule"), allowed or None), []).append(i)
    for (a, b, rule, allowed), rows in groups.items():
        idx = np.asarray(rows)
        rule = rule if rule in candidate.rules else None
        decisions = candidate.route_many_embedded(
            X[idx], [texts[i] for i in idx], alpha=a, beta=b, allowed_llms=allowed, rule=rule, explain=False
        )
        for i, made in zip(idx, decisions, strict=True):
            choice[i] = ids.index(made.llm_id)
            p_hat[i] = made.p_hat
            cost[i] = made.cost_usd if made.cost_usd is not None else np.nan
        alpha[idx], beta[idx] = a, b
    return _Routed(choice, p_hat, cost, alpha, beta)


def logged_token_costs(candidate: IRTRouter, scored: pd.DataFrame) -> np.ndarray:
    """Modelled USD of each scored row on each candidate LLM from the logged token counts: the
    row's reported input tokens (else its expected ones) at the LLM's input price, plus the LLM's
    mean reported output tokens on the log (else the mean over all LLMs) at its output price.
    NaN where the log has no counts.

    Examples
    --------
    >>> costs = logged_token_costs(router, scored_requests(read_log(url)).frame)  # doctest: +SKIP
    >>> costs.shape == (n_scored, len(router.llm_ids))  # doctest: +SKIP
    True
    """
    tin = pd.to_numeric(scored["input_tokens"], errors="coerce").to_numpy(dtype=np.float64)
    expected_in = pd.to_numeric(scored["expected_input_tokens"], errors="coerce").to_numpy(dtype=np.float64)
    tin = np.where(np.isnan(tin), expected_in, tin)
    tout = pd.to_numeric(scored["output_tokens"], errors="coerce")
    overall = float(tout.mean()) if tout.notna().any() else np.nan
    per_llm = tout.groupby(scored["answered_by"].to_numpy(dtype=object)).mean()
    ids = candidate.llm_ids
    out = np.array([per_llm.get(m, np.nan) for m in ids], dtype=np.float64)
    out = np.where(np.isnan(out), overall, out)
    in_price = np.array([candidate.catalog_[m].input_price for m in ids], dtype=np.float64)
    out_price = np.array([candidate.catalog_[m].output_price for m in ids], dtype=np.float64)
    return (tin[:, None] * in_price + out[None, :] * out_price) / 1e6


def _rule_choice(raw: Any, logged: str) -> str:
    explored = _decision(raw).get("exploration")
    if isinstance(explored, dict) and isinstance(explored.get("rule_choice"), str):
        return str(explored["rule_choice"])
    return logged


def shadow_evaluate(
    candidate: IRTRouter, log: pd.DataFrame, level: float = 0.95, n_boot: int = 1000, random_state: int = 0
) -> ShadowReport:
    """Off-policy estimates of ``candidate`` on :func:`~irtrouter.store.reading.read_log` rows
    (module docstring).

    Raises
    ------
    DataError
        When no logged decision can be routed (none has an embedding or text), or none was scored.

    Examples
    --------
    >>> report = shadow_evaluate(load_router("routers/v1"), read_log("sqlite:///serve.sqlite"))  # doctest: +SKIP
    >>> report.estimates["reward"]["dr"].value  # doctest: +SKIP
    """
    ids = candidate.llm_ids
    decisions = log.drop_duplicates("request_id").reset_index(drop=True)
    decisions = decisions[decisions["llm_id"].isin(ids)].reset_index(drop=True)
    X, ok = query_embeddings(candidate, decisions)
    decisions, X = decisions[ok].reset_index(drop=True), X[ok]
    if len(decisions) == 0:
        raise DataError("no logged decision has a query embedding or text to route")
    routed = route_logged(candidate, decisions, X)
    rule_choice = np.array(
        [_rule_choice(r, m) for r, m in zip(decisions["decision"], decisions["llm_id"], strict=True)], dtype=object
    )
    cand_ids = np.asarray(ids, dtype=object)[routed.choice]
    changed = cand_ids != rule_choice

    scored = scored_requests(log).frame
    position = {r: i for i, r in enumerate(decisions["request_id"])}
    rows = np.array([position.get(r, -1) for r in scored["request_id"]], dtype=np.int64)
    keep = (rows >= 0) & (scored["answered_by"] == scored["llm_id"]).to_numpy(dtype=bool)
    counts = {
        "decisions_unroutable": int((~ok).sum()),
        "scored_fallback": int(((rows >= 0) & ~keep).sum()),
        "scored_unroutable": int((rows < 0).sum()),
    }
    scored, rows = scored[keep].reset_index(drop=True), rows[keep]
    if len(scored) == 0:
        raise DataError("no scored decision to evaluate on (feedback on decisions answered by their chosen LLM)")
    prop_raw = pd.to_numeric(scored["propensity"], errors="coerce").to_numpy(dtype=np.float64)
    counts["propensity_missing"] = int(np.isnan(prop_raw).sum())
    propensity = np.where(np.isnan(prop_raw), 1.0, prop_raw)
    if ((propensity <= 0) | (propensity > 1)).any():
        raise DataError("logged propensities must lie in (0, 1]")
    logged = np.array([ids.index(m) for m in scored["llm_id"]], dtype=np.int64)
    target = routed.choice[rows]
    match = target == logged
    n_range = np.arange(len(rows))
    p_hat, cost_model = routed.p_hat[rows], routed.cost_usd[rows]
    unpriced = np.isnan(cost_model).all(axis=0)
    if unpriced.any():  # a cost model without USD (price-only): else DR's Reward model would ignore cost
        cost_model[:, unpriced] = logged_token_costs(candidate, scored)[:, unpriced]
    cost_model = np.nan_to_num(cost_model)
    alpha, beta = routed.alpha[rows], routed.beta[rows]
    # The single-LLM cost scale from the model's expected costs; from the observed ones if it has none.
    scale = float(cost_model.mean(axis=0).max())
    if not scale > 0:
        scale = float(np.nanmean(pd.to_numeric(scored["cost_usd"], errors="coerce"))) if len(scored) else 0.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    score = scored["score"].to_numpy(dtype=np.float64)
    real_cost = pd.to_numeric(scored["cost_usd"], errors="coerce").to_numpy(dtype=np.float64)
    real_cost = np.where(np.isnan(real_cost), cost_model[n_range, logged], real_cost)

    def reward(s: np.ndarray, c: np.ndarray) -> np.ndarray:
        return 100.0 * (alpha * s - beta * c / scale)

    observed = {"performance": score, "cost_usd": real_cost, "reward": reward(score, real_cost)}
    model_target = {"performance": p_hat[n_range, target], "cost_usd": cost_model[n_range, target]}
    model_logged = {"performance": p_hat[n_range, logged], "cost_usd": cost_model[n_range, logged]}
    model_target["reward"] = reward(model_target["performance"], model_target["cost_usd"])
    model_logged["reward"] = reward(model_logged["performance"], model_logged["cost_usd"])

    estimates: dict[str, dict[str, Estimate]] = {}
    for q_index, q in enumerate(QUANTITIES):
        live = observed[q]
        ips = ips_terms(observed[q], propensity, match)
        dr = dr_terms(observed[q], propensity, match, model_target[q], model_logged[q])
        terms = np.vstack([live, ips, dr, dr - live])
        reps = bootstrap_means(terms, n_boot, random_state + q_index)
        estimates[q] = {
            name: _estimate(terms[k], reps[:, k], level)
            for k, name in enumerate(("live", "ips", "dr", "dr_minus_live"))
        }
    explored = (scored["llm_id"].to_numpy(dtype=object) != rule_choice[rows]).mean()
    return ShadowReport(
        n_decisions=len(decisions),
        n_scored=len(scored),
        share_changed=float(changed.mean()),
        share_changed_scored=float(changed[rows].mean()),
        share_explored=float(explored),
        level=level,
        estimates=estimates,
        counts=counts,
    )
