"""The service's side of learning from traffic, through the real server and SQLite: what each
decision keeps (embedding, propensity, router version), exploration, promotion and roll-back
without a restart (admin endpoint and ``--watch``), bad feedback, drift in ``/metrics``."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from irtrouter.online.drift import drift_stats
from irtrouter.routing import load_router
from irtrouter.routing.persistence import Lineage, read_router_dir, router_version_id, write_router_dir
from irtrouter.serve import ServeSettings, create_app, parse_config
from tests.serve.conftest import CLIENT_KEY, environ, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

ADMIN_KEY = "admin-key-for-tests-0123456789"
MATH = "solve the integral of this equation with algebra"
CODE = "python function that returns a list"
SHARE, TOP_K = 0.3, 3


@pytest.fixture(scope="module")
def child_dir(router_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A router learnt from ``router_dir`` (version 1, its parent named in the lineage)."""
    config, arrays = read_router_dir(router_dir)
    path = tmp_path_factory.mktemp("serve-child") / "v1"
    return write_router_dir(path, config, arrays, Lineage().child(str(router_dir), {"n_feedback": 0}, time.time()))


@contextmanager
def serving(
    router_dir: Path, provider_url: str, db: Path, *, watch: Path | None = None, admin: bool = True, **edits: Any
) -> Iterator[ServerThread]:
    """The real service on loopback with the admin key, ``edits`` merged into its config sections."""
    raw = serve_config(provider_url, db)
    if admin:
        raw["auth"]["admin_key_env"] = "TEST_ADMIN_KEY"
    for section, values in edits.items():
        raw[section] = {**raw.get(section, {}), **values}
    settings = ServeSettings(
        config=parse_config(raw),
        router=load_router(router_dir),
        environ={**environ(), "TEST_ADMIN_KEY": ADMIN_KEY},
        router_dir=router_dir,
        watch=watch,
    )
    with ServerThread(create_app(settings)) as server:
        yield server


def http(server: ServerThread, key: str = CLIENT_KEY) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"]
    return body["error"]


# -- what every decision keeps -------------------------------------------------------------------
def test_feedback_joins_its_decision_with_embedding_propensity_and_version(
    router_dir: Path, provider: FakeProvider, provider_server, tmp_path: Path
) -> None:
    db = tmp_path / "d.sqlite"
    with serving(router_dir, provider_server[1].url, db, storage={"store_text": False}) as server, http(server) as c:
        routed = c.post("/v1/route", json={"query": MATH}).json()
        chat = c.post(
            "/v1/chat/completions", json={"model": "irtrouter/auto", "messages": [{"role": "user", "content": CODE}]}
        )
        assert chat.status_code == 200
        ids = [routed["request_id"], chat.headers["x-irtrouter-request-id"]]
        for request_id, score in zip(ids, (0.25, 1.0), strict=True):
            assert c.post("/v1/feedback", json={"request_id": request_id, "score": score}).status_code == 200
    joined = rows(
        db,
        "SELECT d.request_id, d.query_text, d.query_embedding, d.propensity, d.router_version, f.score "
        "FROM decisions d JOIN feedback f ON f.request_id = d.request_id ORDER BY f.id",
    )
    assert [r["request_id"] for r in joined] == ids and [r["score"] for r in joined] == [0.25, 1.0]
    router = load_router(router_dir)
    expected = router.embed([MATH, CODE])
    for row, x in zip(joined, expected, strict=True):
        assert row["query_text"] is None  # store_text false: no text, but what learning needs
        assert len(row["query_embedding"]) == 4 * router.embedder_.dim
        np.testing.assert_allclose(np.frombuffer(row["query_embedding"], dtype="<f4"), x, rtol=0, atol=1e-6)
        assert row["propensity"] == 1.0 and row["router_version"] == router_version_id(router_dir)
    assert routed["router_version"] == router_version_id(router_dir) and routed["explored"] is False


def test_store_embedding_false_keeps_no_embedding(router_dir: Path, provider_server, tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    edits = {"storage": {"store_embedding": False}}
    with serving(router_dir, provider_server[1].url, db, **edits) as server, http(server) as c:
        request_id = c.post("/v1/route", json={"query": MATH}).json()["request_id"]
    (row,) = rows(db, "SELECT query_embedding, propensity FROM decisions WHERE request_id = ?", request_id)
    assert row["query_embedding"] is None and row["propensity"] == 1.0


# -- exploration ---------------------------------------------------------------------------------
def test_exploration_frequencies_and_exact_propensities(router_dir: Path, provider_server, tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    n = 400
    queries = [MATH, CODE, "write a poem about the sea", "what is the capital of france"]
    exploring = {"alpha": 0.8, "exploration": {"share": SHARE, "top_k": TOP_K}}
    with (
        serving(
            router_dir,
            provider_server[1].url,
            db,
            profiles={"explore": exploring},
            routing={"exploration": {"seed": 11}},
        ) as server,
        http(server) as c,
    ):
        answers = [
            c.post("/v1/route", json={"model": "irtrouter/explore", "query": queries[i % len(queries)]}).json()
            for i in range(n)
        ]
        plain = [c.post("/v1/route", json={"query": q}).json() for q in queries]
    router = load_router(router_dir)
    stored = {r["request_id"]: r["propensity"] for r in rows(db, "SELECT request_id, propensity FROM decisions")}
    others: Counter[str] = Counter()
    for i, a in enumerate(answers):
        e = a["exploration"]
        rule_choice = router.route(queries[i % len(queries)], alpha=0.8).llm_id
        assert e["rule_choice"] == rule_choice and e["candidates"][0] == rule_choice and len(e["candidates"]) == TOP_K
        assert a["llm_id"] in e["candidates"] and a["fallback_order"][0] == a["llm_id"]
        exact = 1 - SHARE + SHARE / TOP_K if a["llm_id"] == rule_choice else SHARE / TOP_K
        assert a["propensity"] == pytest.approx(exact, rel=1e-12) and stored[a["request_id"]] == a["propensity"]
        assert a["explored"] == (a["llm_id"] != rule_choice)
        if a["explored"]:
            others[str(e["candidates"].index(a["llm_id"]))] += 1
    # Each of the k - 1 other candidates is drawn with probability share / k: 40 of 400 expected,
    # binomial sd 6; bounds at 5 sd fail only for a wrong rate, never by chance.
    for rank in ("1", "2"):
        assert 10 <= others[rank] <= 70, others
    assert all(p["propensity"] == 1.0 and p["explored"] is False and "exploration" not in p for p in plain)


# -- promote and roll back -----------------------------------------------------------------------
def test_promote_and_roll_back_under_load_lose_nothing(
    router_dir: Path, child_dir: Path, provider: FakeProvider, provider_server, tmp_path: Path
) -> None:
    db = tmp_path / "d.sqlite"
    v0, v1 = router_version_id(router_dir), router_version_id(child_dir)
    answers: list[tuple[float, float, int, str | None, str | None]] = []  # sent, received, status, id, version
    feedback_ids: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(k: int, url: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {CLIENT_KEY}"}, timeout=30) as c:
            i = 0
            while not stop.is_set():
                sent = time.monotonic()
                if i % 2:
                    body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": f"{MATH} {k} {i}"}]}
                    r = c.post("/v1/chat/completions", json=body)
                    routing = r.json().get("irtrouter", {})
                else:
                    r = c.post("/v1/route", json={"query": f"{CODE} {k} {i}"})
                    routing = r.json()
                got = (sent, time.monotonic(), r.status_code, routing.get("request_id"), routing.get("router_version"))
                fb = c.post("/v1/feedback", json={"request_id": got[3], "score": 0.5}) if got[3] else None
                with lock:
                    answers.append(got)
                    if fb is not None and fb.status_code == 200:
                        feedback_ids.append(fb.json()["id"])
                i += 1

    with serving(router_dir, provider_server[1].url, db) as server, http(server, ADMIN_KEY) as admin:
        assert httpx.get(f"{server.url}/healthz").json()["router"]["version"] == v0
        threads = [threading.Thread(target=client, args=(k, server.url)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        promoted = admin.post("/admin/router", json={"path": str(child_dir)})
        acked_promote = time.monotonic()
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["version"] == v1 and promoted.json()["previous_version"] == v0
        parent = promoted.json()["parent"]
        assert parent == str(router_dir)
        time.sleep(0.7)
        assert httpx.get(f"{server.url}/healthz").json()["router"]["version"] == v1
        rollback_sent = time.monotonic()
        rolled = admin.post("/admin/router", json={"path": parent})  # rolling back = promoting the parent
        acked_rollback = time.monotonic()
        assert rolled.status_code == 200 and rolled.json()["version"] == v0
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert httpx.get(f"{server.url}/healthz").json()["router"]["version"] == v0
    assert answers and all(status == 200 for _, _, status, _, _ in answers), Counter(a[2] for a in answers)
    stored = {
        r["request_id"]: r["router_version"] for r in rows(db, "SELECT request_id, router_version FROM decisions")
    }
    assert all(stored.get(rid) == version for _, _, _, rid, version in answers)  # no acknowledged row lost
    assert {r["id"] for r in rows(db, "SELECT id FROM feedback")} >= set(feedback_ids)
    assert {version for *_, version in answers} == {v0, v1}
    # Sent after the promotion was acknowledged, answered before the roll-back was sent: the new one.
    between = [v for sent, got, _, _, v in answers if sent > acked_promote and got < rollback_sent]
    after = [v for sent, _, _, _, v in answers if sent > acked_rollback]
    assert between and set(between) == {v1}
    assert after and set(after) == {v0}


def test_a_failed_load_keeps_the_old_router_serving(router_dir: Path, provider_server, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(router_dir, broken)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    v0 = router_version_id(router_dir)
    with serving(router_dir, provider_server[1].url, tmp_path / "d.sqlite") as server, http(server, ADMIN_KEY) as a:
        for path in (str(tmp_path / "missing"), str(broken)):
            error = error_of(a.post("/admin/router", json={"path": path}), 400)
            assert error["code"] == "router_load_failed" and path in error["message"]
            health = httpx.get(f"{server.url}/healthz").json()["router"]
            assert health["version"] == v0 and path in health["last_error"]
        with http(server) as c:
            assert c.post("/v1/route", json={"query": MATH}).json()["router_version"] == v0
        metrics = httpx.get(f"{server.url}/metrics").text
    assert 'irtrouter_router_loads_total{result="failed"} 2' in metrics
    assert f'irtrouter_router_info{{version="{v0}"}} 1' in metrics


def test_admin_endpoint_takes_the_admin_key_only(router_dir: Path, child_dir: Path, provider_server, tmp_path) -> None:
    with serving(router_dir, provider_server[1].url, tmp_path / "a.sqlite") as server:
        body = {"path": str(child_dir)}
        assert error_of(httpx.post(f"{server.url}/admin/router", json=body), 401)["code"] == "invalid_api_key"
        with http(server) as client:  # a client key is not an admin key
            assert error_of(client.post("/admin/router", json=body), 401)["code"] == "invalid_api_key"
        with http(server, ADMIN_KEY) as admin:
            assert error_of(admin.post("/admin/router", json={"dir": "x"}), 400)["param"] == "path"
            assert error_of(admin.post("/admin/router", content=b"{oops"), 400)["code"] == "invalid_json"
            live = admin.get("/admin/router").json()
            assert live["version"] == router_version_id(router_dir) and live["directory"] == str(router_dir.resolve())
    off = serving(router_dir, provider_server[1].url, tmp_path / "b.sqlite", admin=False)
    with off as server, http(server, ADMIN_KEY) as admin:
        assert error_of(admin.post("/admin/router", json=body), 403)["code"] == "admin_disabled"


def test_watch_pointer_promotes_and_rolls_back(router_dir: Path, child_dir: Path, provider_server, tmp_path) -> None:
    pointer = tmp_path / "live-router.txt"
    pointer.write_text(str(router_dir), encoding="utf-8")
    v0, v1 = router_version_id(router_dir), router_version_id(child_dir)

    def live(server: ServerThread, until: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while True:
            router = httpx.get(f"{server.url}/healthz").json()["router"]
            if until(router) or time.monotonic() > deadline:
                return router
            time.sleep(0.05)

    with serving(
        router_dir, provider_server[1].url, tmp_path / "d.sqlite", watch=pointer, server={"watch_interval": 0.05}
    ) as server:
        pointer.write_text(str(child_dir) + "\n", encoding="utf-8")
        assert live(server, lambda r: r["version"] == v1)["version"] == v1
        pointer.write_text(str(tmp_path / "no-such-router"), encoding="utf-8")
        failed = live(server, lambda r: r["last_error"])
        assert failed["version"] == v1 and "no-such-router" in failed["last_error"]
        shutil.copytree(router_dir, tmp_path / "v0-copy")
        pointer.write_text("v0-copy", encoding="utf-8")  # relative to the pointer's folder
        back = live(server, lambda r: r["version"] == v0)
        assert back["version"] == v0 and back["directory"] == str((tmp_path / "v0-copy").resolve())
        assert back["last_error"] is None


# -- bad feedback --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "status", "param"),
    [
        ('{"request_id": "irt-no-such-request", "score": 1}', 404, "request_id"),
        ('{"request_id": "ID", "score": 1.5}', 400, "score"),
        ('{"request_id": "ID", "score": -0.01}', 400, "score"),
        ('{"request_id": "ID", "score": NaN}', 400, "score"),
        ('{"request_id": "ID", "score": Infinity}', 400, "score"),
        ('{"request_id": "ID", "score": -Infinity}', 400, "score"),
        ('{"request_id": "ID", "score": "0.5"}', 400, "score"),
        ('{"request_id": "ID", "score": true}', 400, "score"),
        ('{"request_id": "ID", "score": null}', 400, "score"),
        ('{"request_id": "ID"}', 400, "score"),
        ('{"request_id": "ID", "score": 1e400}', 400, "score"),
        ('{"request_id": 7, "score": 1}', 400, "request_id"),
        ('{"request_id": "ID", "score": 1, "comment": 3}', 400, "comment"),
        ('{"request_id": "ID", "score": 1, "extra": 3}', 400, "extra"),
        ('["ID", 1]', 400, None),
    ],
)
def test_bad_feedback_gets_a_4xx_and_stores_nothing(
    proxy: ServerThread, proxy_db: Path, content: str, status: int, param: str | None
) -> None:
    with http(proxy) as c:
        request_id = c.post("/v1/route", json={"query": MATH}).json()["request_id"]
        before = rows(proxy_db, "SELECT COUNT(*) AS n FROM feedback")[0]["n"]
        response = c.post(
            "/v1/feedback", content=content.replace("ID", request_id), headers={"Content-Type": "application/json"}
        )
    assert error_of(response, status)["param"] == param
    assert rows(proxy_db, "SELECT COUNT(*) AS n FROM feedback")[0]["n"] == before


def test_a_second_score_is_stored_and_the_last_one_wins(proxy: ServerThread, proxy_db: Path) -> None:
    with http(proxy) as c:
        request_id = c.post("/v1/route", json={"query": CODE}).json()["request_id"]
        acks = [c.post("/v1/feedback", json={"request_id": request_id, "score": s}) for s in (0.0, 1.0)]
    assert [a.status_code for a in acks] == [200, 200] and acks[0].json()["id"] < acks[1].json()["id"]
    stored = rows(proxy_db, "SELECT score FROM feedback WHERE request_id = ? ORDER BY id", request_id)
    assert [r["score"] for r in stored] == [0.0, 1.0]  # the learner reads the last row: 1.0


# -- drift ---------------------------------------------------------------------------------------
def gauge(metrics: str, name: str, llm_id: str) -> float:
    match = re.search(rf'^irtrouter_drift_{name}{{llm_id="{re.escape(llm_id)}"}} (\S+)$', metrics, re.MULTILINE)
    assert match, f"no irtrouter_drift_{name} for {llm_id}"
    return float(match.group(1))


def test_drift_gauges_follow_feedback_against_p_hat(router_dir: Path, provider_server, tmp_path: Path) -> None:
    """Every answer of math-small scored 0 although its P-hat is high: the window's Brier score is
    mean P^2 and the CUSUM flags it; code-small, scored exactly as predicted, is not flagged."""
    db = tmp_path / "d.sqlite"
    with serving(router_dir, provider_server[1].url, db) as server, http(server) as c:
        ids = {"math-small": [], "code-small": []}
        for i in range(40):
            for llm_id, query in (("math-small", MATH), ("code-small", CODE)):
                body = {"model": llm_id, "messages": [{"role": "user", "content": f"{query} {i}"}]}
                r = c.post("/v1/chat/completions", json=body)
                assert r.status_code == 200 and r.json()["model"] == llm_id
                ids[llm_id].append(r.headers["x-irtrouter-request-id"])
        p = {
            m: [json.loads(rows(db, "SELECT p_hat FROM decisions WHERE request_id = ?", i)[0]["p_hat"])[m] for i in got]
            for m, got in ids.items()
        }
        for i in ids["math-small"]:
            assert c.post("/v1/feedback", json={"request_id": i, "score": 0.0}).status_code == 200
        for i, pi in zip(ids["code-small"], p["code-small"], strict=True):
            assert c.post("/v1/feedback", json={"request_id": i, "score": pi}).status_code == 200
        metrics = httpx.get(f"{server.url}/metrics").text
    pm, pc = np.array(p["math-small"]), np.array(p["code-small"])
    expected = {
        "math-small": drift_stats("math-small", pm, np.zeros(40)),
        "code-small": drift_stats("code-small", pc, pc),
    }
    for llm_id, stats in expected.items():
        assert gauge(metrics, "feedback", llm_id) == 40
        for name, value in (("brier", stats.brier), ("expected_brier", stats.expected_brier),
                            ("log_loss", stats.log_loss), ("cusum_down", stats.cusum.down)):  # fmt: skip
            assert gauge(metrics, name, llm_id) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    # Computed here from the stored P-hat, independently of the library: scored 0 against a high P.
    assert gauge(metrics, "brier", "math-small") == pytest.approx(np.mean(pm**2), rel=1e-9)
    assert gauge(metrics, "mean_score", "math-small") == 0 and gauge(metrics, "mean_p_hat", "math-small") > 0.5
    assert gauge(metrics, "flagged", "math-small") == 1
    assert gauge(metrics, "brier", "code-small") == 0 and gauge(metrics, "flagged", "code-small") == 0
