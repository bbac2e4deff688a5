"""The service's own work per ``/v1/route`` request, piece by piece, in one process (no HTTP).

Builds the app the way ``irtrouter serve`` does (``irtrouter.serve.workers.settings_for``: one
BLAS thread) for ROUTER_DIR, then times each step a ``/v1/route`` request takes on the event loop
(body parsing, request fields, capabilities, sessions, cost estimate, the routing object, the
decision record and its row, a SQLite commit like the store's, the response body with the
standard library as before and with orjson as now) and the decision on the routing thread
(``route_many_embedded`` on one embedded query), each alone over the first ``--queries`` LLMRouter
test queries: microseconds per request, mean over the queries after one warm-up call.

    python benchmarks/serve_overhead.py ROUTER_DIR [--queries 300]

ROUTER_DIR: a router trained on real data, e.g.
``irtrouter train ../shared/data/llmrouter --predictor mirt --out runs/llmrouter``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

import irtrouter.serve.proxy as proxy
from irtrouter.data import default_data_root, load_benchmark
from irtrouter.serve.app import _reject_lone_surrogates, create_app
from irtrouter.serve.config import load_config
from irtrouter.serve.encoding import FastJSONResponse
from irtrouter.serve.routing import Routed, RoutingCall, estimate_cost, fallback_order
from irtrouter.serve.workers import WorkerSpec, settings_for
from irtrouter.store.base import DECISION_COLUMNS
from irtrouter.store.records import SCHEMA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("router_dir")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="serve-overhead-"))
    llm_ids = json.loads((Path(args.router_dir) / "config.json").read_text())["llms"]
    raw = {
        "llms": {m["llm_id"]: {"base_url": "http://127.0.0.1:9/v1"} for m in llm_ids},
        "storage": {"url": f"sqlite:///{tmp / 'decisions.sqlite'}"},
    }
    (tmp / "serve.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp / "serve.yaml")
    app = create_app(settings_for(WorkerSpec(args.router_dir, str(tmp / "serve.yaml")), config=config))
    service = app.state.service
    router = service.router
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    queries = list(bench.test.queries)[: args.queries]
    n = len(queries)
    raws = [json.dumps({"query": q}).encode() for q in queries]
    bodies = [json.loads(r) for r in raws]
    requests = [service.parse(b, False)[0] for b in bodies]
    X = router.embed(queries)
    call = RoutingCall(requests[0].alpha, None, None, router.resolve_rule(None), requests[0].allowed_llms)
    decisions = [call.route(router, X[i : i + 1], [queries[i]])[0] for i in range(n)]
    costs = [estimate_cost(router, r, config.routing.default_max_tokens) for r in requests]
    routed = [
        Routed(d, fallback_order(d), c, 0.005, "v0", 1.0, None, x) for d, c, x in zip(decisions, costs, X, strict=True)
    ]
    objects = [r.routing_object("irt-x", q) for r, q in zip(routed, requests, strict=True)]
    records = [
        service.record("irt-x", "route", q, r, o, "routed") for q, r, o in zip(requests, routed, objects, strict=True)
    ]
    headers = [proxy.headers(r, "irt-x", None) for r in routed]
    conn = sqlite3.connect(tmp / "commits.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    insert = f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) VALUES ({', '.join('?' * len(DECISION_COLUMNS))})"

    def commit(i: int) -> None:
        records[i].request_id = f"irt-{uuid.uuid4().hex}"
        values = records[i].row(DECISION_COLUMNS)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(insert, values)
        conn.execute("COMMIT")

    plain = Headers({"content-type": "application/json"})
    pieces: list[tuple[str, Callable[[int], object]]] = [
        ("`json.loads` of the body", lambda i: json.loads(raws[i])),
        ("unpaired-surrogate check of the body", lambda i: _reject_lone_surrogates(bodies[i])),
        ("`parse_request` (fields, profile, allowed LLMs)", lambda i: service.parse(bodies[i], False)),
        ("`capabilities.narrow`", lambda i: service.capabilities.narrow(requests[i], {})),
        ("`sessions.key`", lambda i: service.sessions.key(plain, {})),
        ("`estimate_cost`", lambda i: estimate_cost(router, requests[i], config.routing.default_max_tokens)),
        ("`fallback_order`", lambda i: fallback_order(decisions[i])),
        ("`RoutingDecision.to_dict`", lambda i: decisions[i].to_dict()),
        ("`routing_object` (`to_dict` included)", lambda i: routed[i].routing_object("irt-x", requests[i])),
        ("request id (`uuid4`)", lambda i: f"irt-{uuid.uuid4().hex}"),
        (
            "`service.record` (the `DecisionRecord`, sha256 of the query)",
            lambda i: service.record("irt-x", "route", requests[i], routed[i], objects[i], "routed"),
        ),
        ("`DecisionRecord.row` (two `json.dumps`; store/records.py)", lambda i: records[i].row(DECISION_COLUMNS)),
        ("SQLite commit of one decision (BEGIN / INSERT / COMMIT, WAL, normal; row included)", commit),
        ("`proxy.headers`", lambda i: proxy.headers(routed[i], "irt-x", None)),
        (
            "response body, stdlib `json` as Starlette's `JSONResponse` (before)",
            lambda i: JSONResponse({"object": "irtrouter.route", **objects[i]}, headers=headers[i]),
        ),
        (
            "response body, orjson (`serve/encoding.py`, now)",
            lambda i: FastJSONResponse({"object": "irtrouter.route", **objects[i]}, headers=headers[i]),
        ),
        (
            "`route_many_embedded`, one embedded query (routing thread; routing/)",
            lambda i: call.route(router, X[i : i + 1], [queries[i]]),
        ),
    ]
    print(f"router {args.router_dir}, {n} queries, load average {os.getloadavg()[0]:.1f}\n")
    print("| piece | us per request |\n|---|---|")
    for name, piece in pieces:
        piece(0)
        started = time.perf_counter()
        for i in range(n):
            piece(i)
        print(f"| {name} | {(time.perf_counter() - started) / n * 1e6:.1f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
