"""Replay benchmark of learning from traffic (issue 13): routers that lack knowledge learn it back.

On LLMRouter (``../shared/data/llmrouter`` via the data setting), with the hashing embedder (USE
is too slow for a 2-core replay) and the 2PL predictor, three routers:

* ``full``: trained on the first ``--train`` training queries with every LLM (the yardstick);
* ``without X``: trained the same way without LLM X (the LLM ``full`` routes most to), X then
  added from its catalog profile alone (``irtrouter onboard``'s profile path), as a newcomer;
* ``early slice``: trained on the first ``--slice`` of those queries only, every LLM.

The next ``--requests`` training queries are replayed in a seeded order through **one** running
service per run (``irtrouter serve`` as a subprocess, a fake provider on loopback): a client
thread sends ``/v1/chat/completions`` then ``/v1/feedback`` with the real score of the LLM that
answered, without pause. The fake provider reports, for the forwarded query, the token counts of
the data's cost model (``estimate_tokens(query)`` in, ``ASSUMED_OUTPUT_TOKENS`` out: LLMRouter has
no token counts, so :func:`~irtrouter.evaluate.metrics.realised_costs` models them so), so every
logged ``cost_usd`` is the data's cost of the query on the answering LLM. Every ``--every``
feedback rows, the main thread runs ``learn_router`` on exactly the rows not yet learnt (each row
once: sequential Bayes), ``shadow_evaluate`` of the new version on the scored rows the live version
decided, and promotes it live (``POST /admin/router``) while the client keeps sending. Each
decision's ``router_version`` (the response's and the log's) says which version decided it.

Shadow truth: the candidate's rule choices on the same scored queries, scored by the data's scores
and costs, as Reward with the shadow's own alpha, beta and cost scale (see ``shadow_scale``).

Per version: the Reward (``100 (alpha score - beta cost / scale)``, ``scale`` the largest mean
per-query cost of one LLM on the replayed queries) of the live decisions and of ``full`` on the
same queries, X's share under both (the live version's rule choices, exploration aside), the
agreement on X, and what exploration gave X. Each start router is replayed without and with
exploration (epsilon ``--share`` over the top k, for each k of ``--top-k``; k = the number of
LLMs is uniform over all of them).

    python benchmarks/online.py [--train 3000] [--slice 300] [--requests 1200] [--every 200]
        [--share 0.1] [--top-k 3,9] [--prior-scale 1] [--plot docs/img/online.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Process, chat_provider, run_provider

from irtrouter.data import default_data_root, estimate_tokens, load_benchmark
from irtrouter.evaluate.metrics import ASSUMED_OUTPUT_TOKENS, realised_costs
from irtrouter.onboard.newllm import onboard_llm
from irtrouter.online.learn import learn_router
from irtrouter.online.shadow import shadow_evaluate
from irtrouter.routing import IRTRouter, load_router
from irtrouter.routing.persistence import router_version_id
from irtrouter.store.reading import read_log

ALPHA = 0.8
KEY, ADMIN_KEY = "bench-client-key", "bench-admin-key"


def token_completion(body: bytes) -> bytes:
    """A chat completion carrying the data cost model's token counts of the request's user text."""
    messages = json.loads(body or b"{}").get("messages", [])
    text = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    tin, tout = estimate_tokens(text if isinstance(text, str) else ""), ASSUMED_OUTPUT_TOKENS
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout},
    }).encode()  # fmt: skip


def train(results: Any, catalog: Any, out: Path) -> IRTRouter:
    router = IRTRouter(embedder="hashing:256", predictor="2pl", random_state=0)
    router.fit(results, catalog, use_cache=False)
    router.save(out)
    return router


def serve(
    router_dir: Path, args: argparse.Namespace, db: Path, llm_ids: list[str], share: float, top_k: int, tmp: Path
) -> Process:
    routing: dict[str, Any] = {"alpha": ALPHA, "fallback_attempts": 0}
    if share > 0:
        routing["exploration"] = {"share": share, "top_k": top_k, "seed": 0}
    config = {
        "llms": {m: {"base_url": f"http://127.0.0.1:{args.provider_port}/v1"} for m in llm_ids},
        "routing": routing,
        "auth": {"api_keys_env": ["BENCH_CLIENT_KEY"], "admin_key_env": "BENCH_ADMIN_KEY"},
        "storage": {"url": f"sqlite:///{db}", "store_text": False},
    }
    (tmp / "serve.yaml").write_text(yaml.safe_dump(config))
    os.environ["BENCH_CLIENT_KEY"], os.environ["BENCH_ADMIN_KEY"] = KEY, ADMIN_KEY
    cmd = [sys.executable, "-m", "irtrouter.cli", "serve", str(router_dir), "--config", str(tmp / "serve.yaml")]
    return Process([*cmd, "--port", "0"], r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def rule_choices(router: IRTRouter, queries: list[str], llm_ids: list[str]) -> np.ndarray:
    """The router's rule choices as indices into ``llm_ids`` (its own LLM order may differ)."""
    chosen = router.choose(router.predict(list(queries)), alpha=ALPHA)
    return np.array([llm_ids.index(router.llm_ids[j]) for j in chosen], dtype=np.int64)


def reward(scores: np.ndarray, costs: np.ndarray, scale: float) -> np.ndarray:
    return 100.0 * (ALPHA * scores - (1 - ALPHA) * costs / scale)


def shadow_scale(candidate: IRTRouter, costs: np.ndarray, queries: list[str]) -> float:
    """The cost scale ``shadow_evaluate`` puts in its Reward: the largest mean expected cost of
    one LLM over the scored rows. LLMRouter's ``price`` cost model has no USD, so the shadow models
    each LLM's cost from the logged token counts, which the fake provider makes the data's: then
    the scale is the data's (``costs``: the rows' data costs on every LLM). Mirrored here so that
    the truth is the quantity the estimate targets."""
    expected = candidate.cost_model_.expected_usd(queries)
    return float((costs if expected is None else expected).mean(axis=0).max())


class Client(threading.Thread):
    """Sends every replayed query, then its feedback, one after the other; records each answer."""

    def __init__(self, port: int, queries: list[str], scores: np.ndarray, llm_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"})
        self.queries, self.scores, self.llm_ids = queries, scores, llm_ids
        self.done: list[dict[str, Any]] = []  # appended only after the feedback was acknowledged
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i, query in enumerate(self.queries):
                body = {"model": "irtrouter/auto", "messages": [{"role": "user", "content": query}]}
                meta = self.http.post("/v1/chat/completions", json=body, timeout=60).raise_for_status().json()
                meta = meta["irtrouter"]
                j = self.llm_ids.index(meta["llm_id"])
                fb = {"request_id": meta["request_id"], "score": float(self.scores[i, j])}
                self.http.post("/v1/feedback", json=fb, timeout=60).raise_for_status()
                self.done.append({"i": i, "request_id": meta["request_id"], "j": j, "version": meta["router_version"]})
        except BaseException as exc:  # reported by the replay, never swallowed
            self.error = exc
        finally:
            self.http.close()


def replay(
    args: argparse.Namespace, name: str, start: Path, share: float, top_k: int, ctx: dict[str, Any]
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"online-{share:g}-{top_k}-"))
    db, url = tmp / "decisions.sqlite", f"sqlite:///{tmp / 'decisions.sqlite'}"
    queries, S, C, llm_ids, x = ctx["queries"], ctx["scores"], ctx["costs"], ctx["llm_ids"], ctx["x"]
    service = serve(start, args, db, llm_ids, share, top_k, tmp)
    admin = httpx.Client(base_url=f"http://127.0.0.1:{service.port}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    client = Client(service.port, queries, S, llm_ids)
    dirs = {router_version_id(start): start.resolve()}
    learnt_rows = {router_version_id(start): 0}
    current, learnt, steps, began = start.resolve(), 0, [], time.perf_counter()
    client.start()
    try:
        for boundary in range(args.every, len(queries), args.every):
            while len(client.done) < boundary and client.is_alive():
                time.sleep(0.02)
            if client.error is not None:
                raise RuntimeError(f"client failed: {client.error!r}")
            batch = client.done[learnt:boundary]
            log = read_log(url, with_feedback_only=True)
            nxt = tmp / f"v{len(steps) + 1}"
            t0 = time.perf_counter()
            report = learn_router(current, url, nxt, prior_scale=args.prior_scale,
                                  log=log[log["request_id"].isin({d["request_id"] for d in batch})])  # fmt: skip
            learn_s = time.perf_counter() - t0
            live_id = router_version_id(current)
            scored = {d["request_id"]: d for d in client.done[:boundary] if d["version"] == live_id}
            window = log[log["request_id"].isin(scored)]
            cand = load_router(nxt)
            shadow = shadow_evaluate(cand, window, n_boot=500)
            rows = [scored[r] for r in window.drop_duplicates("request_id")["request_id"]]
            idx = np.array([d["i"] for d in rows])
            cand_choice = rule_choices(cand, [queries[i] for i in idx], llm_ids)
            scale = shadow_scale(cand, C[idx], [queries[i] for i in idx])
            truth = float(reward(S[idx, cand_choice], C[idx, cand_choice], scale).mean())
            t1 = time.perf_counter()
            sent_before = len(client.done)
            promoted = admin.post("/admin/router", json={"path": str(nxt)}, timeout=120).raise_for_status().json()
            x_update = next((u for u in report.updates if u.llm_id == llm_ids[x]), None)
            new_id = promoted["version"]
            dirs[new_id], learnt_rows[new_id] = nxt.resolve(), boundary
            e = shadow.estimates["reward"]
            steps.append({
                "version": new_id, "rows": len(batch), "learn_s": learn_s, "load_ms": promoted["load_ms"],
                "sent_during_swap": len(client.done) - sent_before, "sent_since_boundary": len(client.done) - boundary,
                "x_rows": x_update.n_rows if x_update else 0,
                "x_shift": float(np.ravel(x_update.shift)[0]) if x_update else 0.0,
                "x_se": float(np.ravel(x_update.standard_error)[0]) if x_update else float("nan"),
                "shadow_rows": len(idx), "truth": truth, "dr": e["dr"].value, "dr_low": e["dr"].low,
                "dr_high": e["dr"].high, "dr_covers": e["dr"].covers(truth), "ips": e["ips"].value,
                "ips_low": e["ips"].low, "ips_high": e["ips"].high, "ips_covers": e["ips"].covers(truth),
                "live": e["live"].value, "share_changed": shadow.share_changed,
                "share_explored": shadow.share_explored, "swap_s": time.perf_counter() - t1,
            })  # fmt: skip
            current, learnt = nxt.resolve(), boundary
        client.join()
        if client.error is not None:
            raise RuntimeError(f"client failed: {client.error!r}")
        wall = time.perf_counter() - began
    finally:
        admin.close()
        service.stop()
    label = f"epsilon {share:g}, top {top_k}" if share > 0 else "none"
    return summarise(name, label, url, client.done, dirs, learnt_rows, steps, wall, ctx)


def summarise(
    name: str,
    exploration: str,
    url: str,
    done: list[dict[str, Any]],
    dirs: dict[str, Path],
    learnt_rows: dict[str, int],
    steps: list[dict[str, Any]],
    wall: float,
    ctx: dict[str, Any],
) -> dict[str, Any]:
    """Per deciding version: Reward, X's shares; and what the log holds against what was acknowledged."""
    queries, S, C, scale, llm_ids, x = (ctx[k] for k in ("queries", "scores", "costs", "scale", "llm_ids", "x"))
    full_choice, x_id = ctx["full_choice"], llm_ids[ctx["x"]]
    log = read_log(url)
    decisions = log.drop_duplicates("request_id").set_index("request_id")
    fed = log.dropna(subset=["score"])
    acked = {d["request_id"] for d in done}
    logged_version = decisions.loc[[d["request_id"] for d in done], "router_version"].to_numpy()
    cost_logged = decisions.loc[[d["request_id"] for d in done], "cost_usd"].to_numpy(dtype=np.float64)
    cost_data = np.array([C[d["i"], d["j"]] for d in done])
    integrity = {
        "sent": len(done), "decisions_logged": len(decisions), "feedback_acked": len(acked),
        "feedback_logged": int(fed["request_id"].isin(acked).sum()),
        "version_mismatch": int(sum(v != d["version"] for v, d in zip(logged_version, done, strict=True))),
        "cost_max_abs_diff": float(np.max(np.abs(cost_logged - cost_data))),
    }  # fmt: skip
    windows = []
    for version, directory in dirs.items():
        mine = [d for d in done if d["version"] == version]
        if not mine:
            continue
        idx, chosen = np.array([d["i"] for d in mine]), np.array([d["j"] for d in mine])
        rule = rule_choices(load_router(directory), [queries[i] for i in idx], llm_ids)
        cands = [json.loads(decisions.loc[d["request_id"], "decision"]).get("exploration") for d in mine]
        windows.append({
            "version": version, "requests": f"{idx.min()}-{idx.max() + 1}", "n": len(idx),
            "feedback_before": learnt_rows[version],
            "reward_live": float(reward(S[idx, chosen], C[idx, chosen], scale).mean()),
            "reward_full": float(reward(S[idx, full_choice[idx]], C[idx, full_choice[idx]], scale).mean()),
            "x_share_live": float((rule == x).mean()), "x_share_full": float((full_choice[idx] == x).mean()),
            "x_agreement": float(((rule == x) == (full_choice[idx] == x)).mean()),
            "x_candidate": float(np.mean([bool(c) and x_id in c["candidates"] for c in cands])),
            "x_answered": int((chosen == x).sum()), "explored": float((rule != chosen).mean()),
        })  # fmt: skip
    return {
        "start": name,
        "exploration": exploration,
        "wall_s": wall,
        "integrity": integrity,
        "windows": windows,
        "steps": steps,
    }


def print_run(run: dict[str, Any], x_id: str) -> None:
    print(f"\n== start: {run['start']}, exploration {run['exploration']} ({run['wall_s']:.0f}s, one service) ==")
    print(f"{'version':>18} {'requests':>10} {'n':>4} {'fb rows':>7} {'R live':>7} {'R full':>7} "
          f"{'X live':>6} {'X full':>6} {'X agr':>6} {'X cand':>6} {'X ans':>5} {'explored':>8}")  # fmt: skip
    for w in run["windows"]:
        print(f"{w['version']:>18} {w['requests']:>10} {w['n']:>4} {w['feedback_before']:>7} {w['reward_live']:>7.2f} "
              f"{w['reward_full']:>7.2f} {w['x_share_live']:>6.3f} {w['x_share_full']:>6.3f} {w['x_agreement']:>6.3f} "
              f"{w['x_candidate']:>6.3f} {w['x_answered']:>5} {w['explored']:>8.3f}")  # fmt: skip
    # 90%, not 95%: full itself routes 94-96% of each version's requests to X, so a version that
    # routes X everywhere agrees 94-96% and 95% would be crossed or missed by that noise alone.
    caught = [w for w in run["windows"] if w["x_agreement"] >= 0.9]
    print(f"feedback rows until {x_id} is routed as full routes it (>= 90% agreement on X): "
          + (str(caught[0]["feedback_before"]) if caught else "not within the replay"))  # fmt: skip
    last = run["windows"][-1]
    print(f"final gap (full - live Reward, last version's requests): {last['reward_full'] - last['reward_live']:.2f}")
    print(f"{'promoted':>18} {'rows':>4} {'learn s':>7} {'load ms':>7} {'sent in swap':>12} {'X rows':>6} "
          f"{'X shift':>7} {'X se':>6} | {'shadow n':>8} {'true R':>7} {'DR':>6} {'DR 95%':>15} {'ok':>3} "
          f"{'IPS':>6} {'IPS 95%':>15} {'ok':>3} {'changed':>7}")  # fmt: skip
    for s in run["steps"]:
        print(f"{s['version']:>18} {s['rows']:>4} {s['learn_s']:>7.2f} {s['load_ms']:>7.0f} "
              f"{s['sent_since_boundary']:>12} "
              f"{s['x_rows']:>6} {s['x_shift']:>7.3f} {s['x_se']:>6.3f} | {s['shadow_rows']:>8} {s['truth']:>7.2f} "
              f"{s['dr']:>6.2f} [{s['dr_low']:>6.2f},{s['dr_high']:>6.2f}] {'yes' if s['dr_covers'] else 'NO':>3} "
              f"{s['ips']:>6.2f} [{s['ips_low']:>6.2f},{s['ips_high']:>6.2f}] {'yes' if s['ips_covers'] else 'NO':>3} "
              f"{s['share_changed']:>7.3f}")  # fmt: skip
    i = run["integrity"]
    print(f"integrity: {i['sent']} requests answered, {i['decisions_logged']} decisions logged; {i['feedback_acked']} "
          f"feedback rows acknowledged, {i['feedback_logged']} in the log; router_version of response != log: "
          f"{i['version_mismatch']}; logged cost - data cost, max |diff|: "
          f"{i['cost_max_abs_diff']:.2e} USD")  # fmt: skip


def plot(runs: list[dict[str, Any]], x_id: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    starts = list(dict.fromkeys(r["start"] for r in runs))
    fig, axes = plt.subplots(1, len(starts), figsize=(6 * len(starts), 4), sharey=True, squeeze=False)
    for ax, start in zip(axes[0], starts, strict=True):
        for run in (r for r in runs if r["start"] == start):
            xs = [w["feedback_before"] for w in run["windows"]]
            gap = [w["reward_live"] - w["reward_full"] for w in run["windows"]]
            ax.plot(xs, gap, marker="o", label=f"exploration {run['exploration']}")
        ax.axhline(0.0, color="k", ls="--", lw=1, label="trained on all data (same requests)")
        ax.set_title(f"start: {start}")
        ax.set_xlabel("feedback rows learnt from")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("Reward, live version - full router")
    fig.suptitle(f"LLMRouter replay through one service, versions promoted live (X = {x_id})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000, help="training queries of the full router")
    parser.add_argument("--slice", type=int, default=300, help="training queries of the early-slice router")
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--every", type=int, default=200, help="learn and promote every N feedback rows")
    parser.add_argument("--share", type=float, default=0.1, help="exploration share of the exploring runs")
    parser.add_argument("--top-k", default="3,9", help="comma-separated k of the exploring runs")
    parser.add_argument("--prior-scale", type=float, default=1.0)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--fake-provider", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_provider:
        run_provider(chat_provider(token_completion))
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
    C, kind = realised_costs(rep, catalog)
    scale = float(C.mean(axis=0).max())
    full_choice = full.choose(full.predict(queries), alpha=ALPHA)
    x = int(np.bincount(full_choice, minlength=len(llm_ids)).argmax())
    x_id = llm_ids[x]
    without = train(fit.select_llms([m for m in llm_ids if m != x_id]), catalog, tmp / "without")
    onboard_llm(without, catalog[x_id])
    without.save(tmp / "without-x")
    early = train(data.take(fit_rows[: args.slice]), catalog, tmp / "early")
    if list(early.llm_ids) != llm_ids:
        raise SystemExit(f"the early slice lacks LLMs: {sorted(set(llm_ids) - set(early.llm_ids))}")
    print(f"LLMRouter: full trained on {fit.n_queries} queries x {len(llm_ids)} LLMs (2pl, hashing:256); "
          f"early slice on {args.slice}; X = {x_id} (full routes {100 * (full_choice == x).mean():.0f}% of replayed "
          f"queries to it); costs {kind}; replay {len(queries)} requests, learn + promote every {args.every}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"setup {time.perf_counter() - began:.0f}s")  # fmt: skip
    provider = Process([sys.executable, __file__, "--fake-provider"], r"^(\d+)$")
    args.provider_port = provider.port
    ctx = {"queries": queries, "scores": S, "costs": C, "scale": scale, "llm_ids": llm_ids,
           "full_choice": full_choice, "x": x}  # fmt: skip
    runs = []
    try:
        for name, start in ((f"without {x_id}", tmp / "without-x"), (f"early slice ({args.slice})", tmp / "early")):
            for share, k in [(0.0, 0)] + [(args.share, int(k)) for k in args.top_k.split(",")]:
                runs.append(replay(args, name, start, share, k, ctx))
                print_run(runs[-1], x_id)
                sys.stdout.flush()
    finally:
        provider.stop()
    print(f"\ntotal {time.perf_counter() - began:.0f}s, load average {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    if args.plot:
        plot(runs, x_id, args.plot)


if __name__ == "__main__":
    main()
