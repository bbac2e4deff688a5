"""What provider resilience (issue 14, defects 4-5) adds to each proxied request, in microseconds.

The breaker, back-off and retry budget (``irtrouter.serve.health``) and the request deadline run
inside :func:`irtrouter.serve.proxy.with_fallback` on every chat request; key scrubbing runs on
every provider body and stream line. A load test end to end (``benchmarks/serve_load.py``) cannot
see microseconds on shared cores, so this times each piece alone, in the service's event loop
setting, against the bare provider call it wraps:

* ``with_fallback`` around a provider call that returns at once, vs awaiting that call directly;
* ``Upstreams.redact`` on a 2 KB completion body and on one 300-byte stream line, with 5 keys.

    python benchmarks/serve_resilience.py [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

from irtrouter.serve.config import parse_config
from irtrouter.serve.health import ProviderHealth
from irtrouter.serve.metrics import Metrics
from irtrouter.serve.proxy import with_fallback
from irtrouter.serve.upstream import Upstreams

LLMS = [f"llm-{i}" for i in range(5)]


async def _time_fallback(n: int) -> tuple[float, float]:
    config = parse_config({"llms": {m: {"base_url": "http://127.0.0.1:9/v1"} for m in LLMS}})
    service: Any = SimpleNamespace(config=config, metrics=Metrics(), health=ProviderHealth(LLMS, config.limits))
    routed: Any = SimpleNamespace(order=tuple(LLMS))

    async def call(llm_id: str) -> tuple[int, str]:
        return 200, llm_id

    async def bare() -> None:
        t0 = time.perf_counter()
        await call(LLMS[0])
        service.metrics.upstream_call(LLMS[0], time.perf_counter() - t0)

    out = []
    for run in (bare, lambda: with_fallback(service, routed, call)):
        for _ in range(n // 10):  # warm-up
            await run()
        t0 = time.perf_counter()
        for _ in range(n):
            await run()
        out.append((time.perf_counter() - t0) / n * 1e6)
    return out[0], out[1]


def _time_redact(n: int) -> tuple[float, float]:
    keys = {f"llm-{i}": f"sk-provider-key-{i}-" + "x" * 40 for i in range(5)}
    specs: Any = {m: SimpleNamespace(api_key=k) for m, k in keys.items()}
    upstreams = Upstreams(specs)
    body = json.dumps({"choices": [{"message": {"content": "word " * 400}}]})[:2048]
    line = "data: " + json.dumps({"choices": [{"delta": {"content": "word " * 50}}]})[:294]
    out = []
    for text in (body, line):
        t0 = time.perf_counter()
        for _ in range(n):
            upstreams.redact(text)
        out.append((time.perf_counter() - t0) / n * 1e6)
    asyncio.run(upstreams.close())
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="timed repetitions of each piece")
    args = parser.parse_args()
    bare, fallback = asyncio.run(_time_fallback(args.n))
    body, line = _time_redact(args.n)
    print("| piece (per request or line) | us |")
    print("|---|---|")
    print(f"| provider call awaited directly, one histogram update | {bare:.1f} |")
    print(f"| the same call in with_fallback (attempt records, metrics, breaker, budget, deadline) | {fallback:.1f} |")
    print(f"| added by with_fallback | {fallback - bare:.1f} |")
    print(f"| redact a 2 KB completion body, 5 keys | {body:.2f} |")
    print(f"| redact one stream line (300 B), 5 keys | {line:.2f} |")


if __name__ == "__main__":
    main()
