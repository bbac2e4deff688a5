"""Regenerate the evaluation tables of docs/BENCHMARKS.md (issue 7) in one command.

Every router of the registry (the paper's baselines, MIRT/NIRT and whatever else is registered)
on every dataset of ../shared/data that has query text (llmrouter, routerbench_subset,
routerdc_7llm, routellm), in-distribution and out-of-distribution, with the IRT-Router paper's
metrics and ablations; then tidy CSV/JSON tables, Markdown in the paper's layout, PNG plots, and
(``--update-docs``) the generated block of the "Evaluation protocol" section of docs/BENCHMARKS.md.

    python benchmarks/evaluate.py                       # full run (USE embeddings, shared cache)
    python benchmarks/evaluate.py --update-docs         # ... and rewrite the section's tables
    python benchmarks/evaluate.py --quick --out runs/evaluate-quick   # CI-sized smoke run

Reads the data from $IRTROUTER_SHARED_DATA (default ../shared/data); embeddings are cached in
$IRTROUTER_CACHE_DIR (default ~/.cache/irtrouter).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

from irtrouter.evaluate.plots import plot_ablation, plot_pareto
from irtrouter.evaluate.report import Report
from irtrouter.evaluate.routers.registry import available_routers
from irtrouter.evaluate.suite import ABLATIONS, DATASETS, SuiteConfig, run_suite

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Evaluation protocol: every router, every dataset (issue 7)"
BEGIN, END = "<!-- evaluate.py: begin generated -->", "<!-- evaluate.py: end generated -->"


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="subsets, hashing embedder, short training (CI)")
    parser.add_argument(
        "--datasets", nargs="+", default=None, choices=DATASETS, help="default: all (--quick: all but zeroeval)"
    )
    parser.add_argument(
        "--routers", nargs="+", default=None, help="registry names or specs (default: every registered router)"
    )
    parser.add_argument("--ablations", nargs="*", default=list(ABLATIONS), choices=ABLATIONS)
    parser.add_argument(
        "--ablation-datasets",
        nargs="+",
        default=["llmrouter", "routerbench_subset"],
        help="datasets of the ablations that retrain (N, embedder, relevance); the warm-up one runs everywhere",
    )
    parser.add_argument(
        "--embedder-ablation",
        nargs="+",
        default=["llmrouter"],
        help="datasets of the embedder ablation (e5 is slow: its routers train on --embedder-ablation-train queries)",
    )
    parser.add_argument("--embedder-ablation-train", type=int, default=1000)
    parser.add_argument("--embedder", default=None, help="default: use (hashing with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", type=Path, default=None, help="default $IRTROUTER_SHARED_DATA or ../shared/data")
    parser.add_argument("--out", type=Path, default=None, help="tables folder (default runs/evaluate[-quick])")
    parser.add_argument("--img", type=Path, default=None, help="plots folder (default docs/img; --out with --quick)")
    parser.add_argument("--update-docs", action="store_true", help="rewrite the generated block of BENCHMARKS.md")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1, see below)")
    parser.add_argument(
        "--from-report", type=Path, default=None, help="re-render tables, plots and docs from a saved run's folder"
    )
    return parser.parse_args(argv)


def docs_block(report: Report, command: str, images: list[Path]) -> str:
    meta = report.meta
    settings = "\n".join(
        f"- **{s['dataset']} {s['split']}**: {s['n_train']} train / {s['n_test']} test queries x {len(s['llms'])} "
        f"LLMs ({s['n_incomplete_test_queries_left_out']} incomplete test queries left out); cost: "
        f"{'real USD' if s['cost_kind'] == 'real' else 'MODELLED USD (prices x estimated tokens)'}; {s['description']}"
        for s in meta.get("settings", [])
    )
    timings = ", ".join(f"{t['setting']} {t['seconds']:.0f}s" for t in meta.get("timings", []))
    pictures = "\n".join(f"![{p.stem}]({Path(os.path.relpath(p, ROOT / 'docs')).as_posix()})" for p in images)
    return "\n\n".join(
        [
            BEGIN,
            f"Command: `{command}` ({meta['wall_seconds'] / 60:.1f} minutes wall"
            + (f", {meta['cpu_seconds'] / 60:.1f} minutes CPU" if "cpu_seconds" in meta else "")
            + f", on {meta['machine']}; load average {meta['load_end']:.1f} at the end; {meta.get('threads', 1)} "
            f"torch/BLAS thread). Embedder: {meta['embedder']}. Per setting: {timings}.",
            "Settings:\n\n" + settings,
            report.markdown(meta.get("alphas"), compact=True),
            pictures,
            END,
        ]
    )


def update_docs(path: Path, block: str) -> None:
    """Replace the generated block inside this issue's section only (re-reading the file first)."""
    text = path.read_text(encoding="utf-8")
    if SECTION not in text:
        raise SystemExit(f"{path}: section {SECTION!r} not found")
    head, rest = text.split(SECTION, 1)
    nxt = rest.find("\n## ")
    body, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
    if BEGIN in body and END in body:
        before, _, after = body.partition(BEGIN)
        after = after.partition(END)[2]
        body = before + block + after
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(head + SECTION + body + tail, encoding="utf-8")


def compute(args: argparse.Namespace, argv: list[str] | None) -> Report:
    """Run the suite as the arguments say and record the machine, the time and the command."""
    base = SuiteConfig.quick() if args.quick else SuiteConfig()
    config = replace(
        base,
        datasets=base.datasets if args.datasets is None else tuple(args.datasets),
        routers=tuple(args.routers or available_routers()),
        ablations=tuple(args.ablations),
        ablation_datasets=tuple(args.ablation_datasets),
        embedder_ablation_datasets=tuple(args.embedder_ablation),
        embedder_ablation_train=None if args.quick else args.embedder_ablation_train,
        embedder=args.embedder or base.embedder,
        seed=args.seed,
        root=args.data_root,
    )
    start_machine = machine()
    started, cpu_started = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    # The models are small: a second intra-op thread buys little, and when the other core is busy
    # it makes the larger matrix products many times slower (RouteLLM-MF: 4.75 s an epoch with 2
    # threads vs 0.66 s with 1, measured at load average 10 on 2 cores).
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with threadpool_limits(limits=args.threads):
            report = run_suite(config)
    finally:
        torch.set_num_threads(previous)
    report.meta.update(
        wall_seconds=round(time.perf_counter() - started, 1),
        cpu_seconds=round(resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_started, 1),
        machine=start_machine,
        load_end=os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
        command="python benchmarks/evaluate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        threads=args.threads,
    )
    return report


def main(argv: list[str] | None = None) -> Report:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    out = args.out or ROOT / "runs" / ("evaluate-quick" if args.quick else "evaluate")
    img = args.img or (out if args.quick else ROOT / "docs" / "img")
    if args.from_report:
        report = Report.read(args.from_report)
    else:
        report = compute(args, argv)
        report.write(out)
    datasets = list(dict.fromkeys(s["dataset"] for s in report.meta.get("settings", [])))
    images = [plot_pareto(report, d, img / f"eval_pareto_{d}.png") for d in datasets]
    for ablation, name, log_x in (
        ("warmup_lambda", "eval_reward_vs_lambda", False),
        ("n_dims", "eval_reward_vs_n", True),
    ):
        if any(r["ablation"] == ablation for r in report.tables["ablations"]):
            images.append(plot_ablation(report, ablation, img / f"{name}.png", log_x=log_x))
    markdown = report.markdown(report.meta.get("alphas"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown + "\n", encoding="utf-8")
    if args.update_docs:
        update_docs(ROOT / "docs" / "BENCHMARKS.md", docs_block(report, report.meta["command"], images))
    print(markdown)
    print(f"\nwrote {out} and {len(images)} plot(s) in {img} ({report.meta['wall_seconds'] / 60:.1f} minutes)")
    return report


if __name__ == "__main__":
    main()
