"""The evaluation tables with their spread: every router, seeds 0-4, intervals against best-single.

Runs :func:`irtrouter.evaluate.api.evaluate_settings` (the public evaluation API) on the ID and OOD
settings of every dataset of ../shared/data with query text. The split is the protocol's (seed 0);
each router is fitted once per seed, the seed being its ``random_state``, so the spread is the
routers' own. Each setting is written to ``OUT/<dataset>_<split>.json`` as it finishes and skipped
when that file exists, so an interrupted run goes on where it stopped.

    python benchmarks/evaluate_seeds.py --seeds 0-4                       # every router but the LLM Bandit
    python benchmarks/evaluate_seeds.py --seeds 0-4 --routers llm-bandit --out runs/evaluate_seeds_bandit
    python benchmarks/evaluate_seeds.py --report-only                     # print the Markdown of what is done

Embeddings are cached ($IRTROUTER_CACHE_DIR); torch and BLAS run on ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from irtrouter.cli.evaluate import parse_seeds
from irtrouter.data.benchmarks import default_data_root, load_benchmark
from irtrouter.embed.threads import blas_threads
from irtrouter.evaluate.api import Evaluation, evaluate_settings
from irtrouter.evaluate.harness import DEFAULT_ROUTERS
from irtrouter.evaluate.protocol import benchmark_settings

DATASETS = ("llmrouter", "routerbench_subset", "routerdc_7llm", "routellm")
ROUTERS = (*DEFAULT_ROUTERS, "default")


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, load {load:.1f}"


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = default_data_root()
    for name in args.datasets:
        for setting in benchmark_settings(load_benchmark(name, root / name, seed=0), ("ID", "OOD")):
            path = out / f"{setting.dataset}_{setting.split}.json"
            if path.exists():
                continue
            started, load = time.perf_counter(), os.getloadavg()[0]
            with blas_threads(args.threads):
                ev = evaluate_settings([setting], routers=args.routers, seeds=args.seeds)
            seconds = time.perf_counter() - started
            document = {
                "routing": json.loads(ev.routing.to_json(orient="records")),
                "seeds": ev.meta["seeds"],
                "routers": ev.meta["routers"],
                "confidence": ev.meta["confidence"],
                "seconds": round(seconds, 1),
                "load_start": round(load, 2),
                "load_end": round(os.getloadavg()[0], 2),
                "machine": machine(),
            }
            path.write_text(json.dumps(document, indent=1))
            print(f"{setting.name}: {seconds:.0f}s", file=sys.stderr, flush=True)


def report(out: Path) -> str:
    """The Markdown of every setting written to ``out`` so far, in the evaluation's layout."""
    parts, timings = [], []
    for name in DATASETS:
        for split in ("ID", "OOD"):
            path = out / f"{name}_{split}.json"
            if not path.exists():
                continue
            doc = json.loads(path.read_text())
            routing = pd.DataFrame(doc["routing"])
            setting = _SettingName(name, split)
            ev = Evaluation(
                routing=routing,
                per_seed=pd.DataFrame(),
                choices=pd.DataFrame(),
                tables={},
                settings=[setting],  # type: ignore[list-item]
                meta={"seeds": doc["seeds"], "confidence": doc["confidence"]},
            )
            parts.append(ev.markdown())
            timings.append(
                f"{name} {split}: {doc['seconds'] / 60:.1f} min (load {doc['load_start']}-{doc['load_end']})"
            )
    return "\n\n".join(parts) + ("\n\nWall time per setting: " + "; ".join(timings) + "." if timings else "")


def summary(out: Path) -> str:
    """Per alpha, one row per router and one column per setting: Reward mean ± std over the seeds,
    ``*`` where its interval against best-single is above 0, ``-`` where it is below 0."""
    docs = {}
    for name in DATASETS:
        for split in ("ID", "OOD"):
            path = out / f"{name}_{split}.json"
            if path.exists():
                docs[(name, split)] = json.loads(path.read_text())
    if not docs:
        return ""
    rows = [r for doc in docs.values() for r in doc["routing"]]
    parts = []
    for alpha in dict.fromkeys(r["alpha"] for r in rows):
        header = "| Router | " + " | ".join(f"{d} {s}" for d, s in docs) + " |"
        lines = [f"#### Reward at alpha = {alpha}", "", header, "|---|" + "---|" * len(docs)]
        for router in dict.fromkeys(r["router"] for r in rows):
            cells = []
            for d, s in docs:
                r = next(
                    (x for x in rows if (x["dataset"], x["split"], x["router"], x["alpha"]) == (d, s, router, alpha)),
                    None,
                )
                if r is None or r["reward"] is None:
                    cells.append("n/a")
                    continue
                mark = "*" if r["delta_low"] is not None and r["delta_low"] > 0 else ""
                mark = "-" if r["delta_high"] is not None and r["delta_high"] < 0 else mark
                std = "" if r["reward_std"] is None else f" ± {r['reward_std']:.2f}"
                cells.append(f"{r['reward']:.2f}{std}{mark}")
            lines.append(f"| {router} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


class _SettingName:
    """What :meth:`Evaluation.markdown` reads of a setting: its dataset and split."""

    def __init__(self, dataset: str, split: str) -> None:
        self.dataset, self.split = dataset, split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-4"))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--routers", nargs="+", default=list(ROUTERS))
    parser.add_argument("--out", default="runs/evaluate_seeds")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (1 on a shared machine)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--summary", action="store_true", help="print the compact Reward tables instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.report_only:
        import torch

        torch.set_num_threads(args.threads)
        run(args)
    print(summary(Path(args.out)) if args.summary else report(Path(args.out)))


if __name__ == "__main__":
    main()
