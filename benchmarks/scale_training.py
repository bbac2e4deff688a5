"""Issue 15 (c): training on a very large interaction log, aggregated and streamed.

A synthetic log of N interactions: Q queries x L LLMs, each cell observed R times (N = Q L R),
scores drawn from a known MIRT-like model, written to Parquet in row groups. Each step runs in a
fresh subprocess so its peak memory (``ru_maxrss``) is its own:

* ``read whole``: what loading the log as one table costs (``pandas.read_parquet``), the baseline
  that aggregation avoids;
* ``aggregate``: :func:`irtrouter.data.aggregate.aggregate_log` in batches of 1M rows (sums and
  counts per cell only);
* ``train aggregated``: MIRT on the Q x L matrix of cell means with ``weights=counts`` (the same
  BCE as the raw log), a fixed number of epochs on synthetic 64-d query embeddings;
* ``train raw``: the same fit on the log as it is, one row per repetition (Q R query rows),
  which is what training without aggregation means; its epoch time grows with R.

The embeddings are synthetic (the point is the IRT fit and memory, not an encoder).

    python benchmarks/scale_training.py [--sizes 1000000,10000000] [--epochs 3] [--batch-rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LLMS = 10
DIM = 64
SHAPES = {1_000_000: (20_000, 5), 10_000_000: (100_000, 10)}  # N: (distinct queries, repeats per cell)


def embeddings(n_queries: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n_queries, DIM)).astype(np.float32)


def write_log(path: Path, n_queries: int, repeats: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    X = embeddings(n_queries)
    theta = rng.normal(size=(LLMS, 4))
    A = rng.normal(size=(DIM, 4)) / np.sqrt(DIM)
    p = 1 / (1 + np.exp(-(X @ A) @ theta.T))  # (Q, L): the probability each cell is answered well
    llm_ids = np.array([f"llm-{j}" for j in range(LLMS)])
    texts = np.array([f"synthetic query {i}" for i in range(n_queries)])
    schema = pa.schema(
        [("query_id", pa.string()), ("query", pa.string()), ("llm_id", pa.string()), ("score", pa.float32())]
    )
    with pq.ParquetWriter(path, schema) as out:
        step = max(1, 1_000_000 // (LLMS * repeats))
        for start in range(0, n_queries, step):
            q = np.repeat(np.arange(start, min(start + step, n_queries)), LLMS * repeats)
            m = np.tile(np.repeat(np.arange(LLMS), repeats), len(q) // (LLMS * repeats))
            score = (rng.random(len(q)) < p[q, m]).astype(np.float32)
            out.write_table(
                pa.table({"query_id": texts[q], "query": texts[q], "llm_id": llm_ids[m], "score": score}, schema)
            )


def step(name: str, log: str, epochs: int, batch_rows: int) -> dict[str, float]:
    """One measured step, in this (fresh) process."""
    started = time.perf_counter()
    out: dict[str, float] = {}
    if name == "read whole":
        import pandas as pd

        out["rows"] = len(pd.read_parquet(log))
    else:
        from irtrouter.data.aggregate import aggregate_log
        from irtrouter.irt.mirt import MIRTPredictor

        agg = aggregate_log(log, batch_rows=batch_rows)
        out["rows"] = agg.rows
        out["cells"] = int((agg.counts > 0).sum())
        if name == "aggregate":
            pass
        else:
            # Query order of the log is its id order ("synthetic query i" first seen in order i).
            X = embeddings(agg.results.n_queries)
            X_llms = np.eye(LLMS, dtype=np.float32)
            Y, weights = agg.results.scores, agg.counts.astype(np.float32)
            if name == "train raw":  # one row per repetition: the log without aggregation
                repeats = int(agg.counts.max())
                X, Y, weights = np.repeat(X, repeats, axis=0), np.repeat(Y, repeats, axis=0), None
            del agg
            model = MIRTPredictor(n_dims=8, max_epochs=epochs, patience=epochs + 1, validation_fraction=0.0)
            model.fit(X, X_llms, Y, weights=weights)
            out["fit_s"] = model.train_seconds_  # the training loop alone (not importing torch)
            out["epochs"] = len(model.history_)
            out["train_rows"] = len(X)
    out["seconds"] = time.perf_counter() - started
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=1_000_000, help="rows per batch read by aggregate_log")
    parser.add_argument("--no-raw", action="store_true", help="skip training on the raw (unaggregated) log")
    parser.add_argument("--step", nargs=2, metavar=("NAME", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step[0], args.step[1], args.epochs, args.batch_rows)))
        return
    work = Path(tempfile.mkdtemp(prefix="scale-training-"))
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    table = []
    for n in (int(s) for s in args.sizes.split(",")):
        n_queries, repeats = SHAPES[n]
        log = work / f"log-{n}.parquet"
        started = time.perf_counter()
        write_log(log, n_queries, repeats)
        print(f"{n:,} interactions ({n_queries:,} queries x {LLMS} LLMs x {repeats}): written in "
              f"{time.perf_counter() - started:.0f} s, {log.stat().st_size / 2**20:.0f} MiB", flush=True)  # fmt: skip
        steps = ["read whole", "aggregate", "train aggregated"] + ([] if args.no_raw else ["train raw"])
        for name in steps:
            cmd = [sys.executable, __file__, "--epochs", str(args.epochs), "--batch-rows", str(args.batch_rows)]
            cmd += ["--step", name, str(log)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            table.append((n, name, result))
            print(f"  {name}: {result}", flush=True)
        log.unlink()
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print("| interactions | step | seconds | of which training loop s | epochs | training rows | peak RSS MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n, name, r in table:
        fit = f"{r['fit_s']:.1f}" if "fit_s" in r else "-"
        epochs = f"{r['epochs']:.0f}" if "epochs" in r else "-"
        rows = f"{r['train_rows']:,.0f}" if "train_rows" in r else "-"
        print(f"| {n:,} | {name} | {r['seconds']:.1f} | {fit} | {epochs} | {rows} | {r['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
