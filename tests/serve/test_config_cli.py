"""serve.yaml validation, ``irtrouter serve --check``, the request parser, storage and metrics units."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.errors import ConfigError, StorageError
from irtrouter.serve import check_config, load_config, parse_config
from irtrouter.serve.errors import APIError
from irtrouter.serve.overrides import parse_request
from irtrouter.store import DecisionRecord, SQLiteStore, sqlite_path
from tests.helpers import TOPIC_LLMS
from tests.serve.conftest import environ, serve_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serve.yaml"


def write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_check(router_dir: Path, config: Path, env: dict[str, str] | None = None, *extra: str):
    return CliRunner().invoke(cli, ["serve", str(router_dir), "--config", str(config), "--check", *extra], env=env)


def test_check_accepts_a_good_config(router_dir, tmp_path) -> None:
    config = write(tmp_path, serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite"))
    res = run_check(router_dir, config, environ())
    assert res.exit_code == 0, res.output
    assert "routable: math-small, code-small, weak-small, big" in res.output and res.output.rstrip().endswith("OK")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["llms"]["big"]["timeout"].update(raed=3), "llms.big.timeout.raed: unknown key"),
        (lambda r: r.update(colour="red"), "colour: unknown key"),
        (lambda r: r["llms"]["big"].update(base_url="ftp://x"), "llms.big.base_url: must start with http"),
        (lambda r: r["llms"]["big"].update(extra_body={"model": "x"}), "cannot set ['model']"),
        (lambda r: r["routing"].update(alpha=2), "routing.alpha: Input should be less than or equal to 1"),
        (lambda r: r["llms"].update(gpt5={"base_url": "http://x"}), "the router has no LLM 'gpt5'"),
        (lambda r: r["profiles"]["cheap"].update(allowed_llms=["gpt5"]), "profiles.cheap.allowed_llms: unknown LLM"),
        (lambda r: r["llms"]["big"].update(api_key_env="UNSET_VAR_FOR_TEST"), "UNSET_VAR_FOR_TEST is not set"),
        (lambda r: r["profiles"].update(auto={"alpha": 0.5}), "'auto' is the defaults profile"),
    ],
)
def test_check_rejects_bad_configs_in_one_line(router_dir, tmp_path, change, message) -> None:
    raw = serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite")
    change(raw)
    res = run_check(router_dir, write(tmp_path, raw), environ())
    assert res.exit_code == 1
    error_lines = [line for line in res.output.splitlines() if line.startswith("irtrouter: error:")]
    assert len(error_lines) == 1 and message in error_lines[0], res.output


def test_unconfigured_router_llms_are_unroutable(router_dir, tmp_path) -> None:
    raw = serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite")
    del raw["llms"]["big"]
    res = run_check(router_dir, write(tmp_path, raw), environ())
    assert res.exit_code == 0 and "unroutable (no 'llms' entry, never called): big" in res.output
    raw["routing"]["allowed_llms"] = ["big", "weak-small"]
    res = run_check(router_dir, write(tmp_path, raw), environ())
    assert res.exit_code == 1 and "'big' is unroutable" in res.output


def test_bad_db_url_and_missing_files(router_dir, tmp_path) -> None:
    config = write(tmp_path, serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite"))
    res = run_check(router_dir, config, environ(), "--db", "mysql://db/x")
    assert res.exit_code == 1 and "expected sqlite:///PATH or postgresql://" in res.output
    res = run_check(router_dir, tmp_path / "missing.yaml", environ())
    assert res.exit_code == 1 and "cannot read config" in res.output
    (tmp_path / "broken.yaml").write_text("llms: [unclosed")
    res = run_check(router_dir, tmp_path / "broken.yaml", environ())
    assert res.exit_code == 1 and "not valid YAML" in res.output


def test_example_config_is_valid_against_the_schema() -> None:
    config = load_config(EXAMPLE)
    assert config.storage.url.startswith("sqlite:///") and config.llms


def test_check_config_reports_what_is_routable() -> None:
    config = parse_config({"llms": {"big": {"base_url": "http://x/v1", "api_key_env": "K"}}})
    result = check_config(config, TOPIC_LLMS, {"K": "secret"})
    assert result.ok and result.routable == ("big",) and result.unroutable == TOPIC_LLMS[:3]
    assert not check_config(config, TOPIC_LLMS, {}).ok
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config(["llms"])


@pytest.mark.parametrize(
    "auth",
    [
        {"api_keys": ["shared"]},
        {"api_keys_env": ["CLIENT_KEY"]},
        {"clients": {"team-a": {"key_env": "CLIENT_KEY"}}},  # a named client's key is a client key too
    ],
)
def test_the_admin_key_may_not_be_a_client_key(auth: dict) -> None:
    llms = {"big": {"base_url": "http://x/v1"}}
    config = parse_config({"llms": llms, "auth": {**auth, "admin_key_env": "ADMIN_KEY"}})
    problems = check_config(config, TOPIC_LLMS, {"CLIENT_KEY": "shared", "ADMIN_KEY": "shared"}).problems
    assert any("ADMIN_KEY holds a client key" in p for p in problems), problems
    assert check_config(config, TOPIC_LLMS, {"CLIENT_KEY": "shared", "ADMIN_KEY": "own"}).ok


# -- the request parser --------------------------------------------------------------------------
CONFIG = parse_config(serve_config("http://127.0.0.1:9", Path("/tmp/unused.sqlite")))


def parse(body, routable=TOPIC_LLMS, needs_model=True):
    return parse_request(body, CONFIG, TOPIC_LLMS, routable, needs_model)


def test_request_fields_are_removed_and_queries_taken_from_the_last_user_turn() -> None:
    body = {
        "model": "irtrouter/auto",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image_url", "image_url": {}}]},
        ],
        "alpha": 0.4,
        "max_cost": 0.01,
        "temperature": 0.2,
    }
    req, forward = parse(body)
    assert req.query == "second" and req.alpha == 0.4 and req.max_cost == 0.01
    assert "first question" in req.prompt_text and "be brief" in req.prompt_text
    assert forward == {"model": "irtrouter/auto", "messages": body["messages"], "temperature": 0.2}
    system_too = parse_request(
        body,
        CONFIG.model_copy(update={"routing": CONFIG.routing.model_copy(update={"query_text": "system_and_last_user"})}),
        TOPIC_LLMS,
        TOPIC_LLMS,
        True,
    )[0]
    assert system_too.query == "be brief\nsecond"


def test_profiles_narrow_and_requests_cannot_widen() -> None:
    req, _ = parse({"model": "irtrouter/cheap", "messages": [{"role": "user", "content": "q"}]})
    assert req.alpha == 0.2 and req.allowed_llms == ("math-small", "code-small", "weak-small")
    req, _ = parse(
        {
            "model": "irtrouter/cheap",
            "messages": [{"role": "user", "content": "q"}],
            "allowed_llms": ["weak-small", "math-small"],
        }
    )
    assert req.allowed_llms == ("math-small", "weak-small")  # router order
    with pytest.raises(APIError, match="not allowed by profile"):
        parse({"model": "irtrouter/cheap", "messages": [{"role": "user", "content": "q"}], "allowed_llms": ["big"]})
    req, _ = parse(
        {"model": "irtrouter/auto", "messages": [{"role": "user", "content": "q"}]}, routable=("big", "weak-small")
    )
    assert req.allowed_llms == ("weak-small", "big")
    req, _ = parse({"query": "q"}, needs_model=False)
    assert req.profile == "auto" and req.alpha == 0.8


# -- storage -------------------------------------------------------------------------------------
def record(request_id: str) -> DecisionRecord:
    return DecisionRecord(
        request_id=request_id,
        created_at=0.0,
        endpoint="route",
        profile="auto",
        query_hash="h",
        query_text=None,
        llm_id="big",
        alpha=0.8,
        p_hat={"big": 0.9},
        decision={"llm_id": "big"},
        expected_input_tokens=3,
        expected_output_tokens=None,
        expected_cost_usd=0.1,
        cost_source="catalog",
        routing_ms=1.0,
        status="routed",
    )


def test_group_commit_isolates_a_bad_row_and_keeps_the_rest(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"

    async def scenario() -> list[object]:
        store = SQLiteStore(url, synchronous="full")
        await store.start()
        try:
            # 50 concurrent writes, one a duplicate id: it alone fails.
            jobs = [store.add_decision(record(f"r{i}")) for i in range(50)] + [store.add_decision(record("r7"))]
            results = await asyncio.gather(*jobs, return_exceptions=True)
            try:  # alone in its transaction (no savepoint path)
                await store.add_decision(record("r1"))
            except StorageError as exc:
                results.append(exc)
            results.append(await store.add_feedback("r3", 0.5, "ok"))
            results.append(await store.add_feedback("nope", 0.5, None))
            return results
        finally:
            await store.close()

    results = asyncio.run(scenario())
    assert all(r is None for r in results[:50]) and isinstance(results[50], Exception)
    assert isinstance(results[51], StorageError) and "UNIQUE" in str(results[51])
    assert isinstance(results[52], int) and results[53] is None
    conn = sqlite3.connect(tmp_path / "store.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 50
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT request_id, score FROM feedback").fetchall() == [("r3", 0.5)]


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:////abs/x.sqlite") == "/abs/x.sqlite"
    for bad in ("sqlite://x", "mysql:///x", "x.sqlite", "sqlite:///"):
        with pytest.raises(ConfigError):
            sqlite_path(bad)


def test_check_warns_when_auth_is_off_beyond_loopback(router_dir, tmp_path) -> None:
    """Issue 14, defect 6: no client key on a non-loopback host is said, not silently served."""
    raw = serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite")
    raw["auth"] = {}
    res = run_check(router_dir, write(tmp_path, raw), environ())
    assert res.exit_code == 0 and "authentication is off" not in res.output  # 127.0.0.1
    raw["server"] = {**raw.get("server", {}), "host": "0.0.0.0"}
    res = run_check(router_dir, write(tmp_path, raw), environ())
    assert res.exit_code == 0 and "warning: authentication is off (no auth.api_keys_env) on 0.0.0.0" in res.output


def test_serve_refuses_a_port_out_of_range(router_dir, tmp_path) -> None:
    """`--port 99999` bound a random port and logged :99999."""
    config = write(tmp_path, serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite"))
    res = CliRunner().invoke(cli, ["serve", str(router_dir), "--config", str(config), "--port", "99999"], env=environ())
    assert res.exit_code == 2 and "99999 is not in the range 0<=x<=65535" in res.output
