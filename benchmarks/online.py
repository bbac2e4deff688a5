"""Replay benchmark of learning from traffic (issue 13): a router that lacks an LLM learns it back.

On LLMRouter (``../shared/data/llmrouter`` via the data setting), with the hashing embedder (USE
is too slow for a 2-core replay) and the 2PL predictor:

* ``full``: trained on the first ``--train`` training queries with every LLM;
* ``v0``: trained the same way without LLM X (the LLM ``full`` routes most to), X then added from
  its catalog profile alone (``irtrouter onboard``'s profile path), as a newcomer would be.

The remaining training queries and the test queries are replayed in a seeded order through the
real service (``irtrouter serve`` as a subprocess, a fake provider on loopback answering
instantly): ``/v1/chat/completions``, then ``/v1/feedback`` with the real score of the LLM that
answered. Every ``--every`` requests ``irtrouter learn`` (``learn_router``) writes the next version
from the feedback since the current one, and the service is restarted on it (a restart, not the
admin reload, keeps the benchmark independent of the service's admin settings). Before each
switch, ``shadow_evaluate`` estimates the new version's Reward on the window just logged, and the
truth (the new version routing the same queries, scored with their real scores) says whether the
interval covers it.

Per window: the Reward (``100 (alpha score - beta cost / scale)``, ``scale`` the largest mean
per-query cost of one LLM on the replayed queries) of the live version and of ``full`` on the same
queries, X's routing share under both, and the agreement on X. Run twice: without and with
exploration (epsilon 0.1 over the top 3).

    python benchmarks/online.py [--train 3000] [--requests 1200] [--every 200] [--plot docs/img/online.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Process, run_provider

from irtrouter.data import default_data_root, load_benchmark
from irtrouter.evaluate.metrics import realised_costs
from irtrouter.onboard.newllm import onboard_llm
from irtrouter.online.learn import learn_router
from irtrouter.online.shadow import shadow_evaluate
from irtrouter.routing import IRTRouter, load_router
from irtrouter.store.reading import read_log

ALPHA = 0.8
KEY = "bench-client-key"


def train(results: Any, catalog: Any, out: Path) -> IRTRouter:
    router = IRTRouter(embedder="hashing:256", predictor="2pl", random_state=0)
    router.fit(results, catalog, use_cache=False)
    router.save(out)
    return router


def serve(router_dir: Path, provider_port: int, db: Path, llm_ids: list[str], share: float, tmp: Path) -> Process:
    config = {
        "llms": {m: {"base_url": f"http://127.0.0.1:{provider_port}/v1"} for m in llm_ids},
        "routing": {"alpha": ALPHA, "fallback_attempts": 0, "exploration": {"share": share, "top_k": 3, "seed": 0}},
        "auth": {"api_keys_env": ["BENCH_CLIENT_KEY"]},
        "storage": {"url": f"sqlite:///{db}", "store_text": False},
    }
    if share == 0:
        del config["routing"]["exploration"]  # type: ignore[attr-defined]
    (tmp / "serve.yaml").write_text(yaml.safe_dump(config))
    os.environ["BENCH_CLIENT_KEY"] = KEY
    args = [sys.executable, "-m", "irtrouter.cli", "serve", str(router_dir), "--config", str(tmp / "serve.yaml")]
    return Process([*args, "--port", "0"], r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def rule_choices(router: IRTRouter, queries: list[str], llm_ids: list[str]) -> np.ndarray:
    """The router's rule choices as indices into ``llm_ids`` (its own LLM order may differ)."""
    chosen = router.choose(router.predict(list(queries)), alpha=ALPHA)
    return np.array([llm_ids.index(router.llm_ids[j]) for j in chosen], dtype=np.int64)


def connect(service: Process) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{service.port}", headers={"Authorization": f"Bearer {KEY}"})


def reward(scores: np.ndarray, costs: np.ndarray, scale: float) -> np.ndarray:
    return 100.0 * (ALPHA * scores - (1 - ALPHA) * costs / scale)


def replay(args: argparse.Namespace, share: float, ctx: dict[str, Any]) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"online-{share:g}-"))
    db = tmp / "decisions.sqlite"
    queries, S, C, scale, llm_ids = ctx["queries"], ctx["scores"], ctx["costs"], ctx["scale"], ctx["llm_ids"]
    full_choice, x = ctx["full_choice"], ctx["x"]
    current, version = ctx["v0"], 0
    windows, coverage, rows_used = [], [], 0
    service = serve(current, ctx["provider_port"], db, llm_ids, share, tmp)
    client = connect(service)
    try:
        for start in range(0, args.requests, args.every):
            stop = min(start + args.every, args.requests)
            window_start = time.time()
            chosen = np.zeros(stop - start, dtype=np.int64)
            for k, i in enumerate(range(start, stop)):
                body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": queries[i]}]}
                routing = client.post("/v1/chat/completions", json=body, timeout=30).raise_for_status().json()
                answered = routing["irtrouter"]["llm_id"]
                j = llm_ids.index(answered)
                chosen[k] = j
                fb = {"request_id": routing["irtrouter"]["request_id"], "score": float(S[i, j])}
                client.post("/v1/feedback", json=fb, timeout=30).raise_for_status()
            rows = np.arange(start, stop)
            live_r = reward(S[rows, chosen], C[rows, chosen], scale).mean()
            full_r = reward(S[rows, full_choice[rows]], C[rows, full_choice[rows]], scale).mean()
            # What the live version routes by its rule alone (exploration aside), for the X comparison.
            rule_choice = rule_choices(load_router(current), queries[start:stop], llm_ids)
            windows.append({
                "version": version, "requests": f"{start}-{stop}", "feedback_before": rows_used,
                "reward_live": float(live_r), "reward_full": float(full_r),
                "x_share_live": float((rule_choice == x).mean()),
                "x_share_full": float((full_choice[rows] == x).mean()),
                "x_agreement": float(((rule_choice == x) == (full_choice[rows] == x)).mean()),
            })  # fmt: skip
            rows_used += stop - start
            if stop >= args.requests:
                break
            nxt = tmp / f"v{version + 1}"
            learn_router(current, f"sqlite:///{db}", nxt)
            cand = load_router(nxt)
            report = shadow_evaluate(cand, read_log(f"sqlite:///{db}", since=window_start), n_boot=500)
            cand_choice = rule_choices(cand, queries[start:stop], llm_ids)
            # Performance: the fake provider's token counts make the service's costs unlike the data's.
            truth = float(S[rows, cand_choice].mean())
            e = report.estimates["performance"]
            coverage.append({
                "window": f"{start}-{stop}", "truth": truth, "dr": e["dr"].value, "dr_low": e["dr"].low,
                "dr_high": e["dr"].high, "dr_covers": e["dr"].covers(truth), "ips": e["ips"].value,
                "ips_covers": e["ips"].covers(truth), "share_changed": report.share_changed,
            })  # fmt: skip
            service.stop()
            current, version = nxt, version + 1
            service = serve(current, ctx["provider_port"], db, llm_ids, share, tmp)
            client.close()
            client = connect(service)
    finally:
        client.close()
        service.stop()
    return {"share": share, "windows": windows, "shadow": coverage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000, help="training queries (the rest is replayed)")
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--every", type=int, default=200, help="learn every N requests")
    parser.add_argument("--plot", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--fake-provider", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_provider:
        run_provider()
        return
    began = time.perf_counter()
    bench = load_benchmark("llmrouter", default_data_root() / "llmrouter")
    data, catalog = bench.train, bench.catalog
    order = np.random.default_rng(0).permutation(data.n_queries)
    fit_rows, replay_rows = order[: args.train], order[args.train :][: args.requests]
    fit, rep = data.take(fit_rows), data.take(replay_rows)
    tmp = Path(tempfile.mkdtemp(prefix="online-bench-"))
    full = train(fit, catalog, tmp / "full")
    llm_ids = list(full.llm_ids)
    queries = list(rep.queries)
    S = np.nan_to_num(rep.scores)
    C, _ = realised_costs(rep, catalog)
    scale = float(C.mean(axis=0).max())
    full_choice = full.choose(full.predict(queries), alpha=ALPHA)
    x = int(np.bincount(full_choice, minlength=len(llm_ids)).argmax())
    x_id = llm_ids[x]
    without = train(fit.select_llms([m for m in llm_ids if m != x_id]), catalog, tmp / "without")
    onboard_llm(without, catalog[x_id])
    without.save(tmp / "v0")
    print(f"LLMRouter: trained on {fit.n_queries} queries x {len(llm_ids)} LLMs (2pl, hashing:256); X = {x_id} "
          f"(full routes {100 * (full_choice == x).mean():.0f}% of replayed queries to it); replay {len(queries)} "
          f"requests, learn every {args.every}; {os.cpu_count()} cores; "
          f"setup {time.perf_counter() - began:.0f}s")  # fmt: skip
    provider = Process([sys.executable, __file__, "--fake-provider"], r"^(\d+)$")
    ctx = {"queries": queries, "scores": S, "costs": C, "scale": scale, "llm_ids": llm_ids, "full_choice": full_choice,
           "x": x, "v0": tmp / "v0", "provider_port": provider.port}  # fmt: skip
    runs = []
    try:
        for share in (0.0, 0.1):
            runs.append(replay(args, share, ctx))
    finally:
        provider.stop()
    for run in runs:
        print(f"\nexploration share {run['share']:g}")
        print(f"{'version':>7} {'requests':>10} {'fb rows':>8} {'Reward live':>11} {'Reward full':>11} "
              f"{'X share live':>12} {'X share full':>12} {'X agree':>8}")  # fmt: skip
        for w in run["windows"]:
            print(f"{w['version']:>7} {w['requests']:>10} {w['feedback_before']:>8} {w['reward_live']:>11.2f} "
                  f"{w['reward_full']:>11.2f} {w['x_share_live']:>12.3f} {w['x_share_full']:>12.3f} "
                  f"{w['x_agreement']:>8.3f}")  # fmt: skip
        caught = [w for w in run["windows"] if w["x_agreement"] >= 0.95]
        print("feedback rows until X is routed as full routes it (>= 95% agreement on X): "
              + (str(caught[0]["feedback_before"]) if caught else "not within the replay"))  # fmt: skip
        last = run["windows"][-1]
        print(f"final gap (full - live Reward, last window): {last['reward_full'] - last['reward_live']:.2f}")
        print(f"{'window':>10} {'true perf.':>11} {'DR':>7} {'DR 95% interval':>18} {'covers':>6} {'IPS':>7} "
              f"{'covers':>6} {'changed':>7}")  # fmt: skip
        for s in run["shadow"]:
            print(f"{s['window']:>10} {s['truth']:>11.3f} {s['dr']:>7.3f} "
                  f"[{s['dr_low']:>7.3f}, {s['dr_high']:>7.3f}] "
                  f"{s['dr_covers']!s:>6} {s['ips']:>7.3f} {s['ips_covers']!s:>6} "
                  f"{s['share_changed']:>7.3f}")  # fmt: skip
    print(f"\ntotal {time.perf_counter() - began:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for run in runs:
            xs = [w["feedback_before"] for w in run["windows"]]
            ax.plot(
                xs,
                [w["reward_live"] for w in run["windows"]],
                marker="o",
                label=f"learnt, exploration {run['share']:g}",
            )
        ax.plot(xs, [w["reward_full"] for w in runs[0]["windows"]], "k--", label="trained on all LLMs")
        ax.set_xlabel("feedback rows learnt from")
        ax.set_ylabel("Reward per window")
        ax.set_title(f"LLMRouter replay: {x_id} learnt back from traffic")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
