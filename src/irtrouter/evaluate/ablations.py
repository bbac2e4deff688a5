"""The IRT-Router paper's ablations, each a loop over :func:`~irtrouter.evaluate.harness.run_setting`.

``warmup_lambda``
    Warm-up weight lambda in 0..0.4 for MIRT and NIRT (paper Table 9, Figures 6-7). The routers
    fitted for the main table are reused: lambda only acts at decision time.
``n_dims``
    Ability dimensions N of MIRT-Router in {5, 10, 25, 50, 100} (Figure 8).
``embedder``
    MIRT-Router with each embedder (USE, e5, hashing; Table 8), optionally all trained on one
    seeded subset of the training queries (e5 embeds about 3 queries a second on 2 cores).
``relevance``
    NIRT-Router with its labelled relevance vectors and with an all-ones relevance vector for every
    query (the relevance softmax then weighs every ability alike).

Every function returns tidy rows: dataset, split, ablation, value, router, alpha, performance,
total_cost, reward, cost_kind. A value equal to the main run's (N = 25, the main embedder, labelled
relevance) reuses that run instead of training again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irtrouter.embed.base import Embedder
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.harness import ALPHAS, RouterRun, SettingResult, run_setting
from irtrouter.evaluate.protocol import subsample
from irtrouter.routing.rule import resolve_weights

WARMUP_LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.4)
DIMENSIONS = (5, 10, 25, 50, 100)
EMBEDDERS = ("use", "e5", "hashing")


def _rows(
    result: SettingResult, run: RouterRun, ablation: str, value: Any, alphas: Sequence[float], router: str
) -> list[dict[str, Any]]:
    rows = []
    for alpha in alphas:
        a, b = resolve_weights(alpha)
        o = result.outcome_of(run.decisions.choose(alpha))
        rows.append(
            {
                "dataset": result.setting.dataset,
                "split": result.setting.split,
                "ablation": ablation,
                "value": value,
                "router": router,
                "alpha": alpha,
                "performance": o.performance,
                "total_cost": o.total_cost,
                "reward": o.reward(a, b, result.cost_scale),
                "cost_kind": result.cost_kind,
                "embedder": result.embedder_name,
            }
        )
    return rows


def warmup_ablation(
    result: SettingResult,
    lambdas: Sequence[float] = WARMUP_LAMBDAS,
    routers: Sequence[str] = ("mirt", "nirt"),
    alphas: Sequence[float] = ALPHAS,
) -> list[dict[str, Any]]:
    """Reward per warm-up lambda of the IRT routers already fitted in ``result`` (no retraining)."""
    rows = []
    for name in routers:
        run = result.runs.get(name)
        if run is None:
            continue
        for lam in lambdas:
            router = run.router.with_params(warmup_lambda=lam)
            decided = RouterRun(name, router, router.decide(result.batch()), 0.0, 0.0)
            rows += _rows(result, decided, "warmup_lambda", lam, alphas, name)
    return rows


def dimension_ablation(
    base: SettingResult,
    embedder: Embedder,
    dims: Sequence[int] = DIMENSIONS,
    alphas: Sequence[float] = ALPHAS,
    overrides: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """MIRT-Router's Reward per ability dimension N (reusing the main run's N = 25)."""
    rows = []
    for n in dims:
        main = base.runs.get("mirt")
        if main is not None and main.router.get_params().get("n_dims") == n:
            result, run = base, main
        else:
            result = run_setting(
                base.setting,
                [f"mirt:n_dims={n}"],
                embedder,
                alphas=alphas,
                sweep=(),
                overrides=overrides,
                embeddings=(base.X_train, base.X_test),
            )
            run = result.runs[f"mirt:n_dims={n}"]
        rows += _rows(result, run, "n_dims", n, alphas, "mirt")
    return rows


def embedder_ablation(
    base: SettingResult,
    embedders: Sequence[str] = EMBEDDERS,
    main_embedder: str | None = None,
    alphas: Sequence[float] = ALPHAS,
    overrides: Mapping[str, Any] | None = None,
    n_train: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """MIRT-Router's Reward with each embedder spec.

    ``n_train`` trains every embedder's router on the same seeded subset of the training queries
    (for slow embedders; the test queries stay whole); without it the main run's embedder is reused.
    ``cache_dir``: the embedding cache the other runs use (default ``~/.cache/irtrouter``).
    """
    setting = base.setting
    subset = n_train is not None and n_train < setting.train.n_queries
    if subset:
        setting = subsample(setting, n_train, None, seed)
    rows = []
    for spec in embedders:
        main = base.runs.get("mirt")
        if main is not None and spec == main_embedder and not subset:
            result, run = base, main
        else:
            emb = CachedEmbedder(make_embedder(spec), cache_dir)
            result = run_setting(setting, ["mirt"], emb, alphas=alphas, sweep=(), overrides=overrides)
            run = result.runs["mirt"]
        label = f"{spec} ({setting.train.n_queries} train queries)" if subset else spec
        rows += _rows(result, run, "embedder", label, alphas, "mirt")
    return rows


def relevance_ablation(
    base: SettingResult,
    embedder: Embedder,
    alphas: Sequence[float] = ALPHAS,
    overrides: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """NIRT-Router with labelled relevance vectors (the main run's) and with all-ones vectors."""
    rows = []
    main = base.runs.get("nirt")
    if main is None:
        result = run_setting(
            base.setting, ["nirt"], embedder, alphas=alphas, sweep=(), overrides=overrides,
            embeddings=(base.X_train, base.X_test),
        )  # fmt: skip
        main = result.runs["nirt"]
    else:
        result = base
    rows += _rows(result, main, "relevance", "labelled", alphas, "nirt")
    uniform = run_setting(
        base.setting,
        ["nirt:relevance=uniform"],
        embedder,
        alphas=alphas,
        sweep=(),
        overrides=overrides,
        embeddings=(base.X_train, base.X_test),
    )
    rows += _rows(uniform, uniform.runs["nirt:relevance=uniform"], "relevance", "uniform (all ones)", alphas, "nirt")
    return rows
