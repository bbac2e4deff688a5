"""Prometheus metrics of one app instance, rendered in the text exposition format (``/metrics``).

Every update happens on the event loop thread, so the counters need no lock. Each app owns its
:class:`Metrics` (no process-global registry), so two apps in one process, as in the tests, do
not share counts.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

import numpy as np

from irtrouter.online.drift import DriftStats, drift_stats

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


class DriftMonitor:
    """Per LLM, a running calibration check of the predicted P against the feedback scores.

    The service tells it every decision it commits (:meth:`decided`: the request id, the LLM that
    answered, the P-hat the router gave that LLM) and every feedback score (:meth:`scored`). Per
    LLM it keeps the last ``window`` scored requests (a second score for a request replaces the
    first: last wins, as for learning) and reports :func:`irtrouter.online.drift.drift_stats` of
    them, the same numbers ``irtrouter drift`` computes from the log: windowed Brier score and log
    loss, each with the level a calibrated router shows (mean P (1 - P), the mean entropy of P),
    and the two-sided CUSUM over the window, whose alarm flags the LLM for a re-quiz (a provider
    swapped the model behind a name, or the traffic moved away from what it was trained on).

    Decisions are remembered in memory, the last ``remember`` of them: feedback for an older
    request, one decided before a restart or by another replica, is counted as ``unmatched``
    (``irtrouter drift --db`` reads the whole log).

    Examples
    --------
    >>> drift = DriftMonitor(window=100)
    >>> for i in range(30):
    ...     drift.decided(f"r{i}", "big", 0.9)
    ...     _ = drift.scored(f"r{i}", 0.0)
    >>> stats = drift.stats()["big"]
    >>> round(stats.brier, 3), stats.n, stats.drifted
    (0.81, 30, True)
    """

    def __init__(self, window: int = 500, remember: int = 100_000) -> None:
        self.window = window
        self.remember = remember
        self.unmatched = 0
        self._decided: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._scored: dict[str, OrderedDict[str, tuple[float, float]]] = defaultdict(OrderedDict)

    def decided(self, request_id: str, llm_id: str, p_hat: float) -> None:
        """Remember the P-hat of the LLM that answers ``request_id`` (a later call for it replaces it)."""
        self._decided[request_id] = (llm_id, float(p_hat))
        self._decided.move_to_end(request_id)
        while len(self._decided) > self.remember:
            self._decided.popitem(last=False)

    def scored(self, request_id: str, score: float) -> bool:
        """Count a feedback score; False when the decision is not remembered."""
        known = self._decided.get(request_id)
        if known is None:
            self.unmatched += 1
            return False
        llm_id, p = known
        window = self._scored[llm_id]
        window.pop(request_id, None)  # last wins
        window[request_id] = (p, float(score))
        while len(window) > self.window:
            window.popitem(last=False)
        return True

    def stats(self) -> dict[str, DriftStats]:
        """The check of every LLM with feedback in its window."""
        out = {}
        for llm_id, window in self._scored.items():
            p, y = np.array(list(window.values()), dtype=np.float64).reshape(-1, 2).T
            out[llm_id] = drift_stats(llm_id, p, y, window=self.window)
        return out

    def lines(self) -> list[str]:
        """The drift gauges in the text exposition format."""
        stats = self.stats()
        gauges: tuple[tuple[str, Callable[[DriftStats], float], str], ...] = (
            ("feedback", lambda s: s.n, "Feedback scores in the drift window, by LLM."),
            ("brier", lambda s: s.brier, "Mean (P-hat - score)^2 over the window."),
            ("expected_brier", lambda s: s.expected_brier, "Mean P-hat (1 - P-hat): a calibrated router's Brier."),
            ("log_loss", lambda s: s.log_loss, "Mean cross-entropy of the scores under P-hat over the window."),
            ("expected_log_loss", lambda s: s.expected_log_loss, "Mean entropy of P-hat: a calibrated router's."),
            ("mean_p_hat", lambda s: s.mean_p, "Mean P-hat over the window."),
            ("mean_score", lambda s: s.mean_score, "Mean feedback score over the window."),
            ("cusum_down", lambda s: s.cusum.down, "CUSUM statistic for 'worse than predicted'."),
            ("cusum_up", lambda s: s.cusum.up, "CUSUM statistic for 'better than predicted'."),
            ("flagged", lambda s: int(s.drifted), "1 when the CUSUM alarmed in the window: re-quiz this LLM."),
        )
        out = []
        for name, value, help_text in gauges:
            out += [f"# HELP irtrouter_drift_{name} {help_text}", f"# TYPE irtrouter_drift_{name} gauge"]
            out += [f"irtrouter_drift_{name}{{{_labels(llm_id=m)}}} {_number(value(stats[m]))}" for m in sorted(stats)]
        out += [
            "# HELP irtrouter_drift_unmatched_feedback_total Feedback for decisions this process does not remember.",
            "# TYPE irtrouter_drift_unmatched_feedback_total counter",
            f"irtrouter_drift_unmatched_feedback_total {self.unmatched}",
        ]
        return out


def _number(value: float) -> str:
    value = float(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "NaN" if math.isnan(value) else repr(value)


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
        self.unsaved_records: dict[str, int] = defaultdict(int)
        self.routing_seconds = Histogram(ROUTING_BUCKETS)
        self.routing_batch = Histogram((1, 2, 4, 8, 16, 32, 64))
        self.upstream_seconds: dict[str, Histogram] = {}
        self.drift = DriftMonitor()
        self.router_loads: dict[str, int] = defaultdict(int)
        # Per profile: USD spent (reported cost) and what the reference LLM would have cost.
        self.spend_usd: dict[str, float] = defaultdict(float)
        self.reference_usd: dict[str, float] = defaultdict(float)

    def spent(self, profile: str, usd: float | None, reference_usd: float | None) -> None:
        """An answered request's cost and its reference cost (savings = reference - spend)."""
        if usd is not None and reference_usd is not None:
            self.spend_usd[profile] += usd
            self.reference_usd[profile] += reference_usd

    def request(self, endpoint: str, status: int) -> None:
        self.requests[(endpoint, status)] += 1

    def decision(self, llm_id: str, seconds: float) -> None:
        self.decisions[llm_id] += 1
        self.routing_seconds.observe(seconds)

    def upstream_error(self, llm_id: str, kind: str) -> None:
        self.upstream_errors[(llm_id, kind)] += 1

    def fallback(self, from_llm: str, to_llm: str) -> None:
        self.fallbacks[(from_llm, to_llm)] += 1

    def unsaved_record(self, endpoint: str) -> None:
        self.unsaved_records[endpoint] += 1

    def upstream_call(self, llm_id: str, seconds: float) -> None:
        if llm_id not in self.upstream_seconds:
            self.upstream_seconds[llm_id] = Histogram(UPSTREAM_BUCKETS)
        self.upstream_seconds[llm_id].observe(seconds)

    def render(self, router_version: str | None = None) -> str:
        """The text exposition format (version 0.0.4); ``router_version``: the live router's."""
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
            "# HELP irtrouter_unsaved_records_total Provider answers sent to the client that the store could not "
            "record, by endpoint (chat, chat-stream).",
            "# TYPE irtrouter_unsaved_records_total counter",
        ]
        out += [
            f"irtrouter_unsaved_records_total{{{_labels(endpoint=e)}}} {n}"
            for e, n in sorted(self.unsaved_records.items())
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
        out += [
            "# HELP irtrouter_router_info The router version deciding new requests (value 1).",
            "# TYPE irtrouter_router_info gauge",
        ]
        if router_version is not None:
            out.append(f"irtrouter_router_info{{{_labels(version=router_version)}}} 1")
        out += [
            "# HELP irtrouter_router_loads_total Router promotions and roll-backs, by result (ok, failed).",
            "# TYPE irtrouter_router_loads_total counter",
        ]
        out += [
            f"irtrouter_router_loads_total{{{_labels(result=r)}}} {n}" for r, n in sorted(self.router_loads.items())
        ]
        for name, what, values in (
            ("spend", "USD spent on answered requests (reported tokens x catalog prices)", self.spend_usd),
            ("reference_cost", "What they would have cost on the profile's reference LLM", self.reference_usd),
            ("savings", "reference_cost - spend", {p: self.reference_usd[p] - v for p, v in self.spend_usd.items()}),
        ):
            kind = "gauge" if name == "savings" else "counter"  # savings fall when routing costs more
            out += [f"# HELP irtrouter_{name}_usd_total {what}, by profile."]
            out += [f"# TYPE irtrouter_{name}_usd_total {kind}"]
            out += [f"irtrouter_{name}_usd_total{{{_labels(profile=p)}}} {v!r}" for p, v in sorted(values.items())]
        out += self.drift.lines()
        return "\n".join(out) + "\n"


class CountRequests:
    """ASGI middleware counting responses by endpoint and status (paths not in ``endpoints`` as ``other``)."""

    def __init__(self, app: Callable[..., Awaitable[None]], metrics: Metrics, endpoints: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.endpoints = frozenset(endpoints)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in self.endpoints else "other"

        async def counting_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.metrics.request(endpoint, message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)
