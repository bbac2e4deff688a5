"""``irtrouter evaluate``: score every router on identical splits, in the IRT-Router paper's protocol."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import click

from irtrouter.cli.common import load_dataset, progress_default, reading_options
from irtrouter.data.benchmarks import BENCHMARKS, detect_benchmark, load_benchmark
from irtrouter.data.splits import split_in_distribution, split_out_of_distribution
from irtrouter.embed.registry import EMBEDDER_SPECS
from irtrouter.errors import ConfigError
from irtrouter.evaluate.harness import ALPHAS, DEFAULT_ROUTERS
from irtrouter.evaluate.protocol import Setting, benchmark_settings, make_setting, setting_from_ids, subsample
from irtrouter.evaluate.suite import ABLATIONS, SuiteConfig, run_settings

log = logging.getLogger(__name__)


def _split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


DEFAULT_SEEDS = "0-4"


def parse_seeds(value: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` and ``"2"`` as written; a bad range is a ConfigError."""
    seeds: list[int] = []
    for part in _split_list(value):
        first, dash, last = part.partition("-")
        try:
            lo, hi = (int(first), int(last)) if dash else (int(part), int(part))
        except ValueError:
            raise ConfigError(f"--seeds: expected N, N-M or a comma-separated list, got {value!r}") from None
        if hi < lo:
            raise ConfigError(f"--seeds: range {part!r} runs backwards")
        seeds += range(lo, hi + 1)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: expected distinct seeds, got {value!r}")
    return seeds


def _read_ids(path: str) -> list[str]:
    """One query id per line (blank lines skipped)."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _settings(
    data: str,
    llms: str | None,
    fmt: str,
    splits: list[str],
    ood_tasks: list[str],
    test_size: float,
    on_missing: str,
    seed: int,
    given_ids: tuple[str, str] | None = None,
) -> list[Setting]:
    path = Path(data)
    if given_ids is not None:
        results, catalog = load_dataset(data, llms, "long" if fmt == "auto" else fmt, "train", on_missing, seed)
        train_ids, test_ids = (_read_ids(f) for f in given_ids)
        return [setting_from_ids(path.stem, results, catalog, train_ids, test_ids)]
    name = fmt if fmt not in ("auto", "long") else (detect_benchmark(path) if path.is_dir() else None)
    if name is not None:
        bench = load_benchmark(name, path, seed=seed)
        return benchmark_settings(bench, splits, ood_tasks or None)
    results, catalog = load_dataset(data, llms, "long" if fmt == "auto" else fmt, "train", on_missing, seed)
    label = path.stem
    out = []
    for split in splits:
        if split == "ID":
            train, test = split_in_distribution(results, test_size=test_size, seed=seed)
            desc = f"seeded per-task {1 - test_size:.0%}/{test_size:.0%} split (seed {seed})"
        else:
            if not ood_tasks:
                raise ConfigError(f"OOD on a results file needs --ood-tasks (tasks: {', '.join(results.task_names())})")
            train, test = split_out_of_distribution(results, ood_tasks)
            desc = f"held-out tasks {', '.join(ood_tasks)}"
        out.append(make_setting(label, split, train, test, catalog, desc))
    return out


@click.command()
@click.argument("data_paths", metavar="DATA...", nargs=-1, required=False)
@click.option("--llms", metavar="CATALOG", help="LLM catalog (JSON/YAML) for results files.")
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "long", *BENCHMARKS]),
    help="Format of DATA; 'auto' detects benchmark directories.",
)
@click.option(
    "--routers",
    default=",".join(DEFAULT_ROUTERS),
    show_default=True,
    help="Comma-separated registry names or specs (name:key=value). See --list-routers.",
)
@click.option("--list-routers", is_flag=True, help="List the registered routers and exit.")
@click.option(
    "--split",
    "split",
    default="both",
    show_default=True,
    type=click.Choice(["id", "ood", "both"]),
    help="In-distribution (published or seeded split), out-of-distribution (held-out tasks), or both.",
)
@click.option(
    "--ood-tasks",
    metavar="T1,T2",
    help="Tasks to hold out for OOD (results files; overrides a benchmark's default).",
)
@click.option("--test-size", default=0.3, show_default=True, help="ID test share for results files (per task).")
@click.option("--alpha", "alphas", multiple=True, type=float, help="Trade-off weights of the table [0.8 0.5 0.2].")
@click.option(
    "--embedder",
    default=None,
    envvar="IRTROUTER_EMBEDDER",
    help=f"Query embedder shared by every router: {', '.join(EMBEDDER_SPECS)} [default: use; hashing with "
    "--quick]. Env: IRTROUTER_EMBEDDER.",
)
@click.option(
    "--ablations",
    default="none",
    show_default=True,
    help=f"Comma-separated ablations to run too: {', '.join(ABLATIONS)}, 'all' or 'none'.",
)
@click.option("--quick", is_flag=True, help="Seeded subsets (300 train / 150 test), hashing embedder, short training.")
@click.option("--seed", default=0, show_default=True, help="Seed of splits, subsets and every router.")
@click.option(
    "--seeds",
    metavar="N-M",
    help="Run every router once per seed (its random_state; e.g. 0-4 or 0,3,7) on the --seed split and print "
    "mean ± std [min, max], gap closed of the mean and a paired bootstrap interval of Reward minus best-single. "
    f"Default {DEFAULT_SEEDS}; one run (--seed) with --quick, --ablations or --plots.",
)
@click.option(
    "--train-ids",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Your own split: the query ids that train, one per line (with --test-ids; replaces --split).",
)
@click.option(
    "--test-ids",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Your own split: the query ids that are scored, one per line (with --train-ids).",
)
@click.option(
    "--on-missing",
    default="error",
    show_default=True,
    type=click.Choice(["error", "drop"]),
    help="Rows with an empty/NaN score in a results file: fail, or drop them.",
)
@reading_options
@click.option("--out", "out_dir", metavar="DIR", help="Write CSV tables, report.json and report.md here.")
@click.option("--plots", is_flag=True, help="With --out: also write PNG plots (needs matplotlib).")
@click.option("--json", "as_json", is_flag=True, help="Print the tidy tables as JSON instead of Markdown.")
@click.option(
    "--cache-dir",
    envvar="IRTROUTER_CACHE_DIR",
    metavar="DIR",
    help="Embedding cache folder. Env: IRTROUTER_CACHE_DIR.",
)
def evaluate(
    data_paths: tuple[str, ...],
    llms: str | None,
    fmt: str,
    routers: str,
    list_routers: bool,
    split: str,
    ood_tasks: str | None,
    test_size: float,
    alphas: tuple[float, ...],
    embedder: str | None,
    ablations: str,
    quick: bool,
    seed: int,
    seeds: str | None,
    train_ids: str | None,
    test_ids: str | None,
    on_missing: str,
    out_dir: str | None,
    plots: bool,
    as_json: bool,
    cache_dir: str | None,
) -> None:
    """Train every router on the same train split of DATA and score it on the same test split.

    DATA is a benchmark directory (llmrouter, routerbench_subset, routerdc_7llm, routellm,
    zeroeval) or a results file with --llms. Prints, per setting, Performance, Total Cost and Reward at each
    alpha (IRT-Router Tables 1-2) with the share of the best-single-LLM-to-oracle gap closed,
    then top-k routing accuracy, predictor AUC/ACC/RMSE/MAE and the alpha sweep's AIQ,
    hypervolume, CPT and APGR. Test queries whose text is in the training data are an error;
    only test queries scored for every LLM count. A cost modelled from prices is labelled so.

    \b
    Examples:
      irtrouter evaluate ../shared/data/routerbench_subset --routers small-llm,large-llm,oracle,knn-tuned,mirt
      irtrouter evaluate ../shared/data/llmrouter --quick --split id
      irtrouter evaluate results.csv --llms llms.json --ood-tasks gsm8k --out runs/eval --plots
      irtrouter evaluate results.csv --llms llms.json --train-ids train.txt --test-ids test.txt --seeds 0-4
    """
    from irtrouter.evaluate.routers.registry import available_routers, make_router

    if list_routers:
        for name, entry in sorted(available_routers().items()):
            click.echo(f"{name:18s} {entry.description}")
        return
    if not data_paths:
        raise click.UsageError("give at least one DATA path (or --list-routers)")
    names = _split_list(routers)
    if not names:
        raise ConfigError("--routers is empty")
    for name in names:
        make_router(name)  # fail on a bad name before any data is read
    chosen_ablations = list(ABLATIONS) if ablations == "all" else [] if ablations == "none" else _split_list(ablations)
    splits = ["ID", "OOD"] if split == "both" else [split.upper()]
    base = SuiteConfig.quick() if quick else SuiteConfig()
    config = replace(
        base,
        routers=tuple(names),
        splits=tuple(splits),
        embedder=embedder or base.embedder,
        alphas=tuple(alphas) or ALPHAS,
        seed=seed,
        ablations=tuple(chosen_ablations),
        cache_dir=cache_dir,
        progress=progress_default(),
    )
    config.validate()
    if (train_ids is None) != (test_ids is None):
        raise ConfigError("--train-ids and --test-ids go together: give both files")
    given = (train_ids, test_ids) if train_ids is not None and test_ids is not None else None
    if seeds is None and not (quick or chosen_ablations or plots):
        seeds = DEFAULT_SEEDS  # one seed is one draw of the routers' randomness, not the result
    seed_list = parse_seeds(seeds) if seeds is not None else None
    if seed_list is not None and (chosen_ablations or plots):
        raise ConfigError("--ablations and --plots run on one seed (--seed), not --seeds")
    settings = []
    for data in data_paths:
        settings += _settings(data, llms, fmt, splits, _split_list(ood_tasks), test_size, on_missing, seed, given)
    if seed_list is not None:
        _evaluate_seeds(settings, config, seed_list, out_dir, as_json)
        return
    report = run_settings(settings, config)
    report.meta["data"] = list(data_paths)
    markdown = report.markdown(config.alphas)
    if out_dir:
        written = report.write(out_dir)
        (Path(out_dir) / "report.md").write_text(markdown + "\n")
        if plots:
            from irtrouter.evaluate.plots import plot_ablation, plot_pareto

            for dataset in dict.fromkeys(s.dataset for s in settings):
                written.append(plot_pareto(report, dataset, Path(out_dir) / f"pareto_{dataset}.png"))
            for ablation in dict.fromkeys(r["ablation"] for r in report.tables["ablations"]):
                written.append(plot_ablation(report, ablation, Path(out_dir) / f"ablation_{ablation}.png"))
        log.info("wrote %s", ", ".join(str(p) for p in written))
    if as_json:
        click.echo(json.dumps({"meta": report.meta, "tables": report.tables}, default=str))
    else:
        click.echo(markdown)


def _evaluate_seeds(
    settings: list[Setting], config: SuiteConfig, seeds: list[int], out_dir: str | None, as_json: bool
) -> None:
    """The ``--seeds`` path: :func:`irtrouter.evaluate.evaluate_settings` over the settings."""
    from irtrouter.evaluate.api import evaluate_settings

    evaluation = evaluate_settings(
        [subsample(s, config.n_train, config.n_test, config.seed) for s in settings],
        routers=config.routers,
        alphas=config.alphas,
        seeds=seeds,
        embedder=config.embedder,
        sweep=config.sweep,
        overrides=config.overrides,
        cache_dir=config.cache_dir,
        progress=progress_default(),
    )
    if out_dir:
        log.info("wrote %s", ", ".join(str(p) for p in evaluation.write(out_dir)))
    if as_json:
        frames = {"routing": evaluation.routing, "per_seed": evaluation.per_seed, **evaluation.tables}
        tables = {name: json.loads(frame.to_json(orient="records")) for name, frame in frames.items()}
        click.echo(json.dumps({"meta": evaluation.meta, "tables": tables}, default=str))
    else:
        click.echo(evaluation.markdown(others=True))


command = evaluate
