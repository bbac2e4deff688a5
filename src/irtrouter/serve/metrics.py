"""Prometheus metrics of one app instance, rendered in the text exposition format (``/metrics``).

Every update happens on the event loop thread, so the counters need no lock. Each app owns its
:class:`Metrics` (no process-global registry), so two apps in one process, as in the tests, do
not share counts.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

ROUTING_BUCKETS = (0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
UPSTREAM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """Cumulative-bucket histogram (Prometheus semantics)."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {self.total!r}", f"{name}_count{braces} {self.n}"]
        return out


def _labels(**values: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{esc(v)}"' for k, v in values.items())


class Metrics:
    """The service's counters and histograms.

    Examples
    --------
    >>> m = Metrics()
    >>> m.request("/v1/route", 200)
    >>> 'irtrouter_requests_total{endpoint="/v1/route",status="200"} 1' in m.render()
    True
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.decisions: dict[str, int] = defaultdict(int)
        self.upstream_errors: dict[tuple[str, str], int] = defaultdict(int)
        self.fallbacks: dict[tuple[str, str], int] = defaultdict(int)
        self.routing_seconds = Histogram(ROUTING_BUCKETS)
        self.routing_batch = Histogram((1, 2, 4, 8, 16, 32, 64))
        self.upstream_seconds: dict[str, Histogram] = {}

    def request(self, endpoint: str, status: int) -> None:
        self.requests[(endpoint, status)] += 1

    def decision(self, llm_id: str, seconds: float) -> None:
        self.decisions[llm_id] += 1
        self.routing_seconds.observe(seconds)

    def upstream_error(self, llm_id: str, kind: str) -> None:
        self.upstream_errors[(llm_id, kind)] += 1

    def fallback(self, from_llm: str, to_llm: str) -> None:
        self.fallbacks[(from_llm, to_llm)] += 1

    def upstream_call(self, llm_id: str, seconds: float) -> None:
        if llm_id not in self.upstream_seconds:
            self.upstream_seconds[llm_id] = Histogram(UPSTREAM_BUCKETS)
        self.upstream_seconds[llm_id].observe(seconds)

    def render(self) -> str:
        """The text exposition format (version 0.0.4)."""
        out = [
            "# HELP irtrouter_requests_total HTTP requests answered, by endpoint and status.",
            "# TYPE irtrouter_requests_total counter",
        ]
        out += [
            f"irtrouter_requests_total{{{_labels(endpoint=e, status=str(s))}}} {n}"
            for (e, s), n in sorted(self.requests.items())
        ]
        out += [
            "# HELP irtrouter_decisions_total Routing decisions, by chosen LLM.",
            "# TYPE irtrouter_decisions_total counter",
        ]
        out += [f"irtrouter_decisions_total{{{_labels(llm_id=m)}}} {n}" for m, n in sorted(self.decisions.items())]
        out += [
            "# HELP irtrouter_upstream_errors_total Failed provider calls, by LLM and kind "
            "(timeout, connect, status_5xx, status_429, rejected).",
            "# TYPE irtrouter_upstream_errors_total counter",
        ]
        out += [
            f"irtrouter_upstream_errors_total{{{_labels(llm_id=m, kind=k)}}} {n}"
            for (m, k), n in sorted(self.upstream_errors.items())
        ]
        out += [
            "# HELP irtrouter_fallbacks_total Requests retried on the next-best LLM.",
            "# TYPE irtrouter_fallbacks_total counter",
        ]
        out += [
            f"irtrouter_fallbacks_total{{{_labels(from_llm=a, to_llm=b)}}} {n}"
            for (a, b), n in sorted(self.fallbacks.items())
        ]
        out += [
            "# HELP irtrouter_routing_seconds Time from request to routing decision (embedding included).",
            "# TYPE irtrouter_routing_seconds histogram",
            *self.routing_seconds.lines("irtrouter_routing_seconds"),
            "# HELP irtrouter_routing_batch_size Queries embedded together in one routing batch.",
            "# TYPE irtrouter_routing_batch_size histogram",
            *self.routing_batch.lines("irtrouter_routing_batch_size"),
            "# HELP irtrouter_upstream_seconds Provider call duration, by LLM.",
            "# TYPE irtrouter_upstream_seconds histogram",
        ]
        for m in sorted(self.upstream_seconds):
            out += self.upstream_seconds[m].lines("irtrouter_upstream_seconds", _labels(llm_id=m))
        return "\n".join(out) + "\n"
