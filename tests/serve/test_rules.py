"""RADAR's routing rules and budget mode in the service, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.errors import ConfigError
from irtrouter.routing import load_router
from irtrouter.serve import ServeSettings, check_config, create_app, parse_config
from irtrouter.serve.errors import APIError
from irtrouter.serve.metrics import Metrics
from irtrouter.serve.overrides import parse_request
from irtrouter.serve.routing import RoutingService
from tests.helpers import TOPIC_LLMS
from tests.serve.conftest import CLIENT_KEY, environ, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

MATH = "solve the integral of this equation with algebra"
# Budgets in the topic router's unit (normalised cost: it prices by the catalog, not in USD). Its
# cheapest routing spends 0.01 per query on the reference queries.
TIGHT_BUDGET = 0.01
BELOW_FLOOR = 0.005


def post(server: ServerThread, body: dict[str, Any], path: str = "/v1/route") -> httpx.Response:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    return error


@pytest.fixture(scope="module")
def library(router_dir: Path):
    """The same saved router the proxy serves, loaded here to compute the expected decisions."""
    return load_router(router_dir)


@pytest.fixture(scope="module")
def chebyshev_proxy(router_dir: Path, provider_server, tmp_path_factory) -> Iterator[ServerThread]:
    """The service with ``routing.rule: chebyshev`` and a profile routed by a budget."""
    db = tmp_path_factory.mktemp("serve-rules-db") / "decisions.sqlite"
    raw = serve_config(provider_server[1].url, db)
    raw["routing"]["rule"] = "chebyshev"
    raw["profiles"]["capped"] = {"budget": TIGHT_BUDGET}
    app = create_app(ServeSettings(config=parse_config(raw), router=load_router(router_dir), environ=environ()))
    with ServerThread(app) as server:
        yield server


# -- rules ---------------------------------------------------------------------------------------
def test_a_requested_rule_routes_by_that_rule(proxy, library, provider: FakeProvider, db) -> None:
    expected = library.route(MATH, alpha=0.8, rule="chebyshev")
    # At alpha 0.8 the two rules disagree on this query, so the test tells them apart.
    assert expected.llm_id != library.route(MATH, alpha=0.8).llm_id
    body = post(proxy, {"query": MATH, "alpha": 0.8, "rule": "chebyshev"}).json()
    assert body["llm_id"] == expected.llm_id and body["rule"] == "chebyshev"
    assert [r["score"] for r in body["llms"]] == pytest.approx(expected.score, abs=1e-6)

    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": MATH}], extra_body={"rule": "chebyshev"}
    )
    completion = raw.parse()
    assert completion.model == expected.llm_id and completion.model_extra["irtrouter"]["rule"] == "chebyshev"
    assert provider.requests and "rule" not in provider.requests[-1]
    row = db.execute("SELECT decision FROM decisions WHERE request_id = ?", (raw.headers["x-irtrouter-request-id"],))
    assert json.loads(row.fetchone()["decision"])["rule"] == "chebyshev"


def test_every_decision_reports_its_rule(proxy) -> None:
    assert post(proxy, {"query": MATH}).json()["rule"] == "linear"  # the router's own


def test_the_configured_rule_is_the_default(chebyshev_proxy, library) -> None:
    body = post(chebyshev_proxy, {"query": MATH}).json()
    assert body["llm_id"] == library.route(MATH, alpha=0.8, rule="chebyshev").llm_id and body["rule"] == "chebyshev"
    body = post(chebyshev_proxy, {"query": MATH, "rule": "linear"}).json()
    assert body["llm_id"] == library.route(MATH, alpha=0.8).llm_id and body["rule"] == "linear"


# -- budget --------------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", [TIGHT_BUDGET, 0.3, 1])
def test_a_budget_routes_as_the_library_budget_mode(proxy, library, budget: float) -> None:
    expected = library.route(MATH, budget=budget)
    body = post(proxy, {"query": MATH, "budget": budget}).json()
    assert body["llm_id"] == expected.llm_id and body["alpha"] == pytest.approx(expected.alpha, abs=1e-6)
    for key in ("budget", "budget_unit", "budget_weight", "budget_reference_spend"):
        assert body[key] == pytest.approx(expected.extras[key]), key
    assert body["budget_unit"] == "normalised cost" and body["budget_reference_spend"] <= budget


def test_a_tight_budget_changes_the_decision(proxy, library) -> None:
    unbudgeted = post(proxy, {"query": MATH}).json()["llm_id"]
    assert post(proxy, {"query": MATH, "budget": TIGHT_BUDGET}).json()["llm_id"] != unbudgeted


def test_a_profile_budget_and_what_overrides_it(chebyshev_proxy, library) -> None:
    body = post(chebyshev_proxy, {"model": "irtrouter/capped", "query": MATH}).json()
    assert body["llm_id"] == library.route(MATH, budget=TIGHT_BUDGET).llm_id and body["budget"] == TIGHT_BUDGET
    # A request's own trade-off replaces the profile's budget.
    body = post(chebyshev_proxy, {"model": "irtrouter/capped", "query": MATH, "alpha": 0.9}).json()
    assert "budget" not in body and body["llm_id"] == library.route(MATH, alpha=0.9).llm_id


# -- bad values ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ({"rule": "pareto"}, "unknown routing rule 'pareto'; expected one of linear, chebyshev"),
        ({"rule": "policy"}, "unknown routing rule 'policy'"),  # only a policy router has it
        ({"rule": 3}, "'rule' must be the name of a routing rule"),
        ({"rule": ""}, "'rule' must be the name of a routing rule"),
        ({"budget": -1}, "'budget' must be a number >= 0"),
        ({"budget": "x"}, "'budget' must be a number >= 0"),
        ({"budget": True}, "'budget' must be a number >= 0"),
        ({"budget": BELOW_FLOOR}, "below what the cheapest routing spends"),
        ({"budget": 0.3, "alpha": 0.5}, "give either 'alpha' or 'budget', not both"),
        ({"budget": 0.3, "preference": 1}, "give either 'preference' or 'budget', not both"),
    ],
)
def test_bad_rules_and_budgets_get_the_error_envelope(proxy, field: dict[str, Any], fragment: str) -> None:
    error = error_of(post(proxy, {"query": MATH, **field}))
    name = "rule" if "rule" in field else "budget"
    assert fragment in error["message"] and error["param"] == name and error["code"] == "invalid_value"


def test_a_refused_budget_is_a_400_before_any_provider_call(proxy, provider: FakeProvider) -> None:
    body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": MATH}], "budget": BELOW_FLOOR}
    error = error_of(post(proxy, body, "/v1/chat/completions"))
    assert error["param"] == "budget" and provider.requests == []


# -- the policy router ---------------------------------------------------------------------------
def test_a_policy_router_takes_its_rules_and_refuses_a_budget_under_the_policy(policy_proxy, policy_dir) -> None:
    router = load_router(policy_dir)
    assert post(policy_proxy, {"query": MATH}).json()["rule"] == "policy"
    body = post(policy_proxy, {"query": MATH, "rule": "chebyshev"}).json()
    assert body["rule"] == "chebyshev" and body["llm_id"] == router.route(MATH, rule="chebyshev").llm_id
    body = post(policy_proxy, {"query": MATH, "rule": "linear", "budget": 0.3}).json()
    assert body["llm_id"] == router.route(MATH, rule="linear", budget=0.3).llm_id and body["budget"] == 0.3

    error = error_of(post(policy_proxy, {"query": MATH, "rule": "pareto"}))
    assert "expected one of policy, linear, chebyshev" in error["message"] and error["param"] == "rule"
    error = error_of(post(policy_proxy, {"query": MATH, "budget": 0.3}))  # the policy rule: no budget
    assert "not the policy" in error["message"] and error["param"] == "budget"


# -- batching ------------------------------------------------------------------------------------
def test_a_refused_request_does_not_fail_its_batch_neighbours(library) -> None:
    """Requests queued together are routed in one batch, grouped by call: the refused groups (a
    budget below the floor, a budget under a rule it cannot calibrate) fail alone."""
    config = parse_config(serve_config("http://127.0.0.1:9", Path("/tmp/unused.sqlite")))
    bodies = [
        {"query": MATH},
        {"query": MATH, "budget": BELOW_FLOOR},
        {"query": MATH, "rule": "chebyshev"},
        {"query": MATH, "budget": TIGHT_BUDGET},
        {"query": "python function that returns a list", "budget": BELOW_FLOOR},
        {"query": "python function that returns a list", "alpha": 0.3},
    ]
    requests = [parse_request(b, config, library.llm_ids, library.llm_ids, needs_model=False)[0] for b in bodies]
    metrics = Metrics()

    async def route_together() -> list[Any]:
        service = RoutingService(library, metrics)
        service.start()
        try:
            return await asyncio.gather(*(service.route(r) for r in requests), return_exceptions=True)
        finally:
            await service.close()

    results = asyncio.run(route_together())
    assert metrics.routing_batch.n == 1 and metrics.routing_batch.total == len(bodies)  # one batch
    for body, result in zip(bodies, results, strict=True):
        if body.get("budget") == BELOW_FLOOR:
            assert isinstance(result, APIError) and result.status == 400 and result.param == "budget"
        else:
            keywords = {k: v for k, v in body.items() if k != "query"}
            assert result.decision.llm_id == library.route(body["query"], **keywords).llm_id, body


# -- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"rule": 3}, "routing.rule: Input should be a valid string"),
        ({"budget": -1}, "routing.budget: Input should be greater than or equal to 0"),
        ({"budget": "x"}, "routing.budget: Input should be a valid number"),
        ({"alpha": 0.5, "budget": 0.3}, "routing: give either alpha or budget, not both"),
    ],
)
def test_bad_rule_and_budget_values_are_config_errors(routing: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="serve config: ") as caught:
        parse_config({"llms": {"big": {"base_url": "http://127.0.0.1:9/v1"}}, "routing": routing})
    assert message in str(caught.value)


def test_rules_and_budgets_are_checked_against_the_router(library, tmp_path: Path) -> None:
    raw = serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite")
    raw["routing"]["rule"] = "pareto"
    raw["profiles"] |= {"floor": {"budget": BELOW_FLOOR}, "ok": {"budget": TIGHT_BUDGET, "rule": "chebyshev"}}
    config = parse_config(raw)
    problems = check_config(config, TOPIC_LLMS, environ(), router=library).problems
    assert problems == (
        "routing.rule: unknown routing rule 'pareto'; expected one of linear, chebyshev",
        "profiles.floor.budget: budget cap 0.005 per query is below what the cheapest routing spends on the "
        "calibration queries (0.01 per query)",
    )
    assert check_config(config, TOPIC_LLMS, environ()).ok  # without the router, nothing to check them on
    with pytest.raises(ConfigError, match=r"routing\.rule: unknown routing rule 'pareto'"):
        create_app(ServeSettings(config=config, router=library, environ=environ()))


def test_serve_check_reports_a_budget_below_the_floor(router_dir: Path, tmp_path: Path) -> None:
    raw = serve_config("http://127.0.0.1:9", tmp_path / "d.sqlite")
    raw["profiles"]["floor"] = {"budget": BELOW_FLOOR, "rule": "chebyshev"}
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(cli, ["serve", str(router_dir), "--config", str(config), "--check"], env=environ())
    assert res.exit_code == 1 and "profiles.floor.budget: budget cap 0.005 per query is below" in res.output
