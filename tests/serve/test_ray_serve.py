"""The service as a Ray Serve deployment (2 replicas on a local Ray of 2 CPUs), over HTTP with the
openai client, in front of the fake provider: every request is answered and recorded in the one
SQLite store the replicas share. One deployment for the module: Ray Serve takes seconds to start."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from irtrouter.errors import ConfigError
from irtrouter.serve import parse_config
from tests.helpers import TOPIC_LLMS
from tests.serve.conftest import CLIENT_KEY, environ, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")
from irtrouter.serve.ray import APP_NAME, DEPLOYMENT_NAME, deployment_options, run_service  # noqa: E402  (needs ray)

REQUESTS = 24
QUERIES = ["Solve for x: 3x + 5 = 20", "Write a Python function that reverses a list", "What is the capital of Peru?"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ray_service(
    router_dir: Path, provider_server: tuple[FakeProvider, ServerThread], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    db = tmp_path_factory.mktemp("ray-serve-db") / "decisions.sqlite"
    raw = serve_config(provider_server[1].url, db, ray={"replicas": 2, "num_cpus": 0.5})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        url = run_service(
            str(router_dir), parse_config(raw), host="127.0.0.1", port=free_port(), environ=environ(), blocking=False
        )
        yield url, db
    finally:
        serve.shutdown()
        ray.shutdown()


def test_two_replicas_answer_the_openai_client_and_record_every_request(
    ray_service: tuple[str, Path], provider_server: tuple[FakeProvider, ServerThread]
) -> None:
    url, db = ray_service
    replicas = serve.status().applications[APP_NAME].deployments[DEPLOYMENT_NAME].replica_states
    assert replicas == {"RUNNING": 2}
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)

    def ask(i: int) -> tuple[str, str, str]:
        raw = client.chat.completions.with_raw_response.create(
            model="irtrouter/auto", messages=[{"role": "user", "content": QUERIES[i % len(QUERIES)]}]
        )
        completion = raw.parse()
        return raw.headers["x-irtrouter-request-id"], completion.model, completion.choices[0].message.content or ""

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(REQUESTS)))
    assert all(model in TOPIC_LLMS and text == f"answer from prov-{model}" for _, model, text in answers)
    ids = [request_id for request_id, _, _ in answers]
    assert len(set(ids)) == REQUESTS

    # Feedback for each request, answered by whichever replica gets it: the log is shared.
    for request_id in ids[:6]:
        ack = httpx.post(
            f"{url}/v1/feedback",
            json={"request_id": request_id, "score": 1.0},
            headers={"authorization": f"Bearer {CLIENT_KEY}"},
            timeout=60,
        )
        assert ack.status_code == 200, ack.text
    with pytest.raises(openai.AuthenticationError):  # the app's own errors come through the proxy unchanged
        openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()

    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT request_id, answered_by FROM decisions WHERE endpoint = 'chat'").fetchall())
        scored = {r for (r,) in conn.execute("SELECT request_id FROM feedback")}
    finally:
        conn.close()
    assert rows == {request_id: model for request_id, model, _ in answers}
    assert scored == set(ids[:6])


def test_ray_section_is_validated_and_becomes_serve_options() -> None:
    base = {"llms": {"a": {"base_url": "http://127.0.0.1:9/v1"}}}
    with pytest.raises(ConfigError, match="ray: give either replicas or autoscaling"):
        parse_config({**base, "ray": {"replicas": 2, "autoscaling": {}}})
    with pytest.raises(ConfigError, match="min_replicas 3 is above max_replicas 2"):
        parse_config({**base, "ray": {"autoscaling": {"min_replicas": 3, "max_replicas": 2}}})
    config = parse_config({**base, "ray": {"autoscaling": {"max_replicas": 6}, "num_cpus": 2}})
    options = deployment_options(config.ray, config.limits.max_concurrency)
    assert options["autoscaling_config"]["max_replicas"] == 6 and "num_replicas" not in options
    assert options["ray_actor_options"] == {"num_cpus": 2.0}
    assert deployment_options(config.ray, None, replicas=3)["num_replicas"] == 3  # --replicas wins


def test_replicas_and_address_go_with_ray(router_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from irtrouter.cli import cli

    args = ["serve", str(router_dir), "--config", str(tmp_path / "serve.yaml"), "--replicas", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--replicas and --address go with --ray" in result.stderr
