"""Evaluate routers on your own data in one call: tidy tables, the spread over seeds, honest n/a.

:func:`evaluate` takes results (a :class:`~irtrouter.data.ResultsMatrix`, long records, or a
loaded :class:`~irtrouter.data.benchmarks.Benchmark`), an LLM catalog and a split: a named
protocol (``"id"``, ``"ood"``: :mod:`irtrouter.evaluate.protocol`) or the user's own
``(train_ids, test_ids)``. The split is fixed; every router is fitted and scored on it once per
seed, the seed being each router's ``random_state``, so the spread is the routers' own.

The :class:`Evaluation` it returns holds pandas DataFrames:

``routing``
    One row per setting, router and alpha: Performance, Total Cost and Reward averaged over the
    seeds; the Reward's standard deviation (n/a for one seed), minimum and maximum; the share of
    the best-single-to-oracle gap that the *mean* closes; and ``delta`` = Reward minus that of
    :data:`BASELINE` (the LLM with the best Reward on the train split), with a paired bootstrap
    interval over the test queries (``delta_low``, ``delta_high``). ``beats_baseline`` means the
    whole interval is above 0. A router that cannot route at an alpha as asked has NaN figures
    and its reason in ``unsupported`` (:func:`~irtrouter.evaluate.harness.unsupported`).
``per_seed``
    The harness's routing rows (:mod:`irtrouter.evaluate.harness`), one per seed.
``choices``
    Per seed, router, alpha and test query, the LLM chosen (``probability`` 1), or each LLM
    with its probability for a router that routes by a distribution (Random).
``tables``
    The harness's other tables (``predictor``, ``topk``, ``curves``, ``points``), one row per seed.

The same seeds give the same tables, to the last digit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from irtrouter.data.benchmarks import Benchmark
from irtrouter.data.catalog import LLMCatalog, load_catalog
from irtrouter.data.results import ResultsMatrix, results_from_frame
from irtrouter.data.splits import split_in_distribution, split_out_of_distribution
from irtrouter.embed.base import Embedder
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import ConfigError
from irtrouter.evaluate.harness import (
    ALPHAS,
    DEFAULT_ROUTERS,
    MIN_GAP,
    SWEEP,
    SettingResult,
    embed_setting,
    run_setting,
    unsupported,
)
from irtrouter.evaluate.metrics import gap_closed, paired_bootstrap, query_rewards, reward_contributions
from irtrouter.evaluate.protocol import Setting, benchmark_settings, make_setting, setting_from_ids
from irtrouter.evaluate.report import seed_mean_tables, unsupported_notes
from irtrouter.routing.rule import resolve_weights

log = logging.getLogger(__name__)

BASELINE = "best-single"  # what "beats" is measured against: the LLM a user without a router would pick
HARNESS_TABLES = ("predictor", "topk", "curves", "points")


@dataclass
class Evaluation:
    """The tables of one :func:`evaluate` call (see the module docstring for their columns)."""

    routing: pd.DataFrame
    per_seed: pd.DataFrame
    choices: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    settings: list[Setting]
    meta: dict[str, Any] = field(default_factory=dict)

    def markdown(self, others: bool = False) -> str:
        """The routing table of every setting: mean ± std [min, max] over the seeds, gap closed of
        the mean, Reward minus the baseline's with its interval, and why any cell is n/a; with
        ``others``, then the top-k, predictor and curve tables, each figure the mean over the seeds."""
        rows = _records(self.routing)
        out = []
        for setting in self.settings:
            sub = [r for r in rows if r["dataset"] == setting.dataset and r["split"] == setting.split]
            alphas = list(dict.fromkeys(r["alpha"] for r in sub))
            header = ["Router"]
            for a in alphas:
                header += [f"Perf. @{a}", f"Cost @{a}", f"Reward @{a}", f"Gap closed @{a}", f"vs {BASELINE} @{a}"]
            body = []
            for router in dict.fromkeys(r["router"] for r in sub):
                cells = [router]
                for a in alphas:
                    r = next(x for x in sub if x["router"] == router and x["alpha"] == a)
                    cells += [
                        _pct(r["performance"]),
                        _fmt(r["total_cost"], ".4g"),
                        _spread(r),
                        _pct(r["gap_closed"]),
                        _interval(r),
                    ]
                body.append(cells)
            first = sub[0]
            level = self.meta.get("confidence", 0.95)
            out.append(
                f"#### {setting.dataset}, {setting.split}: {first['n_queries']} test queries, seeds "
                f"{', '.join(map(str, self.meta.get('seeds', [])))}, Total Cost in {first['cost_kind']} USD\n\n"
                + "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)])
                + "\n"
                + "\n".join("| " + " | ".join(c) + " |" for c in body)
                + f"\n\nReward: mean ± standard deviation [min, max] over the seeds. Gap closed: of the mean, "
                f"n/a under {MIN_GAP} points of gap. vs {BASELINE}: Reward minus the LLM best on train, with a "
                f"{level:.0%} paired bootstrap interval over the test queries; * = the interval is above 0."
                + unsupported_notes(sub)
            )
        if others:
            out.append("Means over the seeds.\n\n" + seed_mean_tables({t: _records(f) for t, f in self.tables.items()}))
        return "\n\n".join(out)

    def write(self, out_dir: str | Path) -> list[Path]:
        """``routing.csv``, ``per_seed.csv``, ``choices.csv`` and one CSV per non-empty harness table."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        frames = {"routing": self.routing, "per_seed": self.per_seed, "choices": self.choices, **self.tables}
        paths = []
        for name, frame in frames.items():
            if len(frame):
                paths.append(out / f"{name}.csv")
                frame.to_csv(paths[-1], index=False)
        return paths


def evaluate(
    results: ResultsMatrix | Benchmark | pd.DataFrame | Sequence[Mapping[str, Any]],
    catalog: LLMCatalog | str | Path | None = None,
    *,
    split: str | tuple[Sequence[str], Sequence[str]] = "id",
    routers: Sequence[str] = DEFAULT_ROUTERS,
    alphas: Sequence[float] = ALPHAS,
    seeds: Sequence[int] = (0,),
    embedder: str | Embedder = "use",
    test_size: float = 0.3,
    ood_tasks: Sequence[str] | None = None,
    split_seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    cache_dir: str | Path | None = None,
    name: str = "results",
    progress: bool = False,
) -> Evaluation:
    """Fit and score ``routers`` on one split of ``results``, once per seed.

    Parameters
    ----------
    results : ResultsMatrix, Benchmark, DataFrame or sequence of dicts
        Scores of the LLMs on the queries; long records (one per query and LLM, the columns of
        :func:`irtrouter.read_results`) are pivoted first. A Benchmark brings its catalog and splits.
    catalog : LLMCatalog or path, optional
        Prices and profiles of the LLMs (a Benchmark's own when omitted).
    split : {"id", "ood"} or (train_ids, test_ids)
        ``"id"``: a seeded per-task split (``test_size``, ``split_seed``; a Benchmark's published
        one); ``"ood"``: hold out ``ood_tasks``; or the query ids that train and those that score.
    routers : sequence of str
        Registry names or specs (``irtrouter evaluate --list-routers``). :data:`BASELINE` is
        added when missing: every router is compared with it.
    alphas : sequence of float
        Trade-off weights of the table.
    seeds : sequence of int
        Each router's ``random_state``; one run per seed.
    embedder : str or Embedder
        Embeds the queries once for every router and seed (a spec is cached on disk in ``cache_dir``).
    overrides : mapping, optional
        Parameters applied to every router that has them (shorter training:
        :func:`~irtrouter.evaluate.harness.build_router`).
    n_boot, confidence : int, float
        Bootstrap resamples and level of the interval of Reward minus the baseline's.
    name : str
        The dataset label of the rows (a Benchmark's name when it is one).
    progress : bool
        Progress bars over the seeds, the routers and the long fits (on a terminal, say).

    Examples
    --------
    >>> from irtrouter import load_catalog, read_results  # doctest: +SKIP
    >>> from irtrouter.evaluate import evaluate  # doctest: +SKIP
    >>> catalog = load_catalog("llms.json")  # doctest: +SKIP
    >>> ids = open("test_ids.txt").read().split()  # doctest: +SKIP
    >>> results = read_results("results.csv", catalog=catalog)  # doctest: +SKIP
    >>> train = [q for q in results.query_ids if q not in set(ids)]  # doctest: +SKIP
    >>> ev = evaluate(results, catalog, split=(train, ids), routers=["mirt"], seeds=range(5))  # doctest: +SKIP
    >>> ev.routing[["router", "alpha", "reward", "reward_std", "delta_low", "delta_high"]]  # doctest: +SKIP
    """
    settings = make_settings(
        results, catalog, split, test_size=test_size, ood_tasks=ood_tasks, seed=split_seed, name=name
    )
    return evaluate_settings(
        settings,
        routers=routers,
        alphas=alphas,
        seeds=seeds,
        embedder=embedder,
        overrides=overrides,
        n_boot=n_boot,
        confidence=confidence,
        cache_dir=cache_dir,
        progress=progress,
    )


def make_settings(
    results: ResultsMatrix | Benchmark | pd.DataFrame | Sequence[Mapping[str, Any]],
    catalog: LLMCatalog | str | Path | None,
    split: str | tuple[Sequence[str], Sequence[str]],
    *,
    test_size: float = 0.3,
    ood_tasks: Sequence[str] | None = None,
    seed: int = 0,
    name: str = "results",
) -> list[Setting]:
    """The :class:`Setting` of :func:`evaluate`'s arguments (one; a list for :func:`evaluate_settings`)."""
    if isinstance(catalog, (str, Path)):
        catalog = load_catalog(catalog)
    if isinstance(results, Benchmark):
        bench = results
        if isinstance(split, str):
            return benchmark_settings(bench, [_named_split(split)], ood_tasks)
        results = ResultsMatrix.concat([bench.train, bench.test], source=bench.name)
        catalog, name = catalog or bench.catalog, bench.name
    if catalog is None:
        raise ConfigError("evaluate needs the LLM catalog (prices and profiles) of the results")
    if not isinstance(results, ResultsMatrix):
        frame = results if isinstance(results, pd.DataFrame) else pd.DataFrame(list(results))
        results = results_from_frame(frame, name, catalog=catalog)
    if not isinstance(split, str):
        if len(split) != 2:
            raise ConfigError("split must be 'id', 'ood' or (train_ids, test_ids)")
        return [setting_from_ids(name, results, catalog, split[0], split[1])]
    if _named_split(split) == "ID":
        train, test = split_in_distribution(results, test_size=test_size, seed=seed)
        desc = f"seeded per-task {1 - test_size:.0%}/{test_size:.0%} split (seed {seed})"
        return [make_setting(name, "ID", train, test, catalog, desc)]
    if not ood_tasks:
        raise ConfigError(f"split 'ood' needs ood_tasks (tasks: {', '.join(results.task_names())})")
    train, test = split_out_of_distribution(results, ood_tasks)
    return [make_setting(name, "OOD", train, test, catalog, f"held-out tasks {', '.join(ood_tasks)}")]


def _named_split(split: str) -> str:
    if split.lower() not in ("id", "ood"):
        raise ConfigError(f"unknown split {split!r}; expected 'id', 'ood' or (train_ids, test_ids)")
    return split.upper()


def evaluate_settings(
    settings: Sequence[Setting],
    *,
    routers: Sequence[str] = DEFAULT_ROUTERS,
    alphas: Sequence[float] = ALPHAS,
    seeds: Sequence[int] = (0,),
    embedder: str | Embedder = "use",
    sweep: Sequence[float] = SWEEP,
    overrides: Mapping[str, Any] | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> Evaluation:
    """:func:`evaluate` for settings already made (:mod:`irtrouter.evaluate.protocol`)."""
    seeds, alphas = list(seeds), list(alphas)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, (int, np.integer)) for s in seeds):
        raise ConfigError(f"seeds must be distinct integers, at least one; got {seeds}")
    names = list(routers) + ([BASELINE] if BASELINE not in routers else [])
    emb = CachedEmbedder(make_embedder(embedder), cache_dir) if isinstance(embedder, str) else embedder
    per_seed: list[dict[str, Any]] = []
    tables: dict[str, list[dict[str, Any]]] = {t: [] for t in HARNESS_TABLES}
    routing: list[dict[str, Any]] = []
    choices: list[pd.DataFrame] = []
    for setting in settings:
        embeddings = embed_setting(setting, emb)
        runs: list[SettingResult] = []
        for seed in tqdm(seeds, desc=f"{setting.name}: seeds", disable=not progress or len(seeds) < 2):
            log.info("%s: seed %s of %s", setting.name, seed, seeds)
            changes = {**(overrides or {}), "random_state": int(seed)}
            kw: dict[str, Any] = {"alphas": alphas, "sweep": sweep, "overrides": changes, "embeddings": embeddings}
            result = run_setting(setting, names, emb, **kw, progress=progress)
            runs.append(result)
            per_seed += [{**r, "seed": seed} for r in result.rows["routing"]]
            for t in HARNESS_TABLES:
                tables[t] += [{**r, "seed": seed} for r in result.rows.get(t, [])]
            choices.append(_choices(result, names, alphas, seed))
        routing += _summary(runs, names, alphas, n_boot, confidence)
    return Evaluation(
        routing=pd.DataFrame(routing),
        per_seed=pd.DataFrame(per_seed),
        choices=pd.concat(choices, ignore_index=True) if choices else pd.DataFrame(),
        tables={t: pd.DataFrame(rows) for t, rows in tables.items()},
        settings=list(settings),
        meta={
            "routers": names,
            "alphas": list(alphas),
            "seeds": seeds,
            "embedder": getattr(emb, "name", "?"),
            "n_boot": n_boot,
            "confidence": confidence,
            "overrides": dict(overrides or {}),
        },
    )


def _summary(
    runs: Sequence[SettingResult], names: Sequence[str], alphas: Sequence[float], n_boot: int, confidence: float
) -> list[dict[str, Any]]:
    """The routing rows over the seeds of one setting (module docstring)."""
    first = runs[0]
    test = first.setting.test
    out = []
    for alpha in alphas:
        a, b = resolve_weights(alpha)
        contributions = reward_contributions(test.scores, first.costs, a, b, first.cost_scale)
        baseline = np.mean([query_rewards(contributions, r.runs[BASELINE].decisions.choose(alpha)) for r in runs], 0)
        for name in names:
            rows = [next(x for x in r.rows["routing"] if x["router"] == name and x["alpha"] == alpha) for r in runs]
            row = {
                k: rows[0][k]
                for k in (
                    "dataset",
                    "split",
                    "router",
                    "alpha",
                    "best_single_reward",
                    "best_single_llm",
                    "oracle_reward",
                    "cost_kind",
                    "n_queries",
                )
            }
            if "llm" in rows[0]:
                row["llm"] = rows[0]["llm"]
            reasons = [why for r in runs if (why := unsupported(r.runs[name].decisions, alpha)) is not None]
            rewards = np.array([x["reward"] for x in rows])
            row |= {
                "performance": float(np.mean([x["performance"] for x in rows])),
                "total_cost": float(np.mean([x["total_cost"] for x in rows])),
                "reward": float(rewards.mean()),
                "reward_std": float(rewards.std(ddof=1)) if len(rewards) > 1 else math.nan,
                "reward_min": float(rewards.min()),
                "reward_max": float(rewards.max()),
                "n_seeds": len(rows),
            }
            row["gap_closed"] = gap_closed(row["reward"], row["best_single_reward"], row["oracle_reward"], MIN_GAP)
            if reasons:
                row |= {
                    "delta": math.nan,
                    "delta_low": math.nan,
                    "delta_high": math.nan,
                    "beats_baseline": False,
                    "unsupported": reasons[0],
                }
            else:
                mine = np.mean([query_rewards(contributions, r.runs[name].decisions.choose(alpha)) for r in runs], 0)
                low, high = paired_bootstrap(mine - baseline, n_boot, confidence, random_state=0)
                row |= {
                    "delta": float((mine - baseline).sum()),
                    "delta_low": low,
                    "delta_high": high,
                    "beats_baseline": bool(low > 0),
                }
            out.append(row)
    order = {n: i for i, n in enumerate(names)}
    return sorted(out, key=lambda r: (order[r["router"]], alphas.index(r["alpha"])))


def _choices(result: SettingResult, names: Sequence[str], alphas: Sequence[float], seed: int) -> pd.DataFrame:
    """Who each test query went to, per router and alpha (the rows of ``Evaluation.choices``)."""
    test = result.setting.test
    llm_ids = np.asarray(test.llm_ids, dtype=object)
    query_ids = np.asarray(test.query_ids, dtype=object)
    parts = []
    for name in names:
        decisions = result.runs[name].decisions
        for alpha in alphas:
            if unsupported(decisions, alpha) is not None:
                continue
            routing = np.asarray(decisions.choose(alpha))
            if routing.ndim == 1:
                q, m, p = np.arange(len(routing)), routing.astype(np.int64), np.ones(len(routing))
            else:
                q, m = np.nonzero(routing > 0)
                p = routing[q, m]
            parts.append(
                pd.DataFrame(
                    {
                        "dataset": result.setting.dataset,
                        "split": result.setting.split,
                        "router": name,
                        "seed": seed,
                        "alpha": alpha,
                        "query_id": query_ids[q],
                        "llm_id": llm_ids[m],
                        "probability": p,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# -- formatting -----------------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _spread(r: Mapping[str, Any]) -> str:
    if r["reward"] is None:
        return "n/a"
    if r["n_seeds"] < 2:
        return f"{r['reward']:.2f}"
    return f"{r['reward']:.2f} ± {r['reward_std']:.2f} [{r['reward_min']:.2f}, {r['reward_max']:.2f}]"


def _interval(r: Mapping[str, Any]) -> str:
    if r["delta"] is None:
        return "n/a"
    mark = "*" if r["beats_baseline"] else ""
    return f"{r['delta']:+.2f} [{r['delta_low']:+.2f}, {r['delta_high']:+.2f}]{mark}"


__all__ = ["BASELINE", "Evaluation", "evaluate", "evaluate_settings", "make_settings"]
