"""The 2PL's start: random (the default) against ``init="data"`` at several ridge strengths.

For each setting (dataset, split, seed of the protocol) the 2PL is fitted as ``default`` fits its
candidates: on the training split less the router's validation carve
(:func:`irtrouter.data.splits.validation_rows`, 20%, seed 0), with the tasks as groups. Printed:
epochs run (the best one in brackets), fit seconds and the BCE on that validation carve, training
data only (no test query is read).

    python benchmarks/twopl_init.py [--settings routellm:OOD:1 zeroeval:OOD:0 ...] [--ridges 0.003 0.01]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

# routellm OOD on seed 1: fit_time.py's setting, where the random start trains longest.
SETTINGS = (
    *(f"{dataset}:{split}:0" for dataset in ("llmrouter", "routerbench_subset") for split in ("ID", "OOD")),
    "routerdc_7llm:ID:0",
    "routellm:ID:0",
    "routellm:OOD:1",
    "zeroeval:ID:0",
    "zeroeval:OOD:0",
)


def bce(p: np.ndarray, y: np.ndarray) -> float:
    observed = ~np.isnan(y)
    p, y = np.clip(p[observed], 1e-6, 1 - 1e-6), y[observed]
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help="dataset:split:seed")
    parser.add_argument("--ridges", type=float, nargs="+", default=[0.003, 0.01, 0.03, 0.1])
    args = parser.parse_args()

    from irtrouter.data.splits import validation_rows
    from irtrouter.embed.cache import CachedEmbedder
    from irtrouter.embed.registry import make_embedder
    from irtrouter.evaluate.harness import embed_setting
    from irtrouter.evaluate.protocol import named_setting
    from irtrouter.irt import twopl

    rng = np.random.default_rng(0)  # one untimed fit: a process's first fit pays one-off costs
    twopl.TwoPLPredictor(max_epochs=2).fit(rng.normal(size=(64, 8)), np.eye(3), (rng.random((64, 3)) < 0.5) * 1.0)
    print(f"{platform.machine()}, {platform.python_version()}")
    print("| setting | start | ridge | epochs (best) | fit s | validation BCE |")
    print("|---|---|---|---|---|---|")
    embedder = CachedEmbedder(make_embedder("use"))
    for spec in args.settings:
        setting = named_setting(spec)
        X, _ = embed_setting(setting, embedder)
        train = setting.train
        fit_rows, val_rows = validation_rows(train, 0.2, 0)
        Y, identities = train.scores, np.eye(train.n_llms, dtype=np.float32)
        groups = [train.tasks[i] for i in fit_rows]
        for start, ridge in [("random", None), *(("data", r) for r in args.ridges)]:
            if ridge is not None:
                twopl.INIT_RIDGE = ridge
            began = time.perf_counter()
            model = twopl.TwoPLPredictor(init=start).fit(X[fit_rows], identities, Y[fit_rows], groups=groups)
            seconds = time.perf_counter() - began
            loss = bce(model.predict_proba(X[val_rows]), Y[val_rows])
            epochs = f"{len(model.history_)} ({model.best_epoch_})"
            print(f"| {spec} | {start} | {ridge or '-'} | {epochs} | {seconds:.2f} | {loss:.5f} |", flush=True)


if __name__ == "__main__":
    main()
