"""Evaluation outputs: tidy tables (CSV and JSON) and Markdown tables in the IRT-Router paper's layout.

A :class:`Report` collects the rows of every setting and ablation. ``write(out_dir)`` saves one CSV
per table and ``report.json`` (all tables plus the run's metadata); :meth:`Report.markdown`
renders the paper's tables from the same rows, so a table in the docs is always a view of a file
on disk.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from irtrouter.evaluate.harness import MIN_GAP, SettingResult

TABLES = ("routing", "predictor", "topk", "curves", "points", "ablations")


class Report:
    """Tidy rows of an evaluation run, by table name (see :mod:`irtrouter.evaluate.harness`).

    Examples
    --------
    >>> report = Report(meta={"command": "irtrouter evaluate ..."})
    >>> report.add_rows("routing", [{"dataset": "d", "split": "ID", "router": "r", "alpha": 0.8, "reward": 1.0}])
    >>> len(report.tables["routing"])
    1
    """

    def __init__(self, meta: dict[str, Any] | None = None) -> None:
        self.meta: dict[str, Any] = dict(meta or {})
        self.tables: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}

    def add(self, result: SettingResult) -> None:
        """Add every table of one setting's result."""
        for table, rows in result.rows.items():
            self.add_rows(table, rows)
        self.meta.setdefault("settings", []).append(
            {
                "dataset": result.setting.dataset,
                "split": result.setting.split,
                "n_train": result.setting.train.n_queries,
                "n_test": result.setting.test.n_queries,
                "n_incomplete_test_queries_left_out": result.setting.n_incomplete,
                "llms": list(result.setting.test.llm_ids),
                "cost_kind": result.cost_kind,
                "cost_scale_usd": result.cost_scale,
                "embedder": result.embedder_name,
                "description": result.setting.description,
            }
        )

    def add_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        self.tables.setdefault(table, []).extend(rows)

    def write(self, out_dir: str | Path) -> list[Path]:
        """One CSV per non-empty table and ``report.json``; returns the paths written."""
        import pandas as pd

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for table, rows in self.tables.items():
            if rows:
                path = out / f"{table}.csv"
                pd.DataFrame(rows).to_csv(path, index=False)
                paths.append(path)
        path = out / "report.json"
        path.write_text(json.dumps({"meta": self.meta, "tables": self.tables}, indent=1, default=_json_value) + "\n")
        paths.append(path)
        return paths

    @classmethod
    def read(cls, path: str | Path) -> Report:
        """A report written by :meth:`write` (its ``report.json``, or the folder holding it)."""
        path = Path(path)
        raw = json.loads((path / "report.json" if path.is_dir() else path).read_text())
        report = cls(raw.get("meta"))
        for table, rows in raw.get("tables", {}).items():
            report.add_rows(table, rows)
        return report

    def markdown(self, alphas: Sequence[float] | None = None, compact: bool = False) -> str:
        """Every table of the report in Markdown (paper layout).

        ``compact`` renders top-k, predictor, curve and ablation results as one row per router
        (or setting) and one column per setting (or value), for documents; the long form has one
        row per measurement.
        """
        t = self.tables
        parts = []
        if t["routing"]:
            parts += [reward_summary(t["routing"], alphas), routing_tables(t["routing"], alphas)]
        if compact:
            if t["topk"]:
                parts.append(wide_table(t["topk"], _topk_cell, "Top-1 / Top-2 / Top-3 routing accuracy at alpha "
                                        f"{t['topk'][0]['alpha']} (paper Table 3)"))  # fmt: skip
            if t["predictor"]:
                parts.append(wide_table(t["predictor"], _predictor_cell, "AUC / RMSE of the predicted scores on "
                                        "every test cell (paper Table 4)"))  # fmt: skip
            if t["curves"]:
                parts.append(wide_table(t["curves"], _curve_cell, "AIQ / hypervolume / CPT(90%) of the alpha "
                                        "sweep (n/a: every LLM costs the same)"))  # fmt: skip
                with_apgr = [r for r in t["curves"] if "apgr" in r]
                if with_apgr:
                    notes = "".join(f"\n\nn/a: {x}." for x in _apgr_reasons(t["curves"]))
                    parts.append(wide_table(with_apgr, lambda r: _num(r["apgr"], ".3f"), "APGR (binary routers "
                                            "and two-LLM pools)") + notes)  # fmt: skip
            if t["ablations"]:
                parts.append(compact_ablations(t["ablations"]))
        else:
            if t["topk"]:
                parts.append(topk_table(t["topk"]))
            if t["predictor"]:
                parts.append(predictor_table(t["predictor"]))
            if t["curves"]:
                parts.append(curve_table(t["curves"]))
            if t["ablations"]:
                parts.append(ablation_tables(t["ablations"]))
        return "\n\n".join(p for p in parts if p)


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# -- formatting -----------------------------------------------------------------------------------


def _num(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "never"
    return format(value, fmt)


def _pct(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.{digits}f}%"


def _usd(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + (align or "---|" * len(header))]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _groups(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[tuple[Any, ...]]:
    return list(dict.fromkeys(tuple(r[k] for k in keys) for r in rows))


def _routers(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["router"] for r in rows))


def _cost_label(kind: str) -> str:
    return {"real": "real USD", "tokens": "USD from token counts"}.get(kind, "MODELLED USD (prices x estimated tokens)")


# -- tables ------------------------------------------------------------------------------------


def routing_tables(rows: Sequence[dict[str, Any]], alphas: Sequence[float] | None = None) -> str:
    """Tables 1-2: Performance, Total Cost, Reward and gap closed per router, one table per setting."""
    out = []
    for dataset, split in _groups(rows, ("dataset", "split")):
        sub = [r for r in rows if r["dataset"] == dataset and r["split"] == split]
        al = list(alphas or dict.fromkeys(r["alpha"] for r in sub))
        first = sub[0]
        header = ["Router"]
        for a in al:
            header += [f"Perf. @{a}", f"Cost @{a}", f"Reward @{a}", f"Gap closed @{a}"]
        body = []
        for router in _routers(sub):
            cells = [router + (f" ({r['llm']})" if (r := _find(sub, router=router)) and r.get("llm") else "")]
            for a in al:
                r = _find(sub, router=router, alpha=a)
                cells += (
                    [_pct(r["performance"]), _usd(r["total_cost"]), _num(r["reward"], ".2f"), _pct(r["gap_closed"], 1)]
                    if r
                    else ["", "", "", ""]
                )
            body.append(cells)
        refs = "; ".join(
            f"@{a}: best single {r['best_single_llm']} {r['best_single_reward']:.2f}, oracle {r['oracle_reward']:.2f}"
            for a in al
            if (r := _find(sub, alpha=a))
        )
        out.append(
            f"#### {dataset}, {split}: {first['n_queries']} test queries, "
            f"Total Cost in {_cost_label(first['cost_kind'])}\n\n"
            + _table(header, body)
            + f"\n\nGap closed = (Reward - best single LLM) / (reward-optimal oracle - best single LLM), n/a when "
            f"the oracle is less than {MIN_GAP} points above the best single LLM; {refs}." + unsupported_notes(sub)
        )
    return "\n\n".join(out)


def unsupported_notes(rows: Sequence[dict[str, Any]]) -> str:
    """One line per row that could not be computed as asked (n/a in the table), with the reason."""
    notes = [f"{r['router']} @{r['alpha']}: {r['unsupported']}" for r in rows if r.get("unsupported")]
    return "".join(f"\n\nn/a, {n}." for n in notes)


def _find(rows: Sequence[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def reward_summary(rows: Sequence[dict[str, Any]], alphas: Sequence[float] | None = None) -> str:
    """Reward (and the share of the best-single-to-oracle gap closed) of every router in every setting."""
    settings = _groups(rows, ("dataset", "split"))
    out = []
    for a in alphas or list(dict.fromkeys(r["alpha"] for r in rows)):
        header = ["Router"] + [f"{d} {s}" for d, s in settings]
        body = []
        for router in _routers(rows):
            cells = [router]
            for d, s in settings:
                r = _find(rows, router=router, alpha=a, dataset=d, split=s)
                cells.append(f"{_num(r['reward'], '.2f')} ({_pct(r['gap_closed'], 0)})" if r else "")
            body.append(cells)
        out.append(
            f"#### Reward at alpha = {a} (in brackets: share of the gap from the best single LLM to the "
            f"reward-optimal oracle closed; n/a: gap under {MIN_GAP} points)\n\n" + _table(header, body)
        )
    return "\n\n".join(out)


def topk_table(rows: Sequence[dict[str, Any]]) -> str:
    """Table 3: top-k routing accuracy."""
    ks = sorted({r["k"] for r in rows})
    body = []
    for dataset, split, router in _groups(rows, ("dataset", "split", "router")):
        cells = [dataset, split, router]
        for k in ks:
            r = _find(rows, dataset=dataset, split=split, router=router, k=k)
            cells.append(_pct(r["accuracy"]) if r else "")
        body.append(cells)
    alpha = rows[0]["alpha"]
    return f"#### Top-k routing accuracy at alpha = {alpha}\n\n" + _table(
        ["Dataset", "Split", "Router", *[f"Top-{k}" for k in ks]], body
    )


def predictor_table(rows: Sequence[dict[str, Any]]) -> str:
    """Table 4: quality of the predicted scores on the test cells."""
    body = [
        [r["dataset"], r["split"], r["router"], _num(r["rmse"], ".3f"), _num(r["mae"], ".3f"), _num(r["auc"], ".3f"),
         _num(r["acc"], ".3f")]
        for r in rows
    ]  # fmt: skip
    return "#### Predicted scores vs realised (every test cell)\n\n" + _table(
        ["Dataset", "Split", "Router", "RMSE ↓", "MAE ↓", "AUC ↑", "ACC ↑"], body
    )


def curve_table(rows: Sequence[dict[str, Any]]) -> str:
    """The alpha sweep's curve metrics: AIQ, hypervolume, CPT, APGR."""
    cpts = [k for k in ("cpt50", "cpt80", "cpt90", "cpt95") if any(k in r for r in rows)]
    body = []
    for r in rows:
        cells = [r["dataset"], r["split"], r["router"]]
        if "note" in r:
            cells += ["n/a"] * (2 + len(cpts))
        else:
            cells += [_num(r["aiq"], ".4f"), _num(r["hypervolume"], ".4f")]
            cells += [_pct(r[k], 1) if not math.isinf(r[k]) else "never" for k in cpts]
        cells.append(_num(r.get("apgr"), ".3f") if "apgr" in r else "n/a")
        body.append(cells)
    apgr_notes = "".join(f"\n\nAPGR n/a: {reason}." for reason in _apgr_reasons(rows))
    header = ["Dataset", "Split", "Router", "AIQ ↑", "HV ↑", *[f"CPT({k[3:]}%) ↓" for k in cpts], "APGR ↑"]
    return (
        "#### Cost-performance curves of the alpha sweep\n\nAIQ: area under the non-decreasing convex hull / the "
        "largest cost (RouterBench). HV: hypervolume with cost / the dearest single LLM's total (RADAR). CPT(x): "
        "cost to reach x of the best single LLM's performance, as a share of its cost. APGR: performance gap "
        "recovered, averaged over the share of calls to the large LLM (RouteLLM; binary routers and two-LLM "
        "pools).\n\n" + _table(header, body) + apgr_notes
    )


ABLATION_TITLES: dict[str, str] = {
    "warmup_lambda": "Warm-up lambda (paper Table 9, Figures 6-7)",
    "n_dims": "Ability dimensions N, MIRT-Router (paper Figure 8)",
    "embedder": "Embedder, MIRT-Router (paper Table 8)",
    "relevance": "NIRT-Router with and without relevance vectors",
}


def ablation_tables(rows: Sequence[dict[str, Any]]) -> str:
    """One table per ablation: Performance / Cost / Reward per value, setting and alpha."""
    out = []
    for (ablation,) in _groups(rows, ("ablation",)):
        sub = [r for r in rows if r["ablation"] == ablation]
        alphas = list(dict.fromkeys(r["alpha"] for r in sub))
        header = ["Dataset", "Split", "Router", ablation] + [f"Perf. / Cost / Reward @{a}" for a in alphas]
        body = []
        for dataset, split, router, value in _groups(sub, ("dataset", "split", "router", "value")):
            cells = [dataset, split, router, str(value)]
            for a in alphas:
                r = _find(sub, dataset=dataset, split=split, router=router, value=value, alpha=a)
                cells.append(f"{_pct(r['performance'])} / {_usd(r['total_cost'])} / {r['reward']:.2f}" if r else "")
            body.append(cells)
        out.append(f"#### {ABLATION_TITLES.get(ablation, ablation)}\n\n" + _table(header, body))
    return "\n\n".join(out)


# -- compact (wide) views ------------------------------------------------------------------------


def _topk_cell(rows: Sequence[dict[str, Any]]) -> str:
    acc = {r["k"]: r["accuracy"] for r in rows}
    return " / ".join(_pct(acc[k], 0) for k in sorted(acc)[:3])


def _predictor_cell(r: dict[str, Any]) -> str:
    return f"{_num(r['auc'], '.3f')} / {_num(r['rmse'], '.3f')}"


def _curve_cell(r: dict[str, Any]) -> str:
    if "note" in r:
        return "n/a"
    cpt90 = "never" if math.isinf(r["cpt90"]) else _pct(r["cpt90"], 0)
    return f"{r['aiq']:.3f} / {r['hypervolume']:.3f} / {cpt90}"


def wide_table(rows: Sequence[dict[str, Any]], cell: Any, title: str) -> str:
    """One row per router, one column per setting; ``cell`` renders a row (or, for top-k, a router's rows)."""
    settings = _groups(rows, ("dataset", "split"))
    body = []
    for router in _routers(rows):
        cells = [router]
        for d, s in settings:
            sub = [r for r in rows if r["router"] == router and r["dataset"] == d and r["split"] == s]
            if not sub:
                cells.append("")
            elif "k" in sub[0]:
                cells.append(cell(sub))
            else:
                cells.append(cell(sub[0]))
        body.append(cells)
    return f"#### {title}\n\n" + _table(["Router"] + [f"{d} {s}" for d, s in settings], body)


def compact_ablations(rows: Sequence[dict[str, Any]]) -> str:
    """Per ablation: one row per setting and router, one column per value, Reward at each alpha."""
    out = []
    for (ablation,) in _groups(rows, ("ablation",)):
        sub = [r for r in rows if r["ablation"] == ablation]
        values = list(dict.fromkeys(r["value"] for r in sub))
        alphas = list(dict.fromkeys(r["alpha"] for r in sub))
        body = []
        for dataset, split, router in _groups(sub, ("dataset", "split", "router")):
            cells = [dataset, split, router]
            for v in values:
                got = [_find(sub, dataset=dataset, split=split, router=router, value=v, alpha=a) for a in alphas]
                cells.append(" / ".join(f"{r['reward']:.2f}" if r else "" for r in got))
            body.append(cells)
        header = ["Dataset", "Split", "Router", *[str(v) for v in values]]
        alpha_text = " / ".join(str(a) for a in alphas)
        out.append(
            f"#### {ABLATION_TITLES.get(ablation, ablation)}: Reward at alpha {alpha_text}\n\n" + _table(header, body)
        )
    return "\n\n".join(out)


#: What identifies a row of each harness table apart from the seed.
ROW_KEYS = {"predictor": ("dataset", "split", "router"), "topk": ("dataset", "split", "router", "k"),
            "curves": ("dataset", "split", "router")}  # fmt: skip


def mean_over_seeds(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per ``keys``: the mean over the seeds of every number, the first value of anything else.

    >>> mean_over_seeds([{"router": "r", "auc": 0.5, "seed": 0}, {"router": "r", "auc": 0.7, "seed": 1}], ["router"])
    [{'router': 'r', 'auc': 0.6}]
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for group in groups.values():
        row: dict[str, Any] = {}
        for name in dict.fromkeys(k for r in group for k in r if k != "seed"):
            values = [r[name] for r in group if name in r]
            numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            finite = [v for v in numbers if not math.isnan(v)]
            if name in keys or len(numbers) < len(values):
                row[name] = values[0]
            else:
                row[name] = sum(finite) / len(finite) if finite else math.nan
        out.append(row)
    return out


def _apgr_reasons(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Why APGR is n/a for some curve rows, each reason once (rows read back from a frame carry
    ``apgr_na`` on every row, None where APGR was computed)."""
    return list(dict.fromkeys(r["apgr_na"] for r in rows if r.get("apgr_na")))


def seed_mean_tables(tables: dict[str, Sequence[dict[str, Any]]]) -> str:
    """Top-k, predictor and curve tables with every figure the mean over the seeds."""
    parts = []
    if tables.get("topk"):
        parts.append(topk_table(mean_over_seeds(tables["topk"], ROW_KEYS["topk"])))
    if tables.get("predictor"):
        parts.append(predictor_table(mean_over_seeds(tables["predictor"], ROW_KEYS["predictor"])))
    if tables.get("curves"):
        parts.append(curve_table(mean_over_seeds(tables["curves"], ROW_KEYS["curves"])))
    return "\n\n".join(parts)
