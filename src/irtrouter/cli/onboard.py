"""``irtrouter onboard``: add a new LLM to a saved router from a short quiz, without retraining."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from irtrouter.cli.common import F
from irtrouter.errors import ConfigError, DataError

SELECTION_HELP = "fisher: most informative query next (RADAR). uniform: random queries (ablation)."
PRIOR_HELP = "Prior on the new LLM's ability: pool (like the trained LLMs: their mean and spread) or standard N(0, I)."


@click.group()
def onboard() -> None:
    """Bring a new LLM into a trained router from a few answered queries or its profile.

    \b
    A round trip:
      irtrouter onboard plan my-router --llm new-llm --pool train.csv --budget 30 --out quiz.jsonl
      # run new-llm on each query of quiz.jsonl, put its 0..1 score in "score"
      irtrouter onboard fit my-router --llm new-llm --answers quiz.jsonl --llms llms.json
    """


def _read_pool(path: str) -> tuple[list[str], list[str]]:
    """Query ids and texts of the candidate quiz queries (deduplicated by id)."""
    from irtrouter.data.results import query_id_for

    p = Path(path)
    if p.is_dir():
        from irtrouter.cli.common import load_dataset

        results, _ = load_dataset(path, None, "auto", "train", "drop")
        return list(results.query_ids), list(results.queries)
    if not p.is_file():
        raise DataError("no such file or benchmark directory", source=path)
    if p.suffix.lower() == ".txt":
        texts = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        ids = [query_id_for(t) for t in texts]
    else:
        import pandas as pd

        suffix = p.suffix.lower()
        try:
            if suffix in {".jsonl", ".ndjson"}:
                frame = pd.read_json(p, lines=True, dtype={"query_id": str})
            elif suffix == ".json":
                frame = pd.read_json(p, dtype={"query_id": str})
            elif suffix == ".parquet":
                frame = pd.read_parquet(p)
            else:
                frame = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",", dtype={"query_id": str})
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read the query pool: {exc}", source=path) from None
        if "query" not in frame.columns:
            raise DataError(
                f"the query pool needs a 'query' column; found {sorted(map(str, frame.columns))}", source=path
            )
        texts = [str(t) for t in frame["query"]]
        ids = [str(i) for i in frame["query_id"]] if "query_id" in frame.columns else [query_id_for(t) for t in texts]
    first: dict[str, str] = {}
    for qid, text in zip(ids, texts, strict=True):
        if text.strip():
            first.setdefault(qid, text)
    if not first:
        raise DataError("the query pool has no queries", source=path)
    return list(first), list(first.values())


def _embed(router: Any, texts: list[str], cache_dir: str | None) -> np.ndarray:
    """Embed with the router's embedder through the disk cache (quiz pools are often reused)."""
    return np.asarray(router.embed(texts, use_cache=True, cache_dir=cache_dir))


CACHE_HELP = "Embedding cache folder (default ~/.cache/irtrouter). Env: IRTROUTER_CACHE_DIR."


def _quiz_selection_options(command: F) -> F:
    """``--selection / --criterion / --seed``: how ``plan`` and ``simulate`` pick quiz queries."""
    command = click.option("--seed", default=0, show_default=True, help="Seed of the uniform selection.")(command)
    command = click.option(
        "--criterion",
        default="d-optimal",
        show_default=True,
        type=click.Choice(["d-optimal", "trace"]),
        help="How a multidimensional (MIRT) ability's information is summarised.",
    )(command)
    return click.option(
        "--selection",
        default="fisher",
        show_default=True,
        type=click.Choice(["fisher", "uniform"]),
        help=SELECTION_HELP,
    )(command)


def _read_answers(path: str, llm: str) -> Any:
    from irtrouter.data.readers import read_results

    answers = read_results(path)
    if answers.llm_ids != (llm,):
        others = [m for m in answers.llm_ids if m != llm]
        raise DataError(f"answers for LLM(s) {others}, expected only {llm!r} (--llm)", source=path, field="llm_id")
    return answers


@onboard.command("plan")
@click.argument("router_dir", metavar="DIR")
@click.option("--llm", required=True, metavar="NAME", help="Id of the new LLM (as in results data).")
@click.option("--prior", default="pool", show_default=True, type=click.Choice(["pool", "standard"]), help=PRIOR_HELP)
@click.option(
    "--pool",
    required=True,
    metavar="QUERIES",
    help="Candidate quiz queries: a benchmark directory (its train split), a results or queries file "
    "(CSV/TSV/JSONL/JSON/Parquet with a 'query' column, optional 'query_id'), or a .txt file, one query a line. "
    "Normally the router's training queries.",
)
@click.option("--budget", default=30, show_default=True, help="Total quiz queries, answered ones included.")
@click.option(
    "--batch",
    type=int,
    default=None,
    help="Queries to plan in this round (default: the rest of the budget). Smaller rounds, answered in between "
    "and passed back with --answers, make the quiz adaptive to the answers.",
)
@click.option("--answers", metavar="FILE", help="Answers so far (a planned file with 'score' filled in).")
@_quiz_selection_options
@click.option("--out", "out_file", metavar="FILE", help="Write the quiz here (JSONL) instead of stdout.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option("--cache-dir", envvar="IRTROUTER_CACHE_DIR", metavar="DIR", help=CACHE_HELP)
def plan(
    router_dir: str,
    llm: str,
    prior: str,
    pool: str,
    budget: int,
    batch: int | None,
    answers: str | None,
    selection: str,
    criterion: str,
    seed: int,
    out_file: str | None,
    force: bool,
    cache_dir: str | None,
) -> None:
    """Choose the queries to ask the new LLM --llm, for the router saved in DIR.

    Writes one JSON line per query: query_id, query, llm_id and an empty score. Run the new LLM
    on each query, score its answer from 0 to 1, fill in "score" (and, if you have them,
    "output_tokens" and "cost_usd"), then pass the file to `onboard fit` (or back to `plan` with
    --answers for the next round).

    Queries are chosen by Fisher information at the current ability estimate (RADAR): with no
    answers yet that is the prior's centre, so one round of --budget queries is adaptive to the
    router but not to the answers; rounds of --batch 5 are.

    \b
    Example:
      irtrouter onboard plan my-router --llm new-llm --pool ../shared/data/llmrouter --budget 30
    """
    from irtrouter.onboard.newllm import ability_prior, quiz_bank
    from irtrouter.onboard.quiz import AdaptiveQuiz
    from irtrouter.routing.saved import load_router

    if budget < 1:
        raise ConfigError(f"--budget must be >= 1, got {budget}")
    if batch is not None and batch < 1:
        raise ConfigError(f"--batch must be >= 1, got {batch}")
    if out_file and Path(out_file).exists() and not force:
        raise ConfigError(f"{out_file} exists: pass --force to overwrite it")
    router = load_router(router_dir)
    if llm in router.llm_ids:
        raise ConfigError(f"LLM {llm!r} is already in the router at {router_dir}")
    ids, texts = _read_pool(pool)
    done: dict[str, float] = {}
    if answers:
        got = _read_answers(answers, llm)
        position = {qid: i for i, qid in enumerate(ids)}
        for qid, text, score in zip(got.query_ids, got.queries, got.scores[:, 0], strict=True):
            if np.isnan(score):
                continue
            if qid not in position:  # an answered query outside the pool still informs the estimate
                position[qid] = len(ids)
                ids.append(qid)
                texts.append(text)
            done[qid] = float(score)
    bank = quiz_bank(router, _embed(router, texts, cache_dir), ids)
    quiz = AdaptiveQuiz(
        bank,
        ability_prior(router, prior),
        selection=selection,
        criterion=criterion,
        max_items=budget,
        random_state=seed,
    )
    index = {qid: i for i, qid in enumerate(ids)}
    if done:
        quiz.record_many([index[q] for q in done], list(done.values()))
    remaining = budget - len(done)
    picks = quiz.next_items(remaining if batch is None else min(batch, remaining)) if remaining > 0 else []
    lines = [json.dumps({"query_id": ids[i], "query": texts[i], "llm_id": llm, "score": None}) for i in picks]
    if out_file:
        Path(out_file).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    else:
        for line in lines:
            click.echo(line)
    se = float(quiz.state.standard_error.max())
    theta = ", ".join(f"{v:+.3f}" for v in quiz.state.ability[:3]) + (" ..." if bank.n_dims > 3 else "")
    where = f" to {out_file}" if out_file else ""
    click.echo(
        f"planned {len(picks)} quiz queries for {llm}{where} ({len(done)} answered so far of a budget of {budget}; "
        f"ability estimate [{theta}], standard error {se:.3f})"
        + ("; budget spent: run `irtrouter onboard fit`" if not picks else ""),
        err=True,
    )


@onboard.command("fit")
@click.argument("router_dir", metavar="DIR")
@click.option("--llm", required=True, metavar="NAME", help="Id of the new LLM (as in results data).")
@click.option("--prior", default="pool", show_default=True, type=click.Choice(["pool", "standard"]), help=PRIOR_HELP)
@click.option("--answers", metavar="FILE", help="The new LLM's scored answers (results file: query, llm_id, score).")
@click.option("--profile-only", is_flag=True, help="No answers: estimate the ability from the LLM's profile alone.")
@click.option("--llms", metavar="CATALOG", help="Catalog (JSON/YAML) with the new LLM's prices, profile, budget.")
@click.option("--input-price", type=float, help="USD per million input tokens (without --llms).")
@click.option("--output-price", type=float, help="USD per million output tokens (without --llms).")
@click.option("--profile", "profile_text", default="", help="Profile text (without --llms).")
@click.option("--out", "out_dir", metavar="DIR2", help="Save the grown router here instead of updating DIR.")
@click.option("--force", is_flag=True, help="Overwrite --out if it already holds files.")
@click.option("--cache-dir", envvar="IRTROUTER_CACHE_DIR", metavar="DIR", help=CACHE_HELP)
def fit(
    router_dir: str,
    llm: str,
    prior: str,
    answers: str | None,
    profile_only: bool,
    llms: str | None,
    input_price: float | None,
    output_price: float | None,
    profile_text: str,
    out_dir: str | None,
    force: bool,
    cache_dir: str | None,
) -> None:
    """Add the new LLM --llm to the router saved in DIR (updated in place unless --out).

    Its ability is the maximum a posteriori estimate from its scored answers (the query side of
    the router stays as trained), or, with --profile-only, read from its profile. Its cost comes
    from the catalog entry, plus, for routers that price by tokens or real cost, the answers'
    output_tokens / cost_usd (else the entry's expected_output_tokens).

    \b
    Example:
      irtrouter onboard fit my-router --llm new-llm --answers quiz.jsonl --llms llms.json
    """
    from irtrouter.data.catalog import LLMCatalog, LLMSpec, load_catalog
    from irtrouter.onboard.newllm import ability_from_answers, onboard_llm
    from irtrouter.routing.saved import load_router

    if bool(answers) == profile_only:
        raise click.UsageError("give either --answers FILE or --profile-only")
    target = Path(out_dir) if out_dir else Path(router_dir)
    if out_dir and target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"{target} exists and is not empty: pass --force to overwrite it")
    if llms:
        spec = load_catalog(llms)[llm]
    elif input_price is None or output_price is None:
        raise click.UsageError("give the new LLM's catalog entry (--llms) or --input-price and --output-price")
    else:
        spec = LLMCatalog([LLMSpec(llm, input_price, output_price, profile=profile_text)], source="options")[llm]
    router = load_router(router_dir)
    if llm in router.llm_ids:
        raise ConfigError(f"LLM {llm!r} is already in the router at {router_dir}")
    tokens = usd = None
    if answers:
        got = _read_answers(answers, llm)
        keep = ~np.isnan(got.scores[:, 0])
        if not keep.any():
            raise DataError("no scored answers", source=answers, field="score")
        texts = [t for t, k in zip(got.queries, keep, strict=True) if k]
        theta, se = ability_from_answers(router, _embed(router, texts, cache_dir), got.scores[keep, 0], prior)
        tokens = None if got.output_tokens is None else got.output_tokens[keep, 0]
        usd = None if got.cost_usd is None else got.cost_usd[keep, 0]
        how = f"from {int(keep.sum())} answers (standard error {float(se.max()):.3f})"
        onboard_llm(router, spec, ability=theta, output_tokens=tokens, cost_usd=usd)
    else:
        how = "from its profile"
        onboard_llm(router, spec)
    router.save(target)
    ability = router.predictor_.abilities_[-1]
    shown = ", ".join(f"{v:+.3f}" for v in ability[:3]) + (" ..." if len(ability) > 3 else "")
    click.echo(
        f"added {llm} to {target}: ability [{shown}] {how}; the router now has {len(router.llm_ids)} LLMs",
    )


@onboard.command("simulate")
@click.argument("router_dir", metavar="DIR")
@click.option("--llm", required=True, metavar="NAME", help="The held-out LLM whose real answers play the quiz.")
@click.option("--prior", default="pool", show_default=True, type=click.Choice(["pool", "standard"]), help=PRIOR_HELP)
@click.option(
    "--data",
    "data_path",
    required=True,
    metavar="DATA",
    help="Results holding NAME's real scores: a benchmark directory (quiz pool: its train split; scored on its "
    "test split) or a results file (the pool; needs --llms).",
)
@click.option("--llms", metavar="CATALOG", help="Catalog for a results file (must list NAME).")
@click.option("--test", "test_path", metavar="FILE", help="Results file to score NAME's predictions on.")
@click.option("--budget", default=30, show_default=True, help="Quiz queries.")
@_quiz_selection_options
@click.option("--cache-dir", envvar="IRTROUTER_CACHE_DIR", metavar="DIR", help=CACHE_HELP)
def simulate(
    router_dir: str,
    llm: str,
    prior: str,
    data_path: str,
    llms: str | None,
    test_path: str | None,
    budget: int,
    selection: str,
    criterion: str,
    seed: int,
    cache_dir: str | None,
) -> None:
    """Evaluate onboarding: a quiz for NAME answered from its held-out real scores.

    The router in DIR must have been trained without NAME. The quiz draws from DATA's queries
    where NAME has a score and reads the answers from them; no LLM is called. Prints the ability
    estimate and its standard error as answers come in, and, with test data, how well NAME's
    predicted P matches its real scores there (AUC, ACC, RMSE, MAE), next to profile-only
    onboarding. The saved router is not changed.

    \b
    Example:
      irtrouter onboard simulate runs/without-gpt4 --llm gpt-4-1106-preview \\
          --data ../shared/data/routerbench_subset --budget 30
    """
    from irtrouter.cli.common import load_dataset
    from irtrouter.data.benchmarks import detect_benchmark, load_benchmark
    from irtrouter.data.readers import read_results
    from irtrouter.evaluate.prediction import prediction_quality
    from irtrouter.onboard.simulate import Newcomer, simulate_onboarding
    from irtrouter.routing.saved import load_router

    if budget < 1:
        raise ConfigError(f"--budget must be >= 1, got {budget}")
    router = load_router(router_dir)
    if llm in router.llm_ids:
        raise ConfigError(f"LLM {llm!r} is already in the router at {router_dir}: simulate needs a router without it")
    name = detect_benchmark(data_path) if Path(data_path).is_dir() else None
    if name is not None:
        bench = load_benchmark(name, data_path)
        pool, test, catalog = bench.train, bench.test, bench.catalog
    else:
        pool, catalog = load_dataset(data_path, llms, "auto", "train", "drop")
        test = None
    if test_path:
        test = read_results(test_path, catalog=catalog, on_missing="drop")
    newcomer = Newcomer.from_results(pool, llm, catalog)
    trace = simulate_onboarding(
        router,
        newcomer,
        _embed(router, list(pool.queries), cache_dir),
        prior=prior,
        selection=selection,
        criterion=criterion,
        max_items=budget,
        random_state=seed,
        query_ids=pool.query_ids,
    )
    for n in sorted({*(c for c in (5, 10, 20, 30, 50, 100) if c < len(trace.asked)), len(trace.asked)}):
        theta = trace.ability_after(n)
        shown = ", ".join(f"{v:+.3f}" for v in theta[:3]) + (" ..." if len(theta) > 3 else "")
        click.echo(f"after {n:>3} answers: ability [{shown}], standard error {trace.standard_errors[n - 1]:.3f}")
    if test is not None:
        test = test.select_llms([llm])
        test = test.take(~np.isnan(test.scores[:, 0]))
        X = _embed(router, list(test.queries), cache_dir)
        # Both variants are priced from the quiz answers' tokens / costs where the cost model needs them.
        for label, ability in (
            (f"quiz ({len(trace.asked)} {selection})", trace.ability_after(len(trace.asked))),
            ("profile only", None),
        ):
            grown = newcomer.into(router, ability, rows=trace.asked)
            p_new = grown.predict_embedded(X, test.queries).p_hat[:, -1]
            q = prediction_quality(test.scores[:, 0], p_new)
            click.echo(
                f"{label:>22} on {q.n} test queries: "
                f"AUC {q.auc:.3f}  ACC {q.acc:.3f}  RMSE {q.rmse:.3f}  MAE {q.mae:.3f}"
            )


command = onboard
