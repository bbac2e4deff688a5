"""Provider health: a circuit breaker per LLM, ``Retry-After`` back-off, and the retry budget.

**Circuit breaker.** Each routable LLM is *closed* (called as usual) until
``limits.eject_after_failures`` of its calls fail in a row (timeout, connection error, 5xx, a
200 that is not a completion, a stream that breaks off, the request deadline). It is then
*open* (ejected): requests skip it for ``limits.eject_cooldown_s`` seconds, so a hung provider
no longer costs every request its read timeout. Then it is *half-open*: exactly one request
probes it; success closes it, failure opens it for another cool-down. A provider that answers at
all (a 4xx that blames the request, a 429) is reachable, which counts as success for the breaker.

**Back-off.** A 429 with ``Retry-After`` (seconds or an HTTP date) keeps that LLM out until then.

**Retry budget.** Fallbacks (provider calls after a request's first) are allowed while they are
at most ``limits.retry_budget`` of the requests seen in the last ``limits.retry_budget_window_s``
seconds, or fewer than ``limits.retry_budget_min`` in that window (so low traffic still falls
back). When every provider fails at once, the load on them is then at most ``1 + retry_budget``
times the request rate, not ``1 + fallback_attempts`` times.

Every update happens on the event loop thread, so nothing here needs a lock. The state is
exposed in ``/metrics`` (:meth:`ProviderHealth.render`).

Examples
--------
>>> from irtrouter.serve.config import LimitsConfig
>>> now = [0.0]
>>> health = ProviderHealth(["a"], LimitsConfig(eject_after_failures=2, eject_cooldown_s=10), clock=lambda: now[0])
>>> health.failed("a"); health.failed("a"); health.state("a")
'open'
>>> health.acquire("a"), health.wait("a")
(False, 10.0)
>>> now[0] = 10.0
>>> health.acquire("a"), health.acquire("a")   # one probe, the others keep skipping it
(True, False)
>>> health.succeeded("a"); health.state("a")
'closed'
"""

from __future__ import annotations

import email.utils
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from irtrouter.serve.config import LimitsConfig
from irtrouter.serve.metrics import _labels

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
# A Retry-After beyond this is taken as this: a provider's typo must not eject an LLM for a day.
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent or unreadable.

    Examples
    --------
    >>> parse_retry_after("7"), parse_retry_after("junk"), parse_retry_after(None)
    (7.0, None, None)
    >>> parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=0.0)
    30.0
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


@dataclass
class _Health:
    state: str = CLOSED
    failures: int = 0  # consecutive
    open_until: float = 0.0
    probing: bool = False
    not_before: float = 0.0  # from a 429's Retry-After
    ejections: int = 0


class RetryBudget:
    """Fallbacks at most ``ratio`` of the requests of a sliding window (``minimum`` always allowed).

    Counts are kept per second of the window, so memory does not grow with traffic.

    Examples
    --------
    >>> budget = RetryBudget(ratio=0.5, window_s=60, minimum=0, clock=lambda: 0.0)
    >>> for _ in range(4):
    ...     budget.request()
    >>> [budget.spend() for _ in range(3)]
    [True, True, False]
    """

    def __init__(
        self, ratio: float, window_s: float, minimum: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ratio = ratio
        self.window_s = window_s
        self.minimum = minimum
        self.clock = clock
        self._seconds: deque[list[int]] = deque()  # [second, requests, retries]
        self.exhausted = 0

    def _bucket(self) -> list[int]:
        now = int(self.clock())
        while self._seconds and self._seconds[0][0] <= now - self.window_s:
            self._seconds.popleft()
        if not self._seconds or self._seconds[-1][0] != now:
            self._seconds.append([now, 0, 0])
        return self._seconds[-1]

    def request(self) -> None:
        """Count one request."""
        self._bucket()[1] += 1

    def spend(self) -> bool:
        """Take one fallback from the budget; False (and counted as exhausted) when none is left."""
        bucket = self._bucket()
        requests = sum(b[1] for b in self._seconds)
        retries = sum(b[2] for b in self._seconds)
        if retries < self.minimum or retries < self.ratio * requests:
            bucket[2] += 1
            return True
        self.exhausted += 1
        return False


class ProviderHealth:
    """The breaker and back-off state of every routable LLM, and the retry budget.

    Parameters
    ----------
    llm_ids : iterable of str
        The routable LLMs.
    limits : LimitsConfig
        ``eject_after_failures``, ``eject_cooldown_s`` and the ``retry_budget*`` keys.
    clock : callable, optional
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self, llm_ids: Iterable[str], limits: LimitsConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.eject_after = limits.eject_after_failures
        self.cooldown_s = limits.eject_cooldown_s
        self.clock = clock
        self._llms = {m: _Health() for m in llm_ids}
        self.budget = RetryBudget(limits.retry_budget, limits.retry_budget_window_s, limits.retry_budget_min, clock)
        self.skipped: dict[tuple[str, str], int] = {}

    def _of(self, llm_id: str) -> _Health:
        # An LLM a reloaded router made routable starts closed.
        return self._llms.setdefault(llm_id, _Health())

    def state(self, llm_id: str) -> str:
        """``closed``, ``half_open`` or ``open`` (an open LLM past its cool-down reads half-open)."""
        h = self._of(llm_id)
        if h.state == OPEN and self.clock() >= h.open_until:
            h.state, h.probing = HALF_OPEN, False
        return h.state

    def acquire(self, llm_id: str) -> bool:
        """Whether ``llm_id`` may be called now; a half-open LLM's one probe is taken by the caller.

        A False is counted in ``irtrouter_upstream_skipped_total`` by reason.
        """
        h = self._of(llm_id)
        state = self.state(llm_id)
        reason = None
        if self.clock() < h.not_before:
            reason = "rate_limited"
        elif state == OPEN or (state == HALF_OPEN and h.probing):
            reason = "ejected"
        if reason is not None:
            self.skipped[(llm_id, reason)] = self.skipped.get((llm_id, reason), 0) + 1
            return False
        if state == HALF_OPEN:
            h.probing = True
        return True

    def wait(self, llm_id: str) -> float:
        """Seconds until ``llm_id`` may be called again (0: now; a probe in flight: a cool-down)."""
        h = self._of(llm_id)
        now = self.clock()
        state = self.state(llm_id)
        until = max(h.not_before, h.open_until if state == OPEN else 0.0)
        if state == HALF_OPEN and h.probing:
            until = max(until, now + self.cooldown_s)
        return max(until - now, 0.0)

    def rate_limited(self, llm_id: str, retry_after: float | None) -> None:
        """A 429: the provider is up (breaker success); keep it out for ``retry_after`` seconds."""
        self.succeeded(llm_id)
        if retry_after:
            h = self._of(llm_id)
            h.not_before = max(h.not_before, self.clock() + retry_after)

    def succeeded(self, llm_id: str) -> None:
        """The provider answered: close its breaker."""
        h = self._of(llm_id)
        h.state, h.failures, h.probing = CLOSED, 0, False

    def failed(self, llm_id: str) -> None:
        """A failed call: a failed probe re-opens the breaker; the N-th failure in a row opens it."""
        h = self._of(llm_id)
        state = self.state(llm_id)
        if state == OPEN:
            return  # calls that started before the ejection
        h.failures += 1
        if state == HALF_OPEN or h.failures >= self.eject_after:
            h.state, h.open_until, h.probing = OPEN, self.clock() + self.cooldown_s, False
            h.ejections += 1

    def release(self, llm_id: str) -> None:
        """A call that ended without a verdict (the client left): free the half-open probe."""
        self._of(llm_id).probing = False

    def render(self) -> str:
        """``/metrics`` lines: breaker state, consecutive failures, ejections, skips, retry budget."""
        out = [
            "# HELP irtrouter_upstream_state Circuit breaker per LLM: 0 closed, 1 half-open (probing), 2 open.",
            "# TYPE irtrouter_upstream_state gauge",
            *(
                f"irtrouter_upstream_state{{{_labels(llm_id=m)}}} {_STATE_VALUE[self.state(m)]}"
                for m in sorted(self._llms)
            ),
            "# HELP irtrouter_upstream_consecutive_failures Failed calls in a row, by LLM.",
            "# TYPE irtrouter_upstream_consecutive_failures gauge",
            *(
                f"irtrouter_upstream_consecutive_failures{{{_labels(llm_id=m)}}} {h.failures}"
                for m, h in sorted(self._llms.items())
            ),
            "# HELP irtrouter_upstream_ejections_total Times an LLM's breaker opened.",
            "# TYPE irtrouter_upstream_ejections_total counter",
            *(
                f"irtrouter_upstream_ejections_total{{{_labels(llm_id=m)}}} {h.ejections}"
                for m, h in sorted(self._llms.items())
            ),
            "# HELP irtrouter_upstream_skipped_total Candidate LLMs skipped, by reason (ejected, rate_limited).",
            "# TYPE irtrouter_upstream_skipped_total counter",
            *(
                f'irtrouter_upstream_skipped_total{{llm_id="{m}",reason="{r}"}} {n}'
                for (m, r), n in sorted(self.skipped.items())
            ),
            "# HELP irtrouter_retry_budget_exhausted_total Fallbacks refused by the retry budget.",
            "# TYPE irtrouter_retry_budget_exhausted_total counter",
            f"irtrouter_retry_budget_exhausted_total {self.budget.exhausted}",
        ]
        return "\n".join(out) + "\n"
