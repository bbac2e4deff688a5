"""``irtrouter train``: learn a router from results and save it as a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
from click.core import ParameterSource

from irtrouter.cli.common import data_source_options, load_dataset, progress_default
from irtrouter.data.catalog import load_catalog
from irtrouter.embed.registry import EMBEDDER_SPECS
from irtrouter.errors import ConfigError
from irtrouter.routing.cost import COST_MODELS


@click.command()
@click.argument("data_path", metavar="DATA")
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Directory to write the router to.")
@click.option(
    "--llms",
    metavar="CATALOG",
    help="LLM catalog (JSON/YAML: llm_id, input_price, output_price, profile). Required for results "
    "files; benchmark directories bring their own.",
)
@click.option(
    "--predictor",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "mirt", "nirt", "2pl", "policy"]),
    help="auto (recommended): MIRT or 2PL, whichever routes better on validation queries carved from "
    "the training data, calibrated per LLM and guarded (it leaves the best single LLM only when the "
    "predicted gain beats a validated margin). mirt: latent abilities (fast). nirt: 25 named abilities "
    "with relevance vectors. 2pl: RADAR's one scalar ability per LLM or configuration. policy: LLM "
    "Bandit, one policy for every preference and candidate set over identity vectors (route with "
    "--preference; minutes).",
)
@click.option(
    "--explain-choice",
    is_flag=True,
    help=(
        "Print how --predictor auto chose: each configuration's out-of-fold value (and how far, "
        "+- its standard error, it is behind its family's best), the stack, calibration and margins."
    ),
)
@click.option(
    "--time-budget",
    type=float,
    default=None,
    metavar="SECONDS",
    help="auto: try the candidates (mirt, then 2pl) only while the choice has taken less than this; the "
    "first always runs, the summary names those left out. Default: every candidate.",
)
@click.option(
    "--validation-folds",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="auto: cross-fit the chosen model's stages on this many disjoint 20% carves of the training "
    "queries (one model fit each beyond the first; measured no better on the benchmarks).",
)
@click.option(
    "--tune-warmup",
    is_flag=True,
    help="auto: choose the warm-up's lambda and k (0, 0.3, 0.7 x 5, 20 and the given pair) by the out-of-fold "
    "routing value instead of taking --warmup-lambda/--warmup-k as given.",
)
@click.option(
    "--task-routing",
    is_flag=True,
    help="auto: judge too sending each query to the best LLM of its nearest training queries' task "
    "(needs a task per training query); for traffic from the training tasks: a new task that looks "
    "like a known one goes to that task's LLM (measured: -1.68 Reward on routerdc_7llm OOD).",
)
@click.option(
    "--dims",
    type=int,
    default=None,
    help="Ability dimensions N (default: the predictor's own; mirt 25, nirt 25, 2pl 1, identity and policy 16).",
)
@click.option(
    "--embedder",
    default="use",
    show_default=True,
    envvar="IRTROUTER_EMBEDDER",
    help=f"Query/profile embedder: {', '.join(EMBEDDER_SPECS)}. Env: IRTROUTER_EMBEDDER.",
)
@click.option(
    "--warmup-lambda",
    default=0.3,
    show_default=True,
    help="Warm-up weight of the nearest training queries for unseen queries (0 = off).",
)
@click.option("--warmup-k", default=5, show_default=True, help="Neighbours used by the warm-up.")
@click.option(
    "--neighbour-index",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "exact", "approximate"]),
    help="Search of the nearest training queries: exact below 20k of them (auto), or an HNSW graph at any "
    "size (approximate: faster routing above a few thousand, neighbours approximate).",
)
@click.option(
    "--cost-model",
    default="auto",
    show_default=True,
    type=click.Choice(list(COST_MODELS)),
    help="price: output price (paper). tokens: per-query USD. observed: mean real USD. auto: best available.",
)
@click.option(
    "--epochs", "max_epochs", default=200, show_default=True, help="Most training epochs (early stopping ends sooner)."
)
@click.option(
    "--lr",
    "learning_rate",
    default=0.002,
    help="Adam learning rate. Default: each predictor's own (0.002 for mirt, nirt and 2pl).",
)
@click.option("--seed", default=0, show_default=True, help="Seed for every random step.")
@click.option("--sample", type=int, default=None, metavar="N", help="Train on a seeded random sample of N queries.")
@data_source_options(
    split="train",
    on_missing="error",
    what="DATA",
    split_help="Which split of a benchmark directory to train on.",
    missing_help="Rows with an empty/NaN score: fail, or drop them.",
)
@click.option(
    "--labeller-url",
    envvar="IRTROUTER_LABELLER_BASE_URL",
    metavar="URL",
    help="nirt: OpenAI-compatible endpoint that names each cluster's abilities (else offline). "
    "Key from IRTROUTER_LABELLER_API_KEY.",
)
@click.option(
    "--labeller-model",
    envvar="IRTROUTER_LABELLER_MODEL",
    default="gpt-4o-mini",
    show_default=True,
    help="nirt: model asked by --labeller-url.",
)
@click.option(
    "--cache-dir",
    envvar="IRTROUTER_CACHE_DIR",
    metavar="DIR",
    help="Embedding cache folder (default ~/.cache/irtrouter). Env: IRTROUTER_CACHE_DIR.",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the embedding cache.")
@click.option("--force", is_flag=True, help="Overwrite DIR if it already holds a router.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal).")
@click.option(
    "--aggregate",
    is_flag=True,
    help="DATA is a Parquet interaction log, read in batches: repeated (query, LLM) rows become one cell "
    "(their mean score) weighted by their count in training, so memory holds the distinct cells only.",
)
def train(
    data_path: str,
    out_dir: str,
    llms: str | None,
    predictor: str,
    explain_choice: bool,
    time_budget: float | None,
    validation_folds: int,
    tune_warmup: bool,
    task_routing: bool,
    dims: int | None,
    embedder: str,
    warmup_lambda: float,
    warmup_k: int,
    neighbour_index: str,
    cost_model: str,
    max_epochs: int,
    learning_rate: float,
    seed: int,
    sample: int | None,
    fmt: str,
    split: str,
    on_missing: str,
    labeller_url: str | None,
    labeller_model: str,
    cache_dir: str | None,
    no_cache: bool,
    force: bool,
    progress: bool | None,
    aggregate: bool,
) -> None:
    """Train a router on DATA and save it to --out DIR.

    DATA is a results file (CSV, TSV, JSONL, JSON or Parquet; one row per query and LLM with
    columns query_id, query, llm_id, score and optionally task, input_tokens, output_tokens,
    cost_usd) or a benchmark directory (llmrouter, routerbench_subset, routerdc_7llm, routellm,
    zeroeval).

    \b
    Examples:
      irtrouter train results.csv --llms llms.json --out my-router
      irtrouter train ../shared/data/llmrouter --predictor nirt --out runs/nirt
      irtrouter train traffic.parquet --aggregate --llms llms.json --out my-router
    """
    from irtrouter.irt.relevance import LLMAbilityLabeller
    from irtrouter.routing.router import IRTRouter

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} exists and is not empty: pass --force to overwrite it")
    show = progress_default() if progress is None else progress
    if aggregate:
        from irtrouter.data.aggregate import aggregate_log

        if not llms:
            raise click.UsageError("--aggregate needs --llms CATALOG (prices and profiles of the log's LLMs)")
        log = aggregate_log(data_path)
        results, catalog = log.results, load_catalog(llms)
        click.echo(f"aggregated {log.rows} rows into {results.n_observed} cells of {results.n_queries} queries")
    else:
        results, catalog = load_dataset(data_path, llms, fmt, split, on_missing, seed)
    if sample is not None:
        if sample < 2:
            raise ConfigError(f"--sample must be >= 2, got {sample}")
        if sample < results.n_queries:
            pick = np.sort(np.random.default_rng(seed).choice(results.n_queries, size=sample, replace=False))
            results = results.take(pick)
    # Each predictor has its own training defaults: only options given on the command line override them.
    ctx = click.get_current_context()
    given = {"max_epochs": max_epochs, "learning_rate": learning_rate}
    overrides = {k: v for k, v in given.items() if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    if predictor == "policy":
        from irtrouter.routing.policy.router import PolicyRouter

        policy = PolicyRouter(
            embedder=embedder, n_dims=dims or 16, identity_params=overrides, cost_model=cost_model, random_state=seed
        )
        policy.fit(results, catalog, cache_dir=cache_dir, use_cache=not no_cache, progress=show)
        policy.save(out)
        p: dict[str, Any] = policy.training_["policy"]  # type: ignore[assignment]
        click.echo(
            f"trained an LLM Bandit policy on {results.n_queries} queries x {results.n_llms} LLMs "
            f"({policy.training_['total_seconds']:.0f}s; PPO step {p['kept_ppo_step']} kept on "
            f"{p['validation_queries']} validation queries); cost model {policy.cost_model_.kind}; saved to {out}"
        )
        _echo_stages(policy.training_["stage_seconds"])
        return
    router = IRTRouter(
        predictor=predictor,
        n_dims=dims,
        embedder=embedder,
        warmup_lambda=warmup_lambda,
        warmup_k=warmup_k,
        neighbour_index=neighbour_index,
        cost_model=cost_model,
        random_state=seed,
        predictor_params=overrides or None,
        time_budget=time_budget,
        validation_folds=validation_folds,
        tune_warmup=tune_warmup,
        task_routing=task_routing,
    )
    labeller = None
    if predictor in ("nirt", "auto") and labeller_url:
        labeller = LLMAbilityLabeller(labeller_url, labeller_model)
    router.fit(results, catalog, labeller=labeller, cache_dir=cache_dir, use_cache=not no_cache, progress=show)
    router.save(out)
    t = router.training_
    selection: dict[str, Any] | None = t.get("selection")  # type: ignore[assignment]
    if selection is not None:
        ranked = ", ".join(_family_value(row, selection["table"]) for row in selection["table"])
        click.echo(
            f"chose {selection['chosen']} on {selection['n_validation_queries']} validation queries "
            f"(value per query over alpha {', '.join(f'{a:g}' for a in selection['alphas'])}: {ranked})"
        )
        budget = selection.get("time_budget")
        if budget and budget["left_out"]:
            click.echo(
                f"left out for the time budget of {budget['seconds']:g}s: {', '.join(budget['left_out'])} "
                "(not fitted, not compared)"
            )
        if explain_choice:
            _explain_choice(router, selection)
    held = "" if t["fit_queries"] == t["n_queries"] else f", the model fitted on {t['fit_queries']} of them"
    click.echo(
        f"trained {router.predictor_kind_} on {t['n_queries']} queries x {t['n_llms']} LLMs{held} "
        f"({t['epochs']} epochs, best validation BCE {t['best_val_bce']:.4f} at epoch {t['best_epoch']}, "
        f"{t['train_seconds']:.2g}s in {t['train_engine']}); cost model {router.cost_model_.kind}; saved to {out}"
    )
    _echo_stages(t["stage_seconds"])


def _echo_stages(stages: Any) -> None:
    click.echo("wall time per stage: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in stages.items()))


def _family_value(row: dict[str, Any], table: list[dict[str, Any]]) -> str:
    """``mirt +0.2251`` and, behind the chosen family, ``(-0.0006 +- 0.0012)``: the gap with the
    standard error of that paired difference."""
    chosen = next(r["validation_value"] for r in table if r["chosen"])
    gap = row["validation_value"] - chosen
    behind = f" ({gap:+.4f} +- {row['se_vs_chosen']:.4f})" if not row["chosen"] else ""
    return f"{row['candidate']} {row['validation_value']:+.4f}{behind}"


def _stage_name(calibration: str) -> str:
    """A configuration of the out-of-fold table as the summary names it."""
    names = {"stack": "stacked ensemble", "task": "by the neighbours' task", "none": "uncalibrated"}
    return names.get(calibration, f"calibration {calibration}")


def _explain_choice(router: Any, selection: dict[str, Any]) -> None:
    """The stages judged out of fold (each behind its family's best with the standard error of
    that paired difference: how sure the choice is), the calibration or stack chosen per LLM and
    the guard's margins, one line each."""
    timed = [r for r in selection["table"] if "seconds" in r]  # routers saved before it lack it
    if timed:
        shown = ", ".join(f"{r['candidate']} {r['seconds']:.1f}s" for r in timed)
        click.echo(f"  time per candidate, fitted and judged: {shown} (--time-budget bounds it)")
    rows = selection["cross_validation"]["table"]
    for row in rows:
        mark = "  <- kept" if row["kept"] else ""
        stage = _stage_name(row["calibration"])
        best = max(r["cv_value"] for r in rows if r["candidate"] == row["candidate"])
        # The gap to the family's best, with the standard error of that paired difference.
        gap = row["cv_value"] - best
        gap_text = f" ({gap:+.4f} +- {row['se_vs_best']:.4f} from its best)" if gap < 0 else ""
        click.echo(f"  out of fold: {row['candidate']}, {stage} {row['cv_value']:+.4f}{gap_text}{mark}")
    cross_fit = selection.get("cross_fit")
    if cross_fit is not None:
        for row in cross_fit["table"]:
            stage = _stage_name(row["calibration"])
            mark = "  <- kept" if row["kept"] else ""
            click.echo(
                f"  cross-fitted on {cross_fit['folds']} carves ({cross_fit['n_queries']} queries): "
                f"{stage} {row['cv_value']:+.4f}{mark}"
            )
    warmup = selection.get("warmup")
    if warmup is not None and "skipped" in warmup:
        click.echo(f"  warm-up lambda/k not tuned: {warmup['skipped']}")
    elif warmup is not None:
        shown = ", ".join(f"{r['lambda']:g}/{r['k']} {r['cv_value']:+.4f}" for r in warmup["table"])
        click.echo(f"  warm-up lambda/k out of fold: {shown}; routes with {warmup['lambda']:g}/{warmup['k']}")
    for llm, weights in (selection.get("stacking") or {}).items():
        click.echo(f"  stack {llm}: " + ", ".join(f"{name} {w:+.3f}" for name, w in weights.items()))
    by_task = selection.get("task_routing")
    for task, row in ((by_task or {}).get("tasks") or {}).items():
        top = sorted(row["mean_score"].items(), key=lambda item: -item[1])[:3]
        shown = ", ".join(f"{llm} {score:.3f}" for llm, score in top)
        click.echo(f"  by the task: {task} ({row['n_queries']} training queries), best mean scores {shown}")
    calibration = selection.get("calibration") or {}
    for llm, losses in calibration.items():
        if losses:
            best = min(losses, key=losses.__getitem__)
            shown = ", ".join(f"{m} {v:.4f}" for m, v in losses.items())
            click.echo(f"  calibration {llm}: {best} (cross-fitted log-loss: {shown})")
    guard = selection.get("guard")
    if guard is not None and router.guard_ is not None:
        margins = router.guard_.margins["linear"]
        shown = ", ".join(f"{a:g}:{m:g}" for a, m in zip(guard["alphas"], margins, strict=True))
        click.echo(f"  guard margins by alpha (inf: always the best single LLM): {shown}")
    gate = selection.get("novelty_gate")
    if gate is not None:
        seen = gate["validation_familiarity"]
        click.echo(
            f"  novelty gate: a query whose mean similarity to its {gate['k']} nearest training queries is under "
            f"{gate['threshold']:.3f} (less than {1 - gate['quantile']:.0%} of the validation queries; their median "
            f"{seen['median']:.3f}) is routed by the model alone, uncalibrated and unguarded"
        )


command = train
