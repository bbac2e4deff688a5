"""The guard's spread: the Beta heuristic against ensembles' standard deviations (issue 12, item 3).

The guard leaves the best single LLM only when a query's predicted gain beats a margin plus ``z``
times the gain's spread (:mod:`irtrouter.routing.selection`). ``default`` takes the spread from
P alone (a Beta posterior of fixed strength). This benchmark asks whether an ensemble that knows
how sure it is would do better: on each setting's training split it carves the validation queries
as ``default`` does (20% of each task), fits MIRT and RADAR's 2PL on the rest and, for each as the
routing model, judges ``default``'s stage configurations out of fold
(:func:`~irtrouter.routing.tuning.cross_validate_stages`, guarded) with four spreads:

* ``beta``: ``default``'s;
* ``models``: the standard deviation of the two fits' P (two seeds of the family would be two more
  fits; the two families are already fitted);
* ``irt-knn``: the routing model's P against the mean score of its 50 nearest training queries;
* ``all5``: both fits and the kNN means at 10, 50 and 200 neighbours;
* ``abilities``: the routing model's posterior over the abilities (the Laplace approximation from
  each LLM's own answers on the fitting queries, :func:`~irtrouter.irt.items.ability_posterior`),
  carried to P by the delta method (:func:`~irtrouter.irt.items.p_standard_deviation`).

The guard's multiples ``z`` of an ensemble's standard deviation are tuned on ``SD_MULTIPLES``.
Only training data is read: nothing here touches a test split. Prints the out-of-fold value per
query (the mean over alpha 0.2 / 0.5 / 0.8 of ``alpha * score - beta * C``) of each configuration.

    python benchmarks/guard_spread.py [--settings llmrouter:ID:0 routerbench_subset:OOD:0 ...]
"""

from __future__ import annotations

import time

import numpy as np
from carve import default_carve, settings_and_embedder

from irtrouter.embed.cache import CachedEmbedder
from irtrouter.irt.calibration import CALIBRATION_METHODS, fit_calibrator
from irtrouter.irt.items import ability_posterior, p_standard_deviation
from irtrouter.irt.registry import predictor_class
from irtrouter.routing.index import build_index
from irtrouter.routing.neighbours import predict_near
from irtrouter.routing.tuning import KNN_GRID, SELECTION_ALPHAS, cross_validate_stages, neighbour_means

SETTINGS = (
    "llmrouter:ID:0", "llmrouter:OOD:0", "routerbench_subset:ID:0", "routerbench_subset:OOD:0",
    "routerdc_7llm:ID:0", "routellm:ID:0", "zeroeval:ID:0", "zeroeval:OOD:0",
)  # fmt: skip
FAMILIES = ("mirt", "2pl")


def main() -> None:
    settings, embedder = settings_and_embedder(__doc__, "guard_spread.py", SETTINGS)
    started = time.perf_counter()
    print("| setting | routing model | spread | none | calibrated | stack | best |")
    print("|---|---|---|---|---|---|---|")
    for spec in settings:
        for family, spread, values in _setting_rows(spec, embedder):
            best = max(values.values())
            cells = " | ".join(f"{v:.5f}" for v in values.values())
            print(f"| {spec} | {family} | {spread} | {cells} | {best:.5f} |", flush=True)
    print(f"\n{(time.perf_counter() - started) / 60:.1f} minutes")


def _setting_rows(spec: str, embedder: CachedEmbedder) -> list[tuple[str, str, dict[str, float]]]:
    carve = default_carve(spec, embedder)
    results, X, X_llms, fit_rows, val_rows = carve.results, carve.X, carve.X_llms, carve.fit_rows, carve.val_rows
    fit, val, C_fit, C_val = carve.fit, carve.val, carve.C_fit, carve.C_val
    index = build_index(X[fit_rows], "auto")
    p_val, p_fit, from_abilities = {}, {}, {}
    for family in FAMILIES:
        cls = predictor_class(family)
        model = cls(n_dims=cls.resolve_n_dims(None), random_state=0)
        model.fit(X[fit_rows], X_llms, fit.scores, llm_ids=results.llm_ids, groups=fit.tasks)
        p_val[family], features, _, near = predict_near(
            model, index, None, X[val_rows], 0.3, 5, 5, extra_k=max(KNN_GRID)
        )  # fmt: skip
        p_fit[family] = model.predict_proba(X[fit_rows])
        posterior = ability_posterior(model, X[fit_rows], fit.scores)
        from_abilities[family] = p_standard_deviation(model, features, posterior)
        se = np.sqrt(np.diagonal(np.linalg.inv(posterior), axis1=1, axis2=2)).max(axis=1)
        sd = from_abilities[family]
        print(
            f"<!-- {spec} {family}: ability standard error per LLM min {se.min():.4f} median {np.median(se):.4f} "
            f"max {se.max():.4f}; sd of P from it: median {np.median(sd):.4f}, q99 {np.quantile(sd, 0.99):.4f} -->"
        )
    assert near is not None

    def calibrate(p: np.ndarray, Y: np.ndarray) -> object:
        return fit_calibrator(p, Y, results.llm_ids, CALIBRATION_METHODS, 0)

    rows = []
    for family in FAMILIES:
        means = neighbour_means(fit.scores, near, p_val[family].mean(axis=0))
        members = [p_val["mirt"], p_val["2pl"], means[10], means[50], means[200]]
        spreads = {
            "beta": None,
            "models": np.std([p_val["mirt"], p_val["2pl"]], axis=0, ddof=1),
            "irt-knn": np.std([p_val[family], means[50]], axis=0, ddof=1),
            "all5": np.std(members, axis=0, ddof=1),
            "abilities": from_abilities[family],
        }
        for name, sd in spreads.items():
            cv = cross_validate_stages(
                p_val[family], means, p_fit[family], fit.scores, C_fit, val.scores, C_val, SELECTION_ALPHAS,
                {"none": None, "auto": calibrate}, 0, stack=True, sd=sd,
            )  # fmt: skip
            rows.append((family, name, {c: float(v.mean()) for (c, guarded), v in cv.items() if guarded}))
    return rows


if __name__ == "__main__":
    main()
