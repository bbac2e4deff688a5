"""Train every router on a setting's train split and score it on its test split, identically.

For each :class:`~irtrouter.evaluate.protocol.Setting` the queries are embedded once (the embedder
and its disk cache are shared by every router), each router of the registry is fitted on the
train split and asked for its :class:`~irtrouter.routing.registry.Decisions` on the test split,
and the decisions are scored into tidy rows (one dict per row, ready for CSV/JSON):

``routing``
    Performance, Total Cost (USD, real or modelled: ``cost_kind``) and Reward at each alpha of
    the table (paper Tables 1-2), with the share of the best-single-LLM-to-oracle gap closed.
    References per alpha: the best single LLM on the test queries (in hindsight) and the
    reward-optimal oracle (each query to the LLM that adds most to the Reward).
``predictor``
    AUC / ACC / RMSE / MAE of the predicted scores, for routers that predict them (Table 4).
``topk``
    Top-k routing accuracy at one alpha (Table 3): k best LLMs by each query's reward share.
``curves``
    The alpha sweep's cost-performance curve summarised by AIQ (RouterBench), hypervolume and
    CPT(50/80/90/95%) (RADAR) and, for binary routers or two-LLM pools, APGR (RouteLLM).
``points``
    The sweep itself (one row per router and alpha), for the Pareto plots.

Only the Oracle (``uses_outcomes``) is shown the test scores and costs; every other router gets
the query texts and embeddings alone.

A router is never read at a trade-off it cannot route for: where :func:`unsupported` gives a
reason (a preference-conditioned policy asked for a cost weight beyond the range it was trained
on, which it would clip), the row's figures are NaN and its ``unsupported`` field says why; the
sweep's curve then covers only the weights the router supports, and says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from irtrouter.embed.base import Embedder
from irtrouter.embed.cache import encode_texts
from irtrouter.errors import ConfigError
from irtrouter.evaluate.curves import aiq, apgr, cpt, hypervolume
from irtrouter.evaluate.metrics import (
    Outcome,
    gap_closed,
    outcome,
    realised_costs,
    reward_contributions,
    reward_oracle,
    single_llm_cost_scale,
    top_k_accuracy,
)
from irtrouter.evaluate.prediction import prediction_quality
from irtrouter.evaluate.protocol import Setting
from irtrouter.evaluate.routers.contract import BinaryDecisions, Decisions, QueryBatch, Router, TrainingData
from irtrouter.evaluate.routers.registry import make_router
from irtrouter.routing.rule import TradeOff, resolve_weights

log = logging.getLogger(__name__)

ALPHAS: tuple[float, ...] = (0.8, 0.5, 0.2)
SWEEP: tuple[float, ...] = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 21))
CPT_LEVELS: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
SHARES: tuple[float, ...] = tuple(round(s, 2) for s in np.linspace(0.0, 1.0, 21))
MIN_GAP = 0.5  # reward points: below this, "share of the gap closed" is not reported
DEFAULT_ROUTERS: tuple[str, ...] = (
    "small-llm",
    "large-llm",
    "random",
    "oracle",
    "hybrid-llm",
    "routellm-mf",
    "routerbench-knn",
    "routerbench-mlp",
    "knn-tuned",
    "mirt",
    "mirt-nowarmup",
    "nirt",
    "nirt-nowarmup",
)


@dataclass
class RouterRun:
    """One router fitted on a setting and its decisions on the test queries."""

    name: str
    router: Router
    decisions: Decisions
    fit_seconds: float
    decide_seconds: float
    shares_fit_with: str | None = None


@dataclass
class SettingResult:
    """Everything measured on one setting: the runs, the reference figures and the tidy rows."""

    setting: Setting
    costs: np.ndarray
    cost_kind: str
    cost_scale: float
    X_train: np.ndarray
    X_test: np.ndarray
    embedder_name: str
    runs: dict[str, RouterRun] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def outcome_of(self, routing: np.ndarray) -> Outcome:
        return outcome(self.setting.test.scores, self.costs, routing)

    def batch(self, with_outcomes: bool = False) -> QueryBatch:
        test = self.setting.test
        if with_outcomes:
            return QueryBatch(test.queries, self.X_test, test.scores, self.costs, test.tasks)
        return QueryBatch(test.queries, self.X_test)

    @property
    def costs_differ(self) -> bool:
        """False when every LLM costs the same on every query (cost curves then say nothing)."""
        spread = np.ptp(self.costs, axis=1).max() if self.costs.size else 0.0
        return bool(spread > 1e-12 * max(float(np.abs(self.costs).max()), 1e-300))


def embed_setting(setting: Setting, embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the train and test queries (through the disk cache when ``embedder`` has one)."""

    return (
        encode_texts(embedder, setting.train.queries, desc="embedding train"),
        encode_texts(embedder, setting.test.queries, desc="embedding test"),
    )


def build_router(name: str, overrides: Mapping[str, Any] | None = None) -> Router:
    """``make_router(name)`` with each override applied where the router has that parameter.

    ``overrides`` like ``{"max_epochs": 30, "predictor_params": {"max_epochs": 30}}`` shorten every
    router that trains for epochs (quick runs) without naming them one by one.
    """
    router = make_router(name)
    params = router.get_params()
    chosen = {k: v for k, v in (overrides or {}).items() if k in params}
    return make_router(name, **chosen) if chosen else router


def run_setting(
    setting: Setting,
    routers: Sequence[str],
    embedder: Embedder,
    *,
    alphas: Sequence[float] = ALPHAS,
    sweep: Sequence[float] = SWEEP,
    topk_alpha: float = 0.8,
    overrides: Mapping[str, Any] | None = None,
    embeddings: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
) -> SettingResult:
    """Fit and score ``routers`` (registry names or specs) on ``setting``.

    Parameters
    ----------
    setting : Setting
    routers : sequence of str
        Registry names (``irtrouter.routing.registry.available_routers``) or specs
        (``"routerbench-knn:k=100"``); each is one row label.
    embedder : Embedder
        Embeds the queries once for every router (wrap it in a ``CachedEmbedder`` to reuse them).
    alphas : sequence of float
        Weights of the routing table.
    sweep : sequence of float
        Weights of the cost-performance curve.
    topk_alpha : float
        Weight of the top-k routing accuracy.
    overrides : mapping, optional
        Parameters applied to every router that has them (see :func:`build_router`).
    embeddings : (X_train, X_test), optional
        Precomputed embeddings of the setting's queries, to skip embedding.
    progress : bool
        A bar over the routers, and the long fits' own bars (epochs, policy training).

    Examples
    --------
    >>> result = run_setting(setting, ["small-llm", "oracle", "knn-tuned"], make_embedder("hashing"))  # doctest: +SKIP
    >>> [r["reward"] for r in result.rows["routing"] if r["alpha"] == 0.8]  # doctest: +SKIP
    """
    if len(set(routers)) != len(routers):
        raise ConfigError(f"router names repeat: {list(routers)}")
    for a in (*alphas, *sweep, topk_alpha):
        resolve_weights(a)
    test = setting.test
    costs, cost_kind = realised_costs(test, setting.catalog)
    X_train, X_test = embeddings if embeddings is not None else embed_setting(setting, embedder)
    result = SettingResult(
        setting, costs, cost_kind, single_llm_cost_scale(costs), X_train, X_test, getattr(embedder, "name", "?")
    )
    data = TrainingData(setting.train, setting.catalog, X_train, embedder, progress)
    fitted: dict[tuple[str, str], str] = {}
    bar = tqdm(routers, desc=f"{setting.name}: routers", disable=not progress, leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        router = build_router(name, overrides)
        key = router.fit_key()
        shared = fitted.get(key)
        started = time.perf_counter()
        if shared is not None:
            router.share_fit(result.runs[shared].router)
        else:
            router.fit(data)
            fitted[key] = name
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        decisions = router.decide(result.batch(with_outcomes=router.uses_outcomes))
        decide_seconds = time.perf_counter() - started
        result.runs[name] = RouterRun(name, router, decisions, fit_seconds, decide_seconds, shared)
        log.info("%s: %s fitted in %.1fs, decided in %.2fs", setting.name, name, fit_seconds, decide_seconds)
    _score(result, alphas, sweep, topk_alpha)
    return result


# -- scoring -------------------------------------------------------------------------------------


def unsupported(decisions: Decisions, alpha: float) -> str | None:
    """Why ``decisions`` cannot be read at ``alpha`` as asked, or None when they can.

    Decisions of a policy conditioned on a preference carry its ``resolve_preference`` (the one
    place that turns a trade-off into the policy's cost weight w); a w beyond the trained range
    would be clipped, i.e. the policy would route for another trade-off than the row's.
    """
    resolve = getattr(decisions, "resolve_preference", None)
    if resolve is None:
        return None
    top, record = resolve(TradeOff.of(alpha))
    if "preference_clipped_from" not in record:
        return None
    return (
        f"alpha {alpha:g} needs cost weight w = {record['preference_clipped_from']}, beyond the policy's "
        f"trained maximum w = {top:g} (alpha >= {1 / (1 + top):.3g}); not clipped"
    )


def _base(result: SettingResult, router: str) -> dict[str, Any]:
    s = result.setting
    return {"dataset": s.dataset, "split": s.split, "router": router}


def _references(result: SettingResult, alpha: float) -> tuple[float, str, float]:
    """(best single-LLM reward, its LLM, reward-optimal oracle reward) on the test queries at ``alpha``."""
    a, b = resolve_weights(alpha)
    test, scale = result.setting.test, result.cost_scale
    singles = [result.outcome_of(np.full(test.n_queries, j)).reward(a, b, scale) for j in range(test.n_llms)]
    best = int(np.argmax(singles))
    oracle = result.outcome_of(reward_oracle(test.scores, result.costs, a, b, scale)).reward(a, b, scale)
    return singles[best], test.llm_ids[best], oracle


def _strong_index(result: SettingResult, decisions: Decisions) -> int | None:
    if isinstance(decisions, BinaryDecisions):
        return decisions.large
    if result.setting.test.n_llms == 2:
        return int(np.argmax(result.costs.sum(axis=0)))
    return None


def _strong_share(routing: np.ndarray, strong: int) -> float:
    if routing.ndim == 1:
        return float((routing == strong).mean())
    return float(routing[:, strong].mean())


def _score(result: SettingResult, alphas: Sequence[float], sweep: Sequence[float], topk_alpha: float) -> None:
    test, scale = result.setting.test, result.cost_scale
    refs = {a: _references(result, a) for a in alphas}
    routing_rows, predictor_rows, topk_rows, point_rows = [], [], [], []
    curves: dict[str, list[tuple[float, float, float]]] = {}  # router -> (alpha, cost, perf)
    limits: dict[str, str] = {}  # router -> why its curve leaves some alphas out
    ta, tb = resolve_weights(topk_alpha)
    utility = reward_contributions(test.scores, result.costs, ta, tb, scale)
    for name, run in result.runs.items():
        d = run.decisions
        extra: dict[str, Any] = {}
        chosen = getattr(run.router, "chosen_llm_", None)
        if chosen is not None:
            extra["llm"] = chosen
        for alpha in alphas:
            a, b = resolve_weights(alpha)
            best, best_llm, oracle = refs[alpha]
            why = unsupported(d, alpha)
            figures: dict[str, Any]
            if why is None:
                o = result.outcome_of(d.choose(alpha))
                figures = {"performance": o.performance, "total_cost": o.total_cost, "reward": o.reward(a, b, scale)}
            else:
                figures = {"performance": math.nan, "total_cost": math.nan, "reward": math.nan, "unsupported": why}
            routing_rows.append(
                {
                    **_base(result, name),
                    "alpha": alpha,
                    **figures,
                    "gap_closed": gap_closed(figures["reward"], best, oracle, MIN_GAP),
                    "best_single_reward": best,
                    "best_single_llm": best_llm,
                    "oracle_reward": oracle,
                    "cost_kind": result.cost_kind,
                    "n_queries": test.n_queries,
                    "fit_seconds": round(run.fit_seconds, 3),
                    "decide_seconds": round(run.decide_seconds, 4),
                    **extra,
                }
            )
        if d.p_hat is not None:
            q = prediction_quality(test.scores, d.p_hat)
            predictor_rows.append({**_base(result, name), "auc": q.auc, "acc": q.acc, "rmse": q.rmse, "mae": q.mae})
        why = unsupported(d, topk_alpha)
        for k in range(1, min(5, test.n_llms) + 1):
            row = {**_base(result, name), "alpha": topk_alpha, "k": k}
            if why is None:
                row["accuracy"] = top_k_accuracy(d.choose(topk_alpha), utility, k)
            else:
                row |= {"accuracy": math.nan, "unsupported": why}
            topk_rows.append(row)
        pts = []
        left_out = [(alpha, why) for alpha in sweep if (why := unsupported(d, alpha)) is not None]
        if left_out:
            limits[name] = (
                f"curve over the {len(sweep) - len(left_out)} of {len(sweep)} alphas the router supports; "
                f"left out alpha {', '.join(f'{a:g}' for a, _ in left_out)}: {left_out[0][1]}"
            )
        for alpha in (a for a in sweep if a not in dict(left_out)):
            o = result.outcome_of(d.choose(alpha))
            pts.append((alpha, o.total_cost, o.performance))
            point_rows.append(
                {**_base(result, name), "alpha": alpha, "total_cost": o.total_cost, "performance": o.performance}
            )
        curves[name] = pts
    result.rows["routing"] = routing_rows
    result.rows["predictor"] = predictor_rows
    result.rows["topk"] = topk_rows
    result.rows["points"] = point_rows
    result.rows["curves"] = _curve_rows(result, curves, limits) if sweep else []


def _curve_rows(
    result: SettingResult, curves: dict[str, list[tuple[float, float, float]]], limits: Mapping[str, str]
) -> list[dict[str, Any]]:
    test = result.setting.test
    singles = [result.outcome_of(np.full(test.n_queries, j)) for j in range(test.n_llms)]
    # CPT's reference: the best single LLM by performance (the cheaper one among ties).
    best = min(range(test.n_llms), key=lambda j: (-singles[j].performance, singles[j].total_cost))
    max_cost = max((c for pts in curves.values() for _, c, _ in pts), default=0.0)
    max_cost = max(max_cost, max(s.total_cost for s in singles))
    rows = []
    for name, pts in curves.items():
        costs = [c for _, c, _ in pts]
        perfs = [p for _, _, p in pts]
        row: dict[str, Any] = {**_base(result, name), "cost_kind": result.cost_kind}
        if name in limits:
            row["unsupported"] = limits[name]
        if pts and result.costs_differ:
            row["aiq"] = aiq(costs, perfs, max_cost)
            row["hypervolume"] = hypervolume(costs, perfs, result.cost_scale)
            for x in CPT_LEVELS:
                row[f"cpt{round(x * 100)}"] = cpt(costs, perfs, x, singles[best].performance, singles[best].total_cost)
        elif not result.costs_differ:
            row["note"] = "every LLM costs the same: no cost-performance trade-off to measure"
        run = result.runs[name]
        strong = _strong_index(result, run.decisions)
        if run.router.uses_outcomes:
            row["apgr_na"] = "the router reads the test outcomes (a bound, not a router)"
        elif strong is None:
            row["apgr_na"] = (
                f"a two-LLM curve metric; the pool has {result.setting.test.n_llms} LLMs and the router is not binary"
            )
        else:
            weak = _weak_index(result, run.decisions, strong)
            weak_perf, strong_perf = singles[weak].performance, singles[strong].performance
            if abs(strong_perf - weak_perf) <= 1e-12:
                row["apgr_na"] = "the two LLMs perform the same on the test queries: no gap to recover"
            elif isinstance(run.decisions, BinaryDecisions):
                share_perfs = [result.outcome_of(run.decisions.at_share(s)).performance for s in SHARES]
                row["apgr"] = apgr(list(SHARES), share_perfs, weak_perf, strong_perf)
            else:
                shares = [_strong_share(run.decisions.choose(a), strong) for a, _, _ in pts]
                row["apgr"] = apgr(shares, perfs, weak_perf, strong_perf)
        rows.append(row)
    return rows


def _weak_index(result: SettingResult, decisions: Decisions, strong: int) -> int:
    if isinstance(decisions, BinaryDecisions):
        return decisions.small
    return 1 - strong
