"""More inputs for the stack, and a task told at route time, judged on validation only (issue 12).

The stacked ensemble (:mod:`irtrouter.routing.stacking`) reads, per LLM, the logits of the IRT
model's P and of the kNN means of 10, 50 and 200 neighbours. This adds, one at a time and both:

* **task**: each task's mean training score of the LLM, weighted by the share of the query's 10
  nearest training queries in that task (a soft task classifier);
* **task told**: the mean training score of the LLM on the query's own task, read from its label
  (what a caller who knows the task could tell the router);
* **length**: the query's log length in characters, standardised on the fitting queries (a
  per-query signal the embedding, of unit norm, barely carries; each LLM gets its own weight);
* **lexical neighbours**: the kNN means of 10, 50 and 200 neighbours found by word and trigram
  hashing (``hashing:512``) instead of the embedding: queries that share words and formats.

On ``default``'s validation carve of each setting (20% of each task, seed 0), with the 2PL as the
routing model, each stack is judged out of fold against the plain one
(:func:`~irtrouter.routing.tuning.cross_validate_stages`, guarded). Prints the per-query value
(mean over alpha 0.2 / 0.5 / 0.8), each variant's difference and its paired standard error; and
the same for **each task's best LLM**, told the task (the task oracle of the evaluation on these
queries: per task, the LLM with the best value on its fitting queries; no model, no guard). Only
training data is read.

    python benchmarks/stack_inputs.py [--settings llmrouter:ID:0 ...] [--embedder use]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from carve import default_carve, settings_and_embedder

from irtrouter.data.results import ResultsMatrix
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.registry import make_embedder
from irtrouter.irt.registry import predictor_class
from irtrouter.routing import stacking, tuning
from irtrouter.routing.index import build_index
from irtrouter.routing.neighbours import predict_near
from irtrouter.routing.rule import TradeOff
from irtrouter.routing.selection import best_single
from irtrouter.routing.tasks import TASK_K, TaskMeans
from irtrouter.routing.tuning import (
    KNN_GRID,
    SELECTION_ALPHAS,
    cross_validate_stages,
    filled_scores,
    neighbour_means,
)

SETTINGS = (
    "llmrouter:ID:0", "llmrouter:OOD:0", "routerbench_subset:ID:0", "routerdc_7llm:ID:0", "routellm:ID:0",
    "zeroeval:ID:0", "zeroeval:OOD:0",
)  # fmt: skip
# The extra inputs ride in the kNN means' dict under ks the grid does not use. The stack reads each
# as the logit of a probability kept 1/(2k) from 0 and 1: the length goes in as sigmoid(z), which
# a k of a million gives back as z.
TASK_KEY, TOLD_KEY, LENGTH_KEY = 7, 8, 10**6
LEXICAL_KEYS = {10: 11, 50: 51, 200: 201}  # the lexical means of k neighbours, kept about 1/(2k) from 0, 1
VARIANTS = {
    "length": (LENGTH_KEY,), "task": (TASK_KEY,), "task told": (TOLD_KEY,),
    "lexical neighbours": tuple(LEXICAL_KEYS.values()),
}  # fmt: skip


def main() -> None:
    settings, embedder = settings_and_embedder(__doc__, "stack_inputs.py", SETTINGS)
    names = [*VARIANTS, "each task's best LLM", "the guessed task's best LLM"]
    columns = ["setting", "stack"] + [f"{c} {name}" for name in names for c in ("with", "diff", "se")]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for spec in settings:
        plain, *variants = _values(spec, embedder)
        cells = [spec, f"{plain.mean():.5f}"]
        for value in variants:
            diff = value - plain
            cells += [f"{value.mean():.5f}", f"{diff.mean():+.5f}", f"{diff.std(ddof=1) / np.sqrt(len(diff)):.5f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


def _values(spec: str, embedder: CachedEmbedder) -> list[np.ndarray]:
    """Per validation query, the out-of-fold value of the plain stack, then of each of VARIANTS."""
    carve = default_carve(spec, embedder)
    X, fit_rows, fit, val, C_fit, C_val = carve.X, carve.fit_rows, carve.fit, carve.val, carve.C_fit, carve.C_val
    cls = predictor_class("2pl")
    model = cls(n_dims=1, random_state=0).fit(
        X[fit_rows], carve.X_llms, fit.scores, llm_ids=carve.results.llm_ids, groups=fit.tasks
    )
    index = build_index(X[fit_rows], "auto")
    p_val, _, _, near = predict_near(model, index, None, X[carve.val_rows], 0.3, 5, 5, extra_k=max(KNN_GRID))
    assert near is not None
    p_fit = model.predict_proba(X[fit_rows])
    means = neighbour_means(fit.scores, near, p_val.mean(axis=0))
    task_means = TaskMeans.fit(fit.tasks, fit.scores, np.full(fit.n_llms, 0.5))  # a task never answered: 0.5
    names, by_task = task_means.names, task_means.means
    shares = np.stack([(task_means.of_query[near[:, :TASK_K]] == i).mean(axis=1) for i in range(len(names))], axis=1)
    told = np.stack([np.asarray(val.tasks, dtype=object) == t for t in names], axis=1).astype(float)
    log_length = np.log1p([len(q) for q in carve.results.queries])
    z = (log_length - log_length[fit_rows].mean()) / log_length[fit_rows].std()
    H = encode_texts(make_embedder("hashing:512"), list(carve.results.queries))
    lexical_near = build_index(H[fit_rows], "auto").search(H[carve.val_rows], max(KNN_GRID))
    lexical = neighbour_means(fit.scores, lexical_near, p_val.mean(axis=0))
    extra = {
        **{key: lexical[k] for k, key in LEXICAL_KEYS.items()},
        TASK_KEY: shares @ by_task,
        TOLD_KEY: np.clip(told @ by_task, 1e-3, 1 - 1e-3),
        LENGTH_KEY: np.repeat(1.0 / (1.0 + np.exp(-z[carve.val_rows]))[:, None], fit.n_llms, axis=1),
    }
    values = []
    fit_stacker = stacking.fit_stacker
    try:
        for keys in ((), *VARIANTS.values()):
            # The tuning module's stack, with these inputs (its own reads STACK_KS).
            ks = (*stacking.STACK_KS, *keys)
            tuning.fit_stacker = lambda p, m, Y, ks=ks: fit_stacker(p, m, Y, ks)  # type: ignore[misc]
            cv = cross_validate_stages(
                p_val, {**means, **{k: extra[k] for k in keys}}, p_fit, fit.scores, C_fit, val.scores, C_val,
                SELECTION_ALPHAS, {}, 0, stack=True,
            )  # fmt: skip
            values.append(cv[(tuning.STACK, True)])
    finally:
        tuning.fit_stacker = fit_stacker
    guessed = [names[i] for i in task_means.guess(near)[0]]  # the neighbours' task (routing.tasks' vote)
    return [
        *values,
        _task_best(p_val, p_fit, fit, val.scores, val.tasks, C_fit, C_val),
        _task_best(p_val, p_fit, fit, val.scores, guessed, C_fit, C_val),
    ]


def _task_best(
    p_val: np.ndarray, p_fit: np.ndarray, fit: ResultsMatrix, Y_val: np.ndarray, val_tasks: Sequence[str],
    C_fit: np.ndarray, C_val: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Per validation query, the value (as :func:`~irtrouter.routing.tuning.validation_values`
    counts it) of routing it to the best LLM on the fitting queries of the task ``val_tasks`` gives
    it (a task the fit has not seen: the best single LLM)."""
    allowed = np.ones(fit.n_llms, dtype=bool)
    filled_fit = filled_scores(fit.scores, p_fit)
    filled = filled_scores(Y_val, p_val)
    fit_tasks = np.asarray(fit.tasks, dtype=object)
    total = np.zeros(len(Y_val))
    for a in SELECTION_ALPHAS:
        t = TradeOff.of(a)
        d = best_single(filled_fit.mean(axis=0), C_fit.mean(axis=0), t, allowed)
        best = {
            task: best_single(
                filled_fit[fit_tasks == task].mean(axis=0), C_fit[fit_tasks == task].mean(axis=0), t, allowed
            )
            for task in set(fit.tasks)
        }
        chosen = np.asarray([best.get(task, d) for task in val_tasks])
        base = t.alpha * filled[:, d] - t.beta * C_val[:, d]
        total += base + tuning._realised_gain(Y_val, C_val, t, chosen, d)  # validation's own count of a gain
    return total / len(SELECTION_ALPHAS)


if __name__ == "__main__":
    main()
