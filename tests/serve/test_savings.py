"""Savings through the real server: every decision records its reference cost; /metrics and
``irtrouter report`` show spend and savings."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from tests.serve.fake_upstream import FakeProvider, ServerThread

MSG = [{"role": "user", "content": "solve the integral equation algebra"}]
# The fake provider reports 12 prompt and 7 completion tokens; topic_catalog prices (USD / M tokens).
PRICES = {"math-small": 0.2, "code-small": 0.2, "weak-small": 0.1, "big": 10.0}


def test_every_decision_records_what_the_reference_llm_would_have_cost(
    client: openai.OpenAI, provider: FakeProvider, db: sqlite3.Connection, proxy: ServerThread
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="irtrouter/cheap", messages=MSG)
    done = raw.parse()
    rid = raw.headers["x-irtrouter-request-id"]
    row = db.execute(
        "SELECT reference_llm, reference_cost_usd, cost_usd, answered_by FROM decisions WHERE request_id = ?", (rid,)
    ).fetchone()
    # cheap allows math-small, code-small, weak-small: the dearest (first listed of equals) is math-small.
    assert row["reference_llm"] == "math-small"
    assert row["reference_cost_usd"] == pytest.approx(19 * PRICES["math-small"] / 1e6)
    assert row["cost_usd"] == pytest.approx(19 * PRICES[row["answered_by"]] / 1e6)
    assert done.model_extra["irtrouter"]["reference_cost_usd"] == pytest.approx(row["reference_cost_usd"])
    auto = client.chat.completions.with_raw_response.create(model="irtrouter/auto", messages=MSG)
    ref = db.execute(
        "SELECT reference_llm, reference_cost_usd FROM decisions WHERE request_id = ?",
        (auto.headers["x-irtrouter-request-id"],),
    ).fetchone()
    assert ref["reference_llm"] == "big" and ref["reference_cost_usd"] == pytest.approx(19 * 10.0 / 1e6)
    stream = client.chat.completions.with_raw_response.create(model="irtrouter/auto", messages=MSG, stream=True)
    list(stream.parse())
    metrics = httpx.get(f"{proxy.url}/metrics").text
    for name in ("spend", "reference_cost", "savings"):
        assert f'irtrouter_{name}_usd_total{{profile="auto"}}' in metrics
        assert f'irtrouter_{name}_usd_total{{profile="cheap"}}' in metrics
    # The stream's reference cost is priced from its reported tokens once it ends (12 + 3).
    sid = stream.headers["x-irtrouter-request-id"]
    for _ in range(100):
        got = db.execute("SELECT status, reference_cost_usd FROM decisions WHERE request_id = ?", (sid,)).fetchone()
        if got["status"] != "streaming":
            break
        time.sleep(0.05)
    assert got["reference_cost_usd"] == pytest.approx(15 * 10.0 / 1e6)


def test_report_prints_spend_savings_share_and_feedback_and_plots(
    client: openai.OpenAI, provider: FakeProvider, proxy_db: Path, tmp_path: Path
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="irtrouter/cheap", messages=MSG)
    client.post("/feedback", body={"request_id": raw.headers["x-irtrouter-request-id"], "score": 1.0}, cast_to=object)
    png = tmp_path / "report.png"
    result = CliRunner().invoke(cli, ["report", "--db", f"sqlite:///{proxy_db}", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["day", "requests", "answered"]
    total = next(line for line in lines if line.startswith("total")).split()
    with sqlite3.connect(proxy_db) as conn:
        n, spend, reference = conn.execute(
            "SELECT COUNT(*), SUM(cost_usd), SUM(CASE WHEN cost_usd IS NOT NULL THEN reference_cost_usd END) "
            "FROM decisions"
        ).fetchone()
    assert int(total[1]) == n
    assert float(total[3]) == pytest.approx(spend, abs=1e-6) and float(total[4]) == pytest.approx(reference, abs=1e-6)
    assert "share of requests per LLM" in result.output and "mean feedback score per LLM" in result.output
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_on_a_missing_database_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}"])
    assert result.exit_code != 0
