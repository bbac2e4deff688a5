"""Calibration of P before and after (issue 12): ECE, Brier and log-loss on every test split.

For each dataset and setting (ID, OOD) of the evaluation protocol, MIRT-Router is trained twice
on the train split with the same seed: plain, and with ``calibration="auto"`` (per-LLM Platt or
isotonic maps fitted on validation queries carved from train). Both are scored on the test
split's observed cells; the calibration never sees them.

A second table does the same for ``default`` (``predictor="auto"``, what ``irtrouter train``
builds): its model's own P (with the warm-up) before, the P it routes by after (the stacked
ensemble, or the kNN blend calibrated or not, whichever won out of fold; the configuration kept is
named).

    python benchmarks/calibration.py [--datasets ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import numpy as np

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.embed.cache import CachedEmbedder
from irtrouter.embed.registry import make_embedder
from irtrouter.evaluate.protocol import benchmark_settings
from irtrouter.evaluate.suite import DATASETS
from irtrouter.irt.calibration import reliability
from irtrouter.routing import IRTRouter
from irtrouter.routing.neighbours import predict_near


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    embedder = CachedEmbedder(make_embedder("use"))
    started = time.perf_counter()
    print(f"python benchmarks/calibration.py --datasets {' '.join(args.datasets)} --seed {args.seed}")
    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}\n")
    print(
        "| setting | test cells | ECE before / after | Brier before / after | log-loss before / after | maps chosen |"
    )
    print("|---|---|---|---|---|---|")
    default_rows = []
    for name in args.datasets:
        bench = load_benchmark(name, default_data_root() / name, seed=args.seed)
        for setting in benchmark_settings(bench, ("ID", "OOD")):
            X_train = embedder.encode(setting.train.queries)
            X_test = embedder.encode(setting.test.queries)
            out = {}
            for calibration in ("none", "auto"):
                router = IRTRouter(predictor="mirt", calibration=calibration, random_state=args.seed)
                router.fit(
                    setting.train, setting.catalog, embedder=embedder.inner, use_cache=False, query_embeddings=X_train
                )
                test = setting.test.select_llms(router.llm_ids)
                out[calibration] = (
                    router,
                    reliability(router.predict_embedded(X_test, test.queries).p_hat, test.scores),
                )
            maps = [m.method for m in out["auto"][0].calibrator_.maps]  # type: ignore[union-attr]
            counts = ", ".join(f"{m} {maps.count(m)}" for m in ("identity", "platt", "isotonic") if maps.count(m))
            b, a = out["none"][1], out["auto"][1]
            n = int((~np.isnan(setting.test.select_llms(out["none"][0].llm_ids).scores)).sum())
            print(
                f"| {setting.name} | {n} | {b['ece']:.4f} / {a['ece']:.4f} | {b['brier']:.4f} / {a['brier']:.4f} | "
                f"{b['log_loss']:.4f} / {a['log_loss']:.4f} | {counts} |",
                flush=True,
            )
            default_rows.append(_default_row(setting, embedder, X_train, X_test, args.seed))
    print("\n`default`: its model's own P / the P it routes by\n")
    print(
        "| setting | family and configuration kept | ECE before / after | Brier before / after "
        "| log-loss before / after |"
    )
    print("|---|---|---|---|---|")
    for row in default_rows:
        print(row)
    print(f"\n{(time.perf_counter() - started) / 60:.1f} minutes")


def _default_row(setting: Any, embedder: Any, X_train: np.ndarray, X_test: np.ndarray, seed: int) -> str:
    router = IRTRouter(predictor="auto", random_state=seed)
    router.fit(setting.train, setting.catalog, embedder=embedder.inner, use_cache=False, query_embeddings=X_train)
    test = setting.test.select_llms(router.llm_ids)
    raw = predict_near(
        router.predictor_, router.neighbours_, router.train_relevance_, X_test, router.warmup_lambda_,
        router.warmup_k_, router.relevance_k,
    )[0]  # fmt: skip
    b = reliability(raw, test.scores)
    a = reliability(router.predict_embedded(X_test, test.queries).p_hat, test.scores)
    (kept,) = [r for r in router.training_["selection"]["cross_validation"]["table"] if r["kept"]]
    return (
        f"| {setting.name} | {kept['candidate']}, {kept['calibration']} | {b['ece']:.4f} / {a['ece']:.4f} | "
        f"{b['brier']:.4f} / {a['brier']:.4f} | {b['log_loss']:.4f} / {a['log_loss']:.4f} |"
    )


if __name__ == "__main__":
    main()
