"""The explain report: one self-contained HTML file (figures embedded as PNG data URIs), the same
figures as PNG files, and ``summary.json`` with every number the report states.

It opens with no network: no scripts, fonts or stylesheets are fetched; the only ``src`` values are
``data:`` URIs. Without data it shows what the router alone knows (abilities, the difficulty of
its training queries per task); with data (held-out queries, ideally) it adds difficulty vs known
levels and observed scores, the routing share per LLM across alpha, where each difficulty band
goes, and example decisions with their reasons.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from irtrouter import __version__
from irtrouter.data.results import ResultsMatrix
from irtrouter.explain.abilities import AbilityTable, ability_table
from irtrouter.explain.difficulty import (
    Correlation,
    QueryDifficulties,
    item_accuracy_correlation,
    known_levels,
    level_correlations,
    prediction_difficulties,
    spearman,
    task_accuracy_correlation,
    training_difficulties,
)
from irtrouter.explain.routing_analysis import DEFAULT_ALPHAS, band_routing, routing_shares
from irtrouter.routing.explanation import DIFFICULTY_BANDS, difficulty_band
from irtrouter.routing.router import IRTRouter
from irtrouter.routing.rule import resolve_weights

REPORT_FILE = "index.html"
SUMMARY_FILE = "summary.json"
EXAMPLES_PER_BAND = 2


@dataclass(frozen=True)
class ExplainReport:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    html_path : Path
        The self-contained report.
    figures : dict of str to Path
        Figure name -> its PNG file.
    summary : dict
        Every number the report states (also written to ``summary.json``).
    """

    html_path: Path
    figures: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def write_report(
    router: IRTRouter,
    out_dir: str | Path,
    data: ResultsMatrix | None = None,
    *,
    alpha: float = 0.8,
    alphas: tuple[float, ...] = DEFAULT_ALPHAS,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> ExplainReport:
    """Write the explain report of ``router`` to directory ``out_dir``.

    Parameters
    ----------
    router : IRTRouter
        Fitted or loaded.
    out_dir : path
        Created if needed; ``index.html``, ``summary.json`` and one PNG per figure go there.
    data : ResultsMatrix, optional
        Queries (with observed scores) to analyse: use held-out queries, not the training split.
    alpha : float
        Trade-off at which the difficulty bands and the example decisions are routed.
    alphas : tuple of float
        The alpha grid of the routing-share figure.
    cache_dir, use_cache :
        Embedding cache for the data's queries.

    Examples
    --------
    >>> report = write_report(load_router("my-router"), "report", data=bench.test)  # doctest: +SKIP
    >>> report.html_path  # doctest: +SKIP
    PosixPath('report/index.html')
    """
    import irtrouter.explain.plots as plots  # matplotlib: only when a report is drawn

    a, b = resolve_weights(alpha)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = ability_table(router)
    train = training_difficulties(router)
    figures: dict[str, tuple[str, bytes]] = {}
    summary: dict[str, Any] = {"router": _router_summary(router), "abilities": _ability_summary(table)}
    sections: list[str] = []

    def add(name: str, caption: str, fig: Any) -> str:
        figures[name] = (caption, plots.png_bytes(fig))
        return _figure_html(name, caption, figures[name][1])

    accuracy = None
    if data is not None:
        accuracy = {m: s for m, s in data.mean_scores().items() if m in table.llm_ids and math.isfinite(s)}
        common = [m for m in table.llm_ids if m in accuracy]
        idx = [table.llm_ids.index(m) for m in common]
        summary["abilities"]["vs_data_score"] = {
            "data": data.source,
            "n_llms": len(common),
            "spearman_mean_logit": _num(spearman(table.mean_logit[idx], np.array([accuracy[m] for m in common]))),
            "spearman_mean_over_dims": _num(
                spearman(table.mean_over_dims[idx], np.array([accuracy[m] for m in common]))
            ),
        }
    sections.append(
        _section(
            "Abilities",
            _abilities_intro(table)
            + add("ability_heatmap", "Ability of each LLM on each dimension.", plots.ability_heatmap(table))
            + add(
                "ability_bars",
                "Per LLM: the identified summary (mean logit), the mean over dimensions"
                + (", and the mean observed score on the data." if accuracy else "."),
                plots.ability_bars(table, accuracy),
            )
            + add("ability_profiles", "Each LLM's ability profile over the dimensions.", plots.ability_profiles(table))
            + _ability_table_html(table, accuracy, summary["abilities"].get("vs_data_score")),
        )
    )

    groups: list[QueryDifficulties] = [train]
    correlations: list[Correlation] = []
    if data is not None:
        X = router.embed(data.queries, use_cache, cache_dir)
        prediction = router.predict_embedded(X, data.queries)
        held = prediction_difficulties(router, prediction, data.tasks, source=f"data: {data.source}")
        groups.append(held)
        levels = known_levels(data.queries, data.query_meta)
        by_level = level_correlations(held.difficulty, levels)
        correlations = [
            *by_level,
            item_accuracy_correlation(held.difficulty, data.scores),
            task_accuracy_correlation(held.difficulty, data.tasks, data.scores),
        ]
    difficulty_html = add(
        "difficulty_by_task",
        "Difficulty per task" + (": training queries and the data's queries." if data is not None else "."),
        plots.difficulty_by_task(groups),
    )
    summary["difficulty"] = {g.source: {t: _describe(v) for t, v in g.by_task().items()} for g in groups}
    if data is not None:
        for i, (k, corr) in enumerate(zip(levels, by_level, strict=True)):
            difficulty_html += add(
                f"difficulty_vs_level_{i + 1}",
                f"Difficulty of the data's queries against a known level: {k.name}.",
                plots.difficulty_vs_levels(held.difficulty, k, corr.spearman),
            )
        if not levels:
            difficulty_html += _p(
                "The data carries no known difficulty levels (no <code>level</code> column, no logic-grid "
                "puzzles), so only the proxies below apply."
            )
        difficulty_html += _correlation_table(correlations)
        summary["difficulty_correlations"] = [
            {"name": c.name, "spearman": _num(c.spearman), "n": c.n} for c in correlations
        ]
    else:
        difficulty_html += _p("Pass data (<code>--data</code>) to compare difficulty with known levels and scores.")
    sections.append(_section("Difficulty", difficulty_html))

    if data is not None:
        shares = routing_shares(router, prediction, alphas)
        bands = band_routing(router, prediction, held.percentile, a)
        summary["routing"] = {
            "alphas": shares.alphas.tolist(),
            "shares": {m: shares.shares[:, j].tolist() for j, m in enumerate(shares.llm_ids)},
            "bands_at_alpha": a,
            "bands": {
                name: {
                    "queries": int(bands.counts[i]),
                    "mean_p_hat": _num(bands.mean_p_hat[i]),
                    "shares": dict(zip(bands.llm_ids, bands.shares[i].tolist(), strict=True)),
                }
                for i, name in enumerate(bands.bands)
            },
        }
        routing_html = (
            add("routing_share", "Share of the data's queries per LLM across alpha.", plots.routing_share_plot(shares))
            + add(
                "band_routing",
                f"Where each difficulty band goes at alpha = {a:g} (bands: terciles of the training queries).",
                plots.band_routing_plot(bands),
            )
            + _examples_html(router, data, held.percentile, a, b, summary)
        )
        sections.append(_section("Routing", routing_html))

    figure_paths = {}
    for name, (_, png) in figures.items():
        path = out / f"{name}.png"
        path.write_bytes(png)
        figure_paths[name] = path
    html_path = out / REPORT_FILE
    html_path.write_text(_page(router, data, sections), encoding="utf-8")
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return ExplainReport(html_path=html_path, figures=figure_paths, summary=summary)


# -- pieces -------------------------------------------------------------------------------------


def _router_summary(router: IRTRouter) -> dict[str, Any]:
    t = router.training_ or {}
    return {
        "predictor": router.predictor_.kind,
        "embedder": router.embedder_.name,
        "llms": list(router.llm_ids),
        "cost_model": router.cost_model_.kind,
        "training_source": t.get("source"),
        "training_queries": len(router.neighbours_.embeddings),
        "tasks": t.get("tasks"),
    }


def _ability_summary(table: AbilityTable) -> dict[str, Any]:
    return {
        "kind": table.kind,
        "dimensions": list(table.dimensions),
        "dimension_tasks": None if table.dimension_tasks is None else list(table.dimension_tasks),
        "llms": {
            m: {
                "mean_logit": float(table.mean_logit[j]),
                "mean_logit_se": None if table.mean_logit_se is None else _num(table.mean_logit_se[j]),
                "mean_over_dims": float(table.mean_over_dims[j]),
                "theta": table.values[j].tolist(),
            }
            for j, m in enumerate(table.llm_ids)
        },
        "ranking_mean_logit": list(table.ranking("mean_logit")),
    }


def _describe(values: np.ndarray) -> dict[str, float | int | None]:
    if not len(values):
        return {"n": 0}
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return {"n": len(values), "mean": _num(values.mean()), "q25": _num(q25), "median": _num(q50), "q75": _num(q75)}


def _num(x: float) -> float | None:
    x = float(x)
    return round(x, 6) if math.isfinite(x) else None


def _abilities_intro(table: AbilityTable) -> str:
    if table.kind == "nirt":
        text = (
            "NIRT's dimensions are the 25 named abilities, each in (0, 1). The <em>mean logit</em> is each "
            "LLM's mean logit of P over the training queries; the <em>mean over dimensions</em> is the "
            "plain mean of its 25 abilities (IRT-Router Figure 4)."
        )
    else:
        text = (
            "MIRT's dimensions are latent: identified only up to rotation. Each is oriented so that its mean "
            "discrimination over the training queries is positive, and abilities are centred on the pool "
            "mean. The identified summary is the <em>mean logit</em>, theta . mean(a_q) - mean(b_q): the "
            "LLM's logit on the average training query. The <em>mean over dimensions</em> (IRT-Router "
            "Figure 4) depends on the orientation convention. In brackets after each dimension: the "
            "training task with the largest mean discrimination on it."
        )
    if table.mean_logit_se is not None:
        text += (
            " After the mean logit, its standard error: from the posterior over the LLM's ability given "
            "its own training answers (the query side held at its fit); an LLM with few answers has a wide one."
        )
    return _p(text)


def _ability_table_html(table: AbilityTable, accuracy: dict[str, float] | None, vs: dict[str, Any] | None) -> str:
    head = ["LLM", "mean logit", "mean over dims"] + (["mean observed score"] if accuracy else [])
    rows = []
    for j in np.argsort(-table.mean_logit, kind="stable"):
        m = table.llm_ids[j]
        se = "" if table.mean_logit_se is None else f" ± {table.mean_logit_se[j]:.3f}"
        row = [m, f"{table.mean_logit[j]:+.3f}{se}", f"{table.mean_over_dims[j]:+.3f}"]
        if accuracy:
            row.append(f"{accuracy[m]:.3f}" if m in accuracy else "")
        rows.append(row)
    out = _table(head, rows)
    if vs:
        out += _p(
            f"Spearman correlation with the mean observed score on the data ({vs['n_llms']} LLMs): "
            f"mean logit {_fmt(vs['spearman_mean_logit'])}, mean over dimensions "
            f"{_fmt(vs['spearman_mean_over_dims'])}."
        )
    return out


def _correlation_table(correlations: list[Correlation]) -> str:
    rows = [[c.name, _fmt(_num(c.spearman)), str(c.n)] for c in correlations]
    return _table(["Spearman correlation (data's queries)", "rho", "n"], rows)


def _examples_html(
    router: IRTRouter, data: ResultsMatrix, percentile: np.ndarray, a: float, b: float, summary: dict[str, Any]
) -> str:
    # A few queries per band, in data order but from distinct tasks where possible (deterministic),
    # routed for real through route_many so the reasons are exactly what a caller would get.
    labels = [difficulty_band(float(p)) for p in percentile]
    picked: list[int] = []
    used: set[str] = set()
    for band, _ in DIFFICULTY_BANDS:
        members = [k for k, lab in enumerate(labels) if lab == band]
        fresh = [k for k in members if data.tasks[k] not in used]
        take = (fresh + [k for k in members if k not in fresh])[:EXAMPLES_PER_BAND]
        picked += take
        used |= {data.tasks[k] for k in take}
    if not picked:
        return ""
    decisions = router.route_many([data.queries[i] for i in picked], alpha=a, beta=b)
    rows, records = [], []
    for i, d in zip(picked, decisions, strict=True):
        text = " ".join(data.queries[i].split())
        reason = d.explanation.reason if d.explanation is not None else ""
        rows.append([text[:140] + ("..." if len(text) > 140 else ""), data.tasks[i], reason])
        records.append({"query": text[:300], "task": data.tasks[i], "explanation": d.to_dict().get("explanation")})
    summary["examples"] = records
    return f"<h3>Example decisions (alpha = {a:g})</h3>" + _table(["query", "task", "why"], rows)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def _p(text: str) -> str:
    return f"<p>{text}</p>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(name: str, caption: str, png: bytes) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    layout = "wide" if name.startswith(("ability_", "difficulty_by")) else "half"  # narrower ones pair up
    return (
        f'<figure id="{html.escape(name)}" class="{layout}"><img alt="{html.escape(caption)}" src="{uri}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1200px;color:#222;
padding:0 1em;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#555;font-size:.9em}figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
section{display:flex;flex-wrap:wrap;gap:0 2%;align-items:flex-start}section>*{flex:1 1 100%}
section>figure.half{flex:1 1 48%;max-width:100%}section>table{flex:0 1 auto;max-width:100%}
td{overflow-wrap:anywhere}
figcaption{font-size:.85em;color:#555}table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}
code{background:#f4f4f4;padding:0 .2em}
"""


def _page(router: IRTRouter, data: ResultsMatrix | None, sections: list[str]) -> str:
    s = _router_summary(router)
    meta = (
        f"{s['predictor'].upper()} router over {len(s['llms'])} LLMs, embedder {s['embedder']}, cost model "
        f"{s['cost_model']}; trained on {s['training_queries']} queries ({s['training_source'] or 'unknown source'})."
    )
    if data is not None:
        meta += f" Data analysed: {data.n_queries} queries x {data.n_llms} LLMs from {data.source}."
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>irtrouter explain</title><style>{_CSS}</style></head><body>"
        f'<h1>irtrouter explain</h1><p class="meta">{html.escape(meta)} irtrouter {__version__}.</p>'
        + "".join(sections)
        + "</body></html>\n"
    )
