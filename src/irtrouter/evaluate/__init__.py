"""Evaluation: every router trained and scored the same way, as in the IRT-Router paper.

``protocol`` (which queries train and which score: ID and OOD settings, IRT-Router section 5.1),
``routers/`` (the contenders as the harness sees them, and their registry), ``harness`` (train every
router of a setting, score it on its test split), ``metrics`` (Performance, Total Cost, Reward),
``prediction`` (AUC / ACC / RMSE / MAE of predicted P), ``curves`` (hypervolume, CPT, AIQ, APGR),
``ablations`` (the paper's ablations), ``suite`` (every dataset in one call), ``report`` (tables)
and ``plots`` (figures). Nothing tuned here ever reads a test split.

:func:`evaluate` (from :mod:`~irtrouter.evaluate.api`) is the public entry point: your results,
your split, every router, mean and spread over seeds. It loads on first use, so importing this
package imports neither torch nor pandas.

Examples
--------
>>> from irtrouter.evaluate import evaluate  # doctest: +SKIP
>>> evaluate(results, catalog, split=(train_ids, test_ids), routers=["knn-tuned", "mirt"]).routing  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "evaluate": "irtrouter.evaluate.api",
    "evaluate_settings": "irtrouter.evaluate.api",
    "Evaluation": "irtrouter.evaluate.api",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'irtrouter.evaluate' has no attribute {name!r}")
