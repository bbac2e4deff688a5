"""Hypothesis-generated request bodies against the running service: never a 500, always the envelope.

Bodies are drawn near the valid shape (every field sometimes right, sometimes any JSON value)
plus arbitrary JSON and arbitrary bytes, and sent over real HTTP. The number of cases per
endpoint is ``$IRTROUTER_FUZZ_EXAMPLES`` (default 150; the closing note of issue 5 used 2000).
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import TOPIC_LLMS
from tests.serve.conftest import CLIENT_KEY

EXAMPLES = int(os.environ.get("IRTROUTER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a CI failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=200)
content = (
    texts
    | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url"]), "text": texts}), max_size=3)
    | json_values
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool"]) | json_values},
    optional={"content": content, "name": texts},
)
models = (
    st.sampled_from(["irtrouter/auto", "irtrouter/cheap", "irtrouter/none", *TOPIC_LLMS, "gpt-x", ""]) | json_values
)
chat_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": models,
        "messages": st.lists(message, max_size=4) | json_values,
        "alpha": st.floats(-0.5, 1.5) | json_values,
        "preference": st.floats(-1, 5) | json_values,
        "budget": st.floats(-0.5, 1.5) | json_values,
        "rule": st.sampled_from(["linear", "chebyshev", "policy", "pareto", ""]) | json_values,
        "allowed_llms": st.lists(st.sampled_from([*TOPIC_LLMS, "gpt-x"]), max_size=3) | json_values,
        "max_cost": st.floats(-1, 0.02) | json_values,
        "max_tokens": st.integers(-5, 100) | json_values,
        "stream": st.booleans() | json_values,
        "temperature": json_values,
        "query": texts | json_values,
    },
)
# Mostly-valid bodies reach routing, the provider call and streaming, where the subtle bugs are.
user_turns = st.lists(
    st.fixed_dictionaries({"role": st.just("user"), "content": st.text(min_size=1, max_size=200)}),
    min_size=1,
    max_size=2,
)
valid_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(["irtrouter/auto", "irtrouter/cheap", *TOPIC_LLMS]), "messages": user_turns},
    optional={
        "alpha": st.floats(0, 1),
        "budget": st.floats(0, 1),
        "rule": st.sampled_from(["linear", "chebyshev"]),
        "allowed_llms": st.lists(st.sampled_from(TOPIC_LLMS), min_size=1, max_size=3, unique=True),
        "max_cost": st.floats(1e-7, 0.02),
        "max_tokens": st.integers(1, 4096),
        "stream": st.booleans(),
        "temperature": json_values,
    },
)
# Valid JSON that is not valid text: an unpaired surrogate escape inside a message.
lone_surrogates = st.builds(
    lambda text, code: (
        json.dumps({"model": "irtrouter/auto", "messages": [{"role": "user", "content": text}]})
        .replace('"content": "', f'"content": "\\u{code:04x}', 1)
        .encode()
    ),
    texts,
    st.integers(0xD800, 0xDFFF),
)
feedback_bodies = st.fixed_dictionaries(
    {},
    optional={
        "request_id": texts | json_values,
        "score": st.floats(-1, 2) | json_values,
        "comment": texts | json_values,
    },
)


def _encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


class Tally:
    def __init__(self) -> None:
        self.cases = 0
        self.by_status: dict[int, int] = {}


def _check(client: httpx.Client, path: str, body: Any, tally: Tally) -> None:
    response = client.post(path, content=_encode(body))
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        response.read()
    tally.cases += 1
    tally.by_status[response.status_code] = tally.by_status.get(response.status_code, 0) + 1
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]


@pytest.fixture
def http(proxy) -> httpx.Client:
    with httpx.Client(base_url=proxy.url, headers={"Authorization": f"Bearer {CLIENT_KEY}"}, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/route"])
def test_fuzz_routing_endpoints(http, provider_server, path: str) -> None:
    tally = Tally()

    @FUZZ
    @given(body=valid_bodies | chat_bodies | json_values | lone_surrogates | st.binary(max_size=64))
    def run(body: Any) -> None:
        _check(http, path, body, tally)

    run()
    print(f"fuzz {path}: {tally.cases} cases, statuses {dict(sorted(tally.by_status.items()))}")
    assert tally.by_status.get(200, 0) > 0 and tally.cases >= EXAMPLES  # the valid region was reached


def test_fuzz_feedback(http, provider_server) -> None:
    tally = Tally()
    known = http.post("/v1/route", json={"query": "python list function"}).json()["request_id"]
    bodies = feedback_bodies | st.fixed_dictionaries(
        {"request_id": st.just(known), "score": st.floats(0, 1) | json_values},
        optional={"comment": texts | json_values},
    )

    @FUZZ
    @given(body=bodies | json_values | st.binary(max_size=64))
    def run(body: Any) -> None:
        _check(http, "/v1/feedback", body, tally)

    run()
    print(f"fuzz /v1/feedback: {tally.cases} cases, statuses {dict(sorted(tally.by_status.items()))}")
    assert tally.by_status.get(200, 0) > 0 and tally.cases >= EXAMPLES
