"""The novelty gate with a threshold from leave-one-task-out familiarity (a variant, not kept).

``default``'s gate (:mod:`irtrouter.routing.familiarity`) routes a query by the model alone when
it is less familiar than 99% of the validation queries. Those are all from the training tasks. A
query of a *new* task can be simulated from training data alone: a validation query of task T
against the fit part without T. This variant takes the familiarity where the two distributions
cross: the share of validation queries below it equals the share of left-out-task queries above
it. It keeps the 1% quantile where that is higher, and where the validation part has fewer than
two tasks. Nothing else changes; no test query is read to set it.

    python benchmarks/gate_new_task.py --diagnose [dataset:split:seed ...]
        the two distributions, the crossing, and the share of the test queries each rule would gate
    python benchmarks/gate_new_task.py PAYS_ARGS...
        benchmarks/pays.py with the variant as ``default``, e.g. ``--seeds 0 --datasets llmrouter
        --routers default --reuse runs/pays/s14_head_fixed.json --json runs/pays/s14_newtask.json``
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter.data.splits import validation_rows
from irtrouter.evaluate.suite import DATASETS
from irtrouter.routing.familiarity import FAMILIAR_K, Familiarity, familiarity
from irtrouter.routing.index import build_index
from irtrouter.routing.router import IRTRouter

SETTINGS = [f"{dataset}:{split}:0" for dataset in DATASETS for split in ("ID", "OOD")]


def exact_familiarity(X: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Familiarity of each row of ``X`` to the rows of ``E``, as the gate measures it."""
    return familiarity(X, E, build_index(E, "exact").search(X, FAMILIAR_K))


def new_task_familiarity(results: Any, X: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation queries against the fit part, each against the fit part without its task)."""
    fit, val = validation_rows(results, fraction, seed)
    tasks = np.asarray(results.tasks)
    in_task = exact_familiarity(X[val], X[fit])
    left_out = [
        exact_familiarity(X[val][tasks[val] == t], X[fit][tasks[fit] != t])
        for t in sorted(set(tasks[val]))
        if (tasks[fit] != t).any()
    ]
    return in_task, np.concatenate(left_out) if len(left_out) >= 2 else np.zeros(0)


def crossing(in_task: np.ndarray, left_out: np.ndarray) -> float:
    """The familiarity where the share of ``in_task`` below equals the share of ``left_out`` above."""
    grid = np.unique(np.concatenate([in_task, left_out]))
    below = np.searchsorted(np.sort(in_task), grid, side="left") / len(in_task)
    above = 1.0 - np.searchsorted(np.sort(left_out), grid, side="left") / len(left_out)
    return float(grid[int(np.argmin(np.abs(below - above)))])


class NewTaskGateRouter(IRTRouter):
    """``IRTRouter`` whose gate threshold is the crossing (module docstring)."""

    def _validate(self, results: Any, X: np.ndarray, X_llms: np.ndarray, dims: Any, progress: bool) -> Any:
        out = super()._validate(results, X, X_llms, dims, progress)
        if self.familiarity_ is not None:
            in_task, left_out = new_task_familiarity(results, X, self.validation_fraction, self.random_state)
            if len(left_out):
                threshold = max(crossing(in_task, left_out), self.familiarity_.threshold)
                record = {**self.familiarity_.validation, "rule": "new-task crossing"}
                self.familiarity_ = Familiarity(threshold=threshold, validation=record)
        return out


def diagnose(settings: list[str]) -> None:
    from irtrouter.embed.cache import CachedEmbedder
    from irtrouter.embed.registry import make_embedder
    from irtrouter.evaluate.harness import embed_setting
    from irtrouter.evaluate.protocol import named_setting

    def q(values: np.ndarray) -> str:
        return " / ".join(f"{v:.2f}" for v in np.quantile(values, [0.1, 0.5, 0.9]))

    embedder = CachedEmbedder(make_embedder("use"))
    print(
        "| setting | tasks | validation q10 / median / q90 | left-out task q10 / median / q90 "
        "| 1% quantile: test gated | crossing: validation below | test gated |"
    )
    print("|---|---|---|---|---|---|---|")
    for spec in settings:
        setting = named_setting(spec)
        X_train, X_test = embed_setting(setting, embedder)
        in_task, left_out = new_task_familiarity(setting.train, X_train, 0.2, 0)
        fit, _ = validation_rows(setting.train, 0.2, 0)
        test = exact_familiarity(X_test, X_train[fit])
        low = float(np.quantile(in_task, 0.01))
        cells = [spec, str(len(set(setting.train.tasks))), q(in_task), q(left_out) if len(left_out) else "-"]
        cells.append(f"{low:.2f}: {(test < low).mean():.0%}")
        if len(left_out):
            cut = max(crossing(in_task, left_out), low)
            cells += [f"{cut:.2f}: {(in_task < cut).mean():.0%}", f"{(test < cut).mean():.0%}"]
        else:
            cells += ["-", "-"]
        print("| " + " | ".join(cells) + " |", flush=True)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--diagnose"]:
        diagnose(argv[1:] or SETTINGS)
        return
    import irtrouter.evaluate.routers.irt as adapter

    adapter.IRTRouter = NewTaskGateRouter  # type: ignore[misc]
    sys.path.insert(0, str(Path(__file__).parent))
    from pays import main as pays_main

    pays_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
