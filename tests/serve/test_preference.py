"""A per-request ``preference`` (weight of cost against quality 1) over real HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from irtrouter.routing import load_router
from tests.serve.conftest import CLIENT_KEY
from tests.serve.fake_upstream import FakeProvider, ServerThread

CODE = "python function that returns a list"


def post(server: ServerThread, body: dict) -> httpx.Response:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(f"{server.url}/v1/route", json=body, headers=headers, timeout=30)


def test_an_irt_router_reads_preference_as_alpha(proxy, router_dir: Path) -> None:
    response = post(proxy, {"query": CODE, "preference": 0.5})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = load_router(router_dir).route(CODE, alpha=1.0, beta=0.5)
    assert body["llm_id"] == expected.llm_id and body["alpha"] == pytest.approx(1 / 1.5, abs=1e-6)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"preference": -1}, "finite number >= 0"),
        ({"preference": "cheap"}, "finite number >= 0"),
        ({"preference": True}, "finite number >= 0"),
        ({"preference": 0.5, "alpha": 0.5}, "not both"),
    ],
)
def test_bad_preferences_get_the_error_envelope(proxy, body: dict, fragment: str) -> None:
    response = post(proxy, {"query": CODE, **body})
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error["message"] and error["param"] == "preference" and error["code"] == "invalid_value"


def test_a_policy_router_routes_by_the_requested_preference(policy_proxy, policy_dir: Path) -> None:
    router = load_router(policy_dir)
    for w in (0.0, 0.7, 2.0):
        response = post(policy_proxy, {"query": CODE, "preference": w})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["preference"] == pytest.approx(w) and body["router"] == "llm-bandit"
        assert body["llm_id"] == router.route(CODE, preference=w).llm_id
    response = post(policy_proxy, {"query": CODE, "preference": 2.5})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "preference w must lie in [0, 2]" in error["message"] and error["param"] == "preference"


def test_preference_is_not_forwarded_to_the_provider(policy_proxy, provider: FakeProvider) -> None:
    client = openai.OpenAI(base_url=f"{policy_proxy.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    completion = client.chat.completions.create(
        model="irtrouter/auto", messages=[{"role": "user", "content": CODE}], extra_body={"preference": 1.0}
    )
    assert completion.model_extra["irtrouter"]["preference"] == pytest.approx(1.0)
    assert provider.requests and "preference" not in provider.requests[-1]
