"""``irtrouter report``: spend, savings, share per LLM and feedback per LLM, per day, from the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from irtrouter.cli.common import since_option
from irtrouter.errors import ConfigError


def daily(log: Any) -> tuple[Any, Any, Any]:
    """Per UTC day from :func:`~irtrouter.store.reading.read_log`'s frame: totals (requests, spend,
    reference cost, savings), share of requests per LLM, and mean feedback score per LLM (the last
    score of each request counts, as for learning)."""
    import pandas as pd

    if log.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    log = log.sort_values(["created_at", "feedback_created_at", "feedback_id"], na_position="first")
    rows = log.drop_duplicates("request_id", keep="last").copy()
    rows["day"] = pd.to_datetime(rows["created_at"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    rows["llm"] = rows["answered_by"].fillna(rows["llm_id"])
    paid = rows[rows["cost_usd"].notna()]
    totals = pd.DataFrame(
        {
            "requests": rows.groupby("day").size(),
            "answered": paid.groupby("day").size(),
            "spend_usd": paid.groupby("day")["cost_usd"].sum(),
            "reference_usd": paid.groupby("day")["reference_cost_usd"].sum(),
        }
    ).fillna(0)
    totals["savings_usd"] = totals["reference_usd"] - totals["spend_usd"]
    share = rows.groupby(["day", "llm"]).size().unstack(fill_value=0)
    share = share.div(share.sum(axis=1), axis=0)
    scored = rows[rows["score"].notna()]
    feedback = scored.groupby(["day", "llm"])["score"].mean().unstack() if not scored.empty else pd.DataFrame()
    return totals, share, feedback


def plot(totals: Any, share: Any, feedback: Any, path: Path) -> None:
    """Three panels: spend and savings, share per LLM, feedback per LLM, by day (PNG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ConfigError("--plot needs matplotlib: pip install matplotlib") from exc
    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    days = list(totals.index)
    axes[0].plot(days, totals["spend_usd"], marker="o", label="spend")
    axes[0].plot(days, totals["reference_usd"], marker="o", label="on the reference LLM")
    axes[0].plot(days, totals["savings_usd"], marker="o", label="savings")
    axes[0].set_ylabel("USD per day")
    axes[0].legend()
    bottom = None
    for llm in share.columns:
        values = share[llm].reindex(days, fill_value=0)
        axes[1].bar(days, values, bottom=bottom, label=llm)
        bottom = values if bottom is None else bottom + values
    axes[1].set_ylabel("share of requests")
    axes[1].legend(fontsize="small")
    for llm in feedback.columns:
        axes[2].plot(days, feedback[llm].reindex(days), marker="o", label=llm)
    axes[2].set_ylabel("mean feedback score")
    axes[2].set_ylim(0, 1)
    if len(feedback.columns):
        axes[2].legend(fontsize="small")
    axes[2].set_xlabel("day (UTC)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@click.command("report")
@click.option("--db", "url", required=True, envvar="IRTROUTER_DB", help="Decision log URL (sqlite:///PATH).")
@since_option()
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write a PNG.")
def command(url: str, since: float | None, plot_path: Path | None) -> None:
    """Spend, savings against each profile's reference LLM, the share of requests per LLM and the
    mean feedback score per LLM, per UTC day, from the service's decision log.

    \b
    Example:
      irtrouter report --db sqlite:///runs/serve.sqlite --plot report.png
    """
    from irtrouter.store.reading import read_log

    log = read_log(url, since=since)
    totals, share, feedback = daily(log)
    if totals.empty:
        click.echo("no decisions")
        return
    click.echo(
        f"{'day':<10}  {'requests':>8}  {'answered':>8}  {'spend $':>10}  {'reference $':>11}  {'savings $':>10}"
    )
    for day, r in totals.iterrows():
        click.echo(
            f"{day:<10}  {int(r['requests']):>8}  {int(r['answered']):>8}  {r['spend_usd']:>10.6f}  "
            f"{r['reference_usd']:>11.6f}  {r['savings_usd']:>10.6f}"
        )
    t = totals.sum()
    click.echo(
        f"{'total':<10}  {int(t['requests']):>8}  {int(t['answered']):>8}  {t['spend_usd']:>10.6f}  "
        f"{t['reference_usd']:>11.6f}  {t['savings_usd']:>10.6f}"
    )
    click.echo("\nshare of requests per LLM")
    click.echo(share.to_string(float_format=lambda v: f"{v:.3f}"))
    click.echo("\nmean feedback score per LLM")
    click.echo("no feedback" if feedback.empty else feedback.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-"))
    if plot_path is not None:
        plot(totals, share, feedback, plot_path)
        click.echo(f"\nwrote {plot_path}")
