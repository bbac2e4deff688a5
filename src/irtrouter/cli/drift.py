"""``irtrouter drift``: per LLM, is predicted P still calibrated against feedback?"""

from __future__ import annotations

import json

import click

from irtrouter.cli.common import since_option


@click.command("drift")
@click.argument("directory", metavar="DIR", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--db", "url", required=True, envvar="IRTROUTER_DB", help="Decision log URL (sqlite:///PATH).")
@since_option()
@click.option("--window", default=200, show_default=True, type=click.IntRange(10), help="Rows per windowed level.")
@click.option(
    "--shift", default=1.0, show_default=True, type=click.FloatRange(0.05), help="CUSUM: logit shift to detect."
)
@click.option("--threshold", default=None, type=click.FloatRange(0.5), help="CUSUM alarm level [default: log 1000].")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def command(directory: str | None, url: str, since: float | None, window: int, shift: float,
            threshold: float | None, as_json: bool) -> None:  # fmt: skip
    """Calibration of each LLM's logged P-hat against its feedback: windowed Brier and log loss
    against the level calibrated predictions would reach, and a two-sided CUSUM. A drifted LLM
    (CUSUM alarm) should be re-quizzed (irtrouter onboard). With DIR, only the decisions that DIR's
    exact version made (its router_version) are checked.

    \b
    Example:
      irtrouter drift --db sqlite:///runs/serve.sqlite routers/v1
    """
    from irtrouter.online.drift import DEFAULT_THRESHOLD, drift_by_llm
    from irtrouter.store.reading import read_log

    log = read_log(url, since=since, with_feedback_only=True)
    version = None
    if directory is not None:
        from irtrouter.routing.persistence import router_version_id

        version = router_version_id(directory)
    stats = drift_by_llm(log, version, window, shift, DEFAULT_THRESHOLD if threshold is None else threshold)
    if as_json:
        click.echo(json.dumps({"router_version": version, "llms": [s.to_json() for s in stats]}, indent=2))
        return
    if not stats:
        click.echo("no scored decisions" + (f" by {version}" if version else ""))
        return
    width = max(len(s.llm_id) for s in stats)
    click.echo(f"{'LLM':<{width}}  {'rows':>6}  {'Brier':>7} {'(calib.)':>8}  {'logloss':>7} {'(calib.)':>8}  "
               f"{'mean P':>6} {'score':>6}  {'CUSUM':>6}  status")  # fmt: skip
    for s in stats:
        status = f"DRIFTED ({s.cusum.alarm_side} at row {s.cusum.alarm_at}): re-quiz" if s.drifted else "ok"
        click.echo(f"{s.llm_id:<{width}}  {s.n:>6}  {s.brier:>7.4f} {s.expected_brier:>8.4f}  {s.log_loss:>7.4f} "
                   f"{s.expected_log_loss:>8.4f}  {s.mean_p:>6.3f} {s.mean_score:>6.3f}  "
                   f"{s.cusum.statistic:>6.2f}  {status}")  # fmt: skip
