"""The whole evaluation in one call: every dataset, ID and OOD, every router, the ablations.

:func:`run_suite` loads each benchmark, builds its settings (:mod:`irtrouter.evaluate.protocol`),
runs every router (:func:`~irtrouter.evaluate.harness.run_setting`) and the ablations
(:mod:`irtrouter.evaluate.ablations`) and returns a :class:`~irtrouter.evaluate.report.Report`.
``irtrouter evaluate`` and ``benchmarks/evaluate.py`` are thin wrappers around it.

:meth:`SuiteConfig.quick` is the CI mode: seeded subsets of every split, the hashing embedder and
short training, so the whole pipeline runs in about a minute and its invariants can be tested.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from irtrouter.data.benchmarks import default_data_root, load_benchmark
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import ConfigError
from irtrouter.evaluate.ablations import (
    DIMENSIONS,
    EMBEDDERS,
    WARMUP_LAMBDAS,
    dimension_ablation,
    embedder_ablation,
    relevance_ablation,
    warmup_ablation,
)
from irtrouter.evaluate.harness import ALPHAS, DEFAULT_ROUTERS, SWEEP, run_setting
from irtrouter.evaluate.protocol import Setting, benchmark_settings, subsample
from irtrouter.evaluate.report import Report

log = logging.getLogger(__name__)

DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm", "zeroeval")
# ZeroEval's settings hold 27 and 48 LLMs: the CI mode leaves it out to stay at about a minute.
QUICK_DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm")
ABLATIONS = ("warmup_lambda", "n_dims", "embedder", "relevance")


@dataclass(frozen=True)
class SuiteConfig:
    """What to evaluate and how (every field has the full run's default).

    ``ablation_datasets`` limits the ablations that retrain (N, embedder, relevance) to some
    datasets (None: all); ``ablation_splits`` to some splits; ``embedder_ablation_datasets``
    further limits the embedder ablation, which trains on ``embedder_ablation_train`` training
    queries (None: all). The warm-up ablation reuses the main run's routers and runs everywhere.
    """

    datasets: Sequence[str] = DATASETS
    root: str | Path | None = None
    routers: Sequence[str] = DEFAULT_ROUTERS
    splits: Sequence[str] = ("ID", "OOD")
    embedder: str = "use"
    alphas: Sequence[float] = ALPHAS
    sweep: Sequence[float] = SWEEP
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    ablations: Sequence[str] = ABLATIONS
    ablation_datasets: Sequence[str] | None = None
    ablation_splits: Sequence[str] = ("ID",)
    embedder_ablation_datasets: Sequence[str] | None = None
    embedder_ablation_train: int | None = None
    lambdas: Sequence[float] = WARMUP_LAMBDAS
    dims: Sequence[int] = DIMENSIONS
    embedders: Sequence[str] = EMBEDDERS
    cache_dir: str | Path | None = None
    progress: bool = False  # bars over the routers and the long fits

    @classmethod
    def quick(cls, **changes: Any) -> SuiteConfig:
        """The CI configuration: :data:`QUICK_DATASETS`, 300 train / 150 test queries per split, hashing
        embedder, short training."""
        base = cls(
            datasets=QUICK_DATASETS,
            n_train=300,
            n_test=150,
            embedder="hashing",
            overrides={"max_epochs": 15, "max_iter": 40, "predictor_params": {"max_epochs": 15}},
            dims=(5, 25),
            embedders=("hashing", "hashing:64"),
            sweep=tuple(round(0.2 * i, 1) for i in range(6)),
        )
        return replace(base, **changes)

    def validate(self) -> None:
        unknown = set(self.ablations) - set(ABLATIONS)
        if unknown:
            raise ConfigError(f"unknown ablation(s) {sorted(unknown)}; known: {', '.join(ABLATIONS)}")
        bad_splits = set(self.splits) - {"ID", "OOD"}
        if bad_splits:
            raise ConfigError(f"unknown split(s) {sorted(bad_splits)}; expected ID and/or OOD")


def run_suite(config: SuiteConfig = SuiteConfig()) -> Report:
    """Evaluate every dataset of ``config`` (benchmarks read from ``config.root`` or the shared data).

    Examples
    --------
    >>> report = run_suite(SuiteConfig.quick(datasets=["routerbench_subset"]))  # doctest: +SKIP
    >>> print(report.markdown())  # doctest: +SKIP
    """
    config.validate()
    root = Path(config.root) if config.root is not None else default_data_root()
    settings: list[Setting] = []
    for name in config.datasets:
        bench = load_benchmark(name, root / name, seed=config.seed)
        settings += benchmark_settings(bench, config.splits)
    return run_settings(settings, config)


def run_settings(settings: Sequence[Setting], config: SuiteConfig) -> Report:
    """Evaluate given settings (e.g. from a user's results file) with ``config``'s routers and ablations."""
    config.validate()
    embedder = CachedEmbedder(make_embedder(config.embedder), config.cache_dir)
    report = Report(
        meta={
            "routers": list(config.routers),
            "embedder": config.embedder,
            "alphas": list(config.alphas),
            "seed": config.seed,
            "quick": config.n_train is not None or config.n_test is not None,
            "overrides": config.overrides,
            "timings": [],
        }
    )
    for full in settings:
        setting = subsample(full, config.n_train, config.n_test, config.seed)
        started = time.perf_counter()
        result = run_setting(
            setting,
            config.routers,
            embedder,
            alphas=config.alphas,
            sweep=config.sweep,
            overrides=config.overrides,
            progress=config.progress,
        )
        report.add(result)
        if "warmup_lambda" in config.ablations:
            report.add_rows("ablations", warmup_ablation(result, config.lambdas, alphas=config.alphas))
        costly = (config.ablation_datasets is None or setting.dataset in config.ablation_datasets) and (
            setting.split in config.ablation_splits
        )
        if costly and "n_dims" in config.ablations:
            report.add_rows(
                "ablations", dimension_ablation(result, embedder, config.dims, config.alphas, config.overrides)
            )
        embedder_here = (
            config.embedder_ablation_datasets is None or setting.dataset in config.embedder_ablation_datasets
        )
        if costly and embedder_here and "embedder" in config.ablations:
            report.add_rows(
                "ablations",
                embedder_ablation(
                    result,
                    config.embedders,
                    config.embedder,
                    config.alphas,
                    config.overrides,
                    config.embedder_ablation_train,
                    config.seed,
                    config.cache_dir,
                ),
            )
        if costly and "relevance" in config.ablations:
            report.add_rows("ablations", relevance_ablation(result, embedder, config.alphas, config.overrides))
        seconds = time.perf_counter() - started
        report.meta["timings"].append(
            {
                "setting": setting.name,
                "seconds": round(seconds, 1),
                "fit_seconds": {n: round(r.fit_seconds, 2) for n, r in result.runs.items()},
            }
        )
        log.info("%s done in %.0fs", setting.name, seconds)
    return report
