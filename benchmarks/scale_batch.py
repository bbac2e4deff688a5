"""Issue 15 (b): ``irtrouter batch route`` throughput, local engine vs Ray engine, on one machine.

Trains a small MIRT router on the synthetic topic data with the hashing embedder (so the table
measures the batch path, reading, routing with explanations and writing, not a neural encoder),
writes N synthetic queries to Parquet, then times, each from a fresh start:

* the local engine (one process, ``route_many_embedded`` per batch);
* the Ray engine with 1 and 2 actors on a local Ray of 2 CPUs (actors of 0.5 CPU: Ray Data's
  own tasks need the rest), Ray's start-up timed apart;
* the Ray engine on 1,000 queries, whose time is almost all fixed cost: actor start-up, one router
  load per actor, the pipeline's set-up (the per-actor overhead).

Two cores cannot show what a cluster gains: the Ray engine's actors share the same two cores as
the local engine's one process, so the gain on a cluster (throughput times nodes) is not
measurable here; what is measurable is what Ray costs on top.

    python benchmarks/scale_batch.py [--queries 100000] [--batch-rows 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers: the synthetic topics

from irtrouter.batch import BatchJob, BatchRouter, run_local
from irtrouter.routing import IRTRouter
from tests.helpers import topic_catalog, topic_results


def write_queries(path: Path, n: int) -> None:
    words = ["prime", "sum", "python", "list", "capital", "river", "solve", "function", "history", "loop"]
    queries = [
        f"query {i}: {words[i % 10]} {words[(i * 7) % 10]} {words[(i * 3) % 10]} number {i % 97}" for i in range(n)
    ]
    pq.write_table(pa.table({"query_id": [f"q{i}" for i in range(n)], "query": queries}), path)


def timed(fn: object, *args: object, **kwargs: object) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=1024)
    args = parser.parse_args()

    import ray

    from irtrouter.batch.ray import run_ray

    work = Path(tempfile.mkdtemp(prefix="scale-batch-"))
    router = IRTRouter(embedder="hashing:384", predictor_params={"max_epochs": 40})
    router.fit(topic_results(n_per_topic=200, seed=1), topic_catalog(), use_cache=False)
    router.save(work / "router")
    write_queries(work / "queries.parquet", args.queries)
    write_queries(work / "small.parquet", 1000)
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores, shared)")

    def job(src: str, name: str) -> BatchJob:
        return BatchJob(work / src, work / name, BatchRouter, (str(work / "router"),), batch_rows=args.batch_rows)

    rows = []
    seconds, n = timed(run_local, job("queries.parquet", "local.parquet"))
    rows.append(("local, 1 process", n, seconds, "-"))
    init, _ = timed(ray.init, num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for actors in (1, 2):
            seconds, n = timed(run_ray, job("queries.parquet", f"ray{actors}.parquet"), actors=actors, num_cpus=0.5)
            rows.append((f"ray, {actors} actor(s)", n, seconds, f"{init:.1f}"))
        seconds, n = timed(run_ray, job("small.parquet", "small.parquet.out.parquet"), actors=2, num_cpus=0.5)
        rows.append(("ray, 2 actors, 1k queries (fixed cost)", n, seconds, f"{init:.1f}"))
    finally:
        ray.shutdown()
    same = (
        pq.read_table(work / "local.parquet")
        .column("llm_id")
        .equals(pq.read_table(work / "ray2.parquet").column("llm_id"))
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}; local and Ray (2 actors) chose the same LLMs: {same}\n")
    print("| engine | queries | seconds | queries/s | Ray start-up s (apart) |")
    print("|---|---:|---:|---:|---:|")
    for name, n, seconds, init_s in rows:
        print(f"| {name} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {init_s} |")


if __name__ == "__main__":
    main()
