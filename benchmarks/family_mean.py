"""Would the mean of MIRT's and the 2PL's P route better than either family? Validation only.

``default`` fits both families on the same 80% of the training split and judges each out of fold
on the other 20% (:func:`irtrouter.routing.tuning.cross_validate_stages`, every configuration
guarded). This script records those two calls while ``default`` fits, then makes a third with the
mean of the two families' P (on the validation and the training queries, and the prior of the
neighbour means; no model is fitted again). It prints each family's judged value (its best
configuration without the stack, as ``default`` judges families), the mean's, and the paired
difference of the mean to the better family with its standard error; then the best value with the
stack allowed. No test query is read.

    python benchmarks/family_mean.py [dataset:split:seed ...]
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import irtrouter.routing.router as router_module
from irtrouter.evaluate.suite import DATASETS
from irtrouter.routing.tuning import STACK

SETTINGS = [f"{dataset}:{split}:0" for dataset in DATASETS for split in ("ID", "OOD")]
HEADER = (
    "| setting | chosen | mirt | 2pl | mean of both | mean - better family | se "
    "| with the stack: better family | mean of both |"
)


def judged(cv: dict[tuple[str, bool], np.ndarray], stack: bool) -> np.ndarray:
    """Per-query values of the best guarded configuration (with or without the stack)."""
    guarded = {key: v for key, v in cv.items() if key[1] and (stack or key[0] != STACK)}
    return guarded[max(guarded, key=lambda key: float(guarded[key].mean()))]


def main(settings: list[str]) -> None:
    from irtrouter.embed.cache import CachedEmbedder
    from irtrouter.embed.registry import make_embedder
    from irtrouter.evaluate.harness import embed_setting
    from irtrouter.evaluate.protocol import named_setting
    from irtrouter.evaluate.routers.contract import TrainingData
    from irtrouter.evaluate.routers.registry import make_router

    cross_validate = router_module.cross_validate_stages
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return cross_validate(*args, **kwargs)

    router_module.cross_validate_stages = recorded  # type: ignore[assignment]
    embedder = CachedEmbedder(make_embedder("use"))
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in settings:
        setting = named_setting(spec)
        X_train, _ = embed_setting(setting, embedder)
        calls.clear()
        router = make_router("default")
        router.fit(TrainingData(setting.train, setting.catalog, X_train, embedder))
        (mirt, kw), (twopl, _) = calls  # p_val, neighbour means, p_fit, then what both share
        means = None if mirt[1] is None else {k: 0.5 * (mirt[1][k] + twopl[1][k]) for k in mirt[1]}
        mean_args = (0.5 * (mirt[0] + twopl[0]), means, 0.5 * (mirt[2] + twopl[2]), *mirt[3:])
        cvs = {"mirt": cross_validate(*mirt, **kw), "2pl": cross_validate(*twopl, **kw)}
        cvs["mean"] = cross_validate(*mean_args, **kw)
        plain = {name: judged(cv, stack=False) for name, cv in cvs.items()}
        stacked = {name: float(judged(cv, stack=True).mean()) for name, cv in cvs.items()}
        better = max(("mirt", "2pl"), key=lambda name: float(plain[name].mean()))
        diff = plain["mean"] - plain[better]
        se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        chosen = router.router_.training_["selection"]["chosen"]
        cells = [f"{float(plain[n].mean()):.4f}" for n in ("mirt", "2pl", "mean")]
        cells += [f"{float(diff.mean()):+.4f}", f"{se:.4f}", f"{max(stacked['mirt'], stacked['2pl']):.4f}"]
        print(f"| {spec} | {chosen} | " + " | ".join(cells) + f" | {stacked['mean']:.4f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or SETTINGS)
