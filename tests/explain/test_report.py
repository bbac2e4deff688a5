"""The explain report (self-contained HTML, PNGs, summary.json), `irtrouter explain`, and the
explanation in `irtrouter route` output. No browser needed: self-containment is checked on the
HTML itself (benchmarks/report_screenshot.py renders it in headless Chromium)."""

import base64
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.explain import write_report
from irtrouter.irt.abilities import ABILITY_NAMES
from tests.helpers import TOPIC_LLMS, topic_catalog

SRC = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def assert_self_contained(html: str, n_figures: int) -> None:
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # base64 may hold any '//'
    assert "//" not in text  # no http://, https://, file:// or protocol-relative references
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text, re.IGNORECASE)
    assert "url(" not in text and "@import" not in text  # no CSS fetches either
    sources = SRC.findall(html)
    assert len(sources) == n_figures == html.count("<img")
    for uri in sources:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1], validate=True).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, mirt_warm_router, topic_data):
    root = tmp_path_factory.mktemp("explain-cli")
    mirt_warm_router.save(root / "router")
    topic_data[1].to_frame().to_csv(root / "held_out.csv", index=False)
    (root / "llms.json").write_text(json.dumps(topic_catalog().to_records()))
    return root


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_explain_cli_writes_a_self_contained_report_with_every_figure(cli_files, topic_data):
    out = cli_files / "report"
    res = run(
        "explain",
        cli_files / "router",
        "--data",
        cli_files / "held_out.csv",
        "--llms",
        cli_files / "llms.json",
        "--out",
        out,
        "--alpha",
        "0.5",
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"wrote {out / 'index.html'} (6 figures")
    html = (out / "index.html").read_text()
    assert_self_contained(html, 6)
    for name in (
        "ability_heatmap",
        "ability_bars",
        "ability_profiles",
        "difficulty_by_task",
        "routing_share",
        "band_routing",
    ):
        png = (out / f"{name}.png").read_bytes()
        assert base64.b64encode(png).decode() in html  # the file and the embedded image are the same
    for heading in ("Abilities", "Difficulty", "Routing", "Example decisions"):
        assert heading in html
    summary = json.loads((out / "summary.json").read_text())
    held_out = topic_data[1]
    shares = summary["routing"]["shares"]
    assert summary["routing"]["alphas"][0] == 0.0
    for i in range(len(summary["routing"]["alphas"])):
        assert sum(shares[m][i] for m in TOPIC_LLMS) == pytest.approx(1.0)
    assert shares["weak-small"][0] == 1.0  # alpha = 0: cost only, so every query goes to the cheapest LLM
    bands = summary["routing"]["bands"]
    assert summary["routing"]["bands_at_alpha"] == 0.5
    assert sum(b["queries"] for b in bands.values()) == held_out.n_queries
    assert {c["name"] for c in summary["difficulty_correlations"]} == {
        "difficulty vs mean score of the query",
        "per task: mean difficulty vs mean score",
    }
    assert summary["abilities"]["vs_data_score"]["n_llms"] == 4
    # Example decisions carry the same explanation as a routed query, reason included.
    example = summary["examples"][0]
    assert example["explanation"]["reason"] in html.replace("&#x27;", "'")
    assert {e["explanation"]["difficulty_band"] for e in summary["examples"]} <= {"easy", "medium", "hard"}


def test_report_without_data_shows_what_the_router_knows(nirt_router, tmp_path):
    report = write_report(nirt_router, tmp_path / "r")
    html = report.html_path.read_text()
    assert_self_contained(html, len(report.figures))
    assert set(report.figures) == {"ability_heatmap", "ability_bars", "ability_profiles", "difficulty_by_task"}
    assert "Routing" not in html and "--data" in html
    assert report.summary["abilities"]["dimensions"] == list(ABILITY_NAMES)
    assert set(report.summary["difficulty"]["training queries"]) == {"math", "code", "history"}


def test_explain_cli_errors_are_one_line(cli_files, tmp_path):
    (cli_files / "bad.csv").write_text("query_id,query,llm_id,score\nq1,what,big,7\n")  # score outside [0, 1]
    for args, fragment in [
        (("explain", tmp_path / "nope", "--out", tmp_path / "o"), "not a saved router"),
        (("explain", cli_files / "router", "--llms", cli_files / "llms.json", "--out", tmp_path / "o"), "--data"),
        (
            (
                "explain",
                cli_files / "router",
                "--data",
                tmp_path / "x.csv",
                "--llms",
                cli_files / "llms.json",
                "--out",
                tmp_path / "o",
            ),
            "x.csv",
        ),
        (
            (
                "explain",
                cli_files / "router",
                "--data",
                cli_files / "bad.csv",
                "--llms",
                cli_files / "llms.json",
                "--out",
                tmp_path / "o",
            ),
            "bad.csv",
        ),
        (("explain", cli_files / "router", "--alpha", "1.5", "--out", tmp_path / "o"), "alpha"),
    ]:
        res = run(*args)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.exit_code == 1 and len(lines) == 1 and lines[0].startswith("irtrouter: error: "), res.output
        assert fragment in lines[0]


def test_route_output_carries_the_explanation(cli_files):
    res = run("route", cli_files / "router", "x math integral equation solve", "--json")
    body = json.loads(res.stdout)
    assert body["explanation"]["llm_id"] == body["llm_id"]
    assert body["explanation"]["runner_up"] in TOPIC_LLMS
    human = run("route", cli_files / "router", "x math integral equation solve")
    why = [line for line in human.stdout.splitlines() if line.strip().startswith("why: ")]
    assert len(why) == 1 and body["explanation"]["reason"] in why[0]


def test_routing_imports_no_plotting_dataframes_or_torch(cli_files):
    code = (
        "import sys; from irtrouter.routing import load_router; "
        f"d = load_router({str(cli_files / 'router')!r}).route('x math integral'); "
        "assert d.explanation.reason; "
        "print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'scipy', 'irtrouter.explain') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
