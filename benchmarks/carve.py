"""What the validation-only benchmarks share: the settings argument and ``default``'s carve.

``guard_spread.py`` and ``stack_inputs.py`` judge stages on ``default``'s validation queries (20%
of each task of a setting's training split, seed 0), and ``task_signal.py`` prints the same kind of
header; this module holds those few lines once.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irtrouter.data.results import ResultsMatrix
from irtrouter.data.splits import validation_rows
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.protocol import named_setting
from irtrouter.routing.cost import make_cost_model


def settings_and_embedder(doc: str | None, script: str, defaults: Sequence[str]) -> tuple[list[str], CachedEmbedder]:
    """Parse ``--settings`` (dataset:split:seed) and ``--embedder`` (default USE), print the command
    and the machine; the settings and the cached embedder."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(defaults), help="dataset:split:seed")
    parser.add_argument("--embedder", default="use", help="embedder spec (use, e5, ...)")
    args = parser.parse_args()
    print(f"python benchmarks/{script} --settings {' '.join(args.settings)} --embedder {args.embedder}")
    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}\n")
    return args.settings, CachedEmbedder(make_embedder(args.embedder))


@dataclass(frozen=True)
class Carve:
    """A setting's training split, embedded, cut as ``default`` cuts it, with normalised costs."""

    results: ResultsMatrix
    X: np.ndarray
    X_llms: np.ndarray
    fit_rows: np.ndarray
    val_rows: np.ndarray
    fit: ResultsMatrix
    val: ResultsMatrix
    C_fit: np.ndarray
    C_val: np.ndarray


def default_carve(spec: str, embedder: CachedEmbedder) -> Carve:
    setting = named_setting(spec)
    results = setting.train
    X = embedder.encode(results.queries)
    X_llms = embedder.encode([setting.catalog[m].profile_text for m in results.llm_ids])
    fit_rows, val_rows = validation_rows(results, 0.2, 0)  # default's carve
    fit, val = results.take(fit_rows), results.take(val_rows)
    costs = make_cost_model("auto", results).fit(results, setting.catalog.subset(results.llm_ids))
    return Carve(
        results, X, X_llms, fit_rows, val_rows, fit, val, costs.normalised(fit.queries), costs.normalised(val.queries)
    )
