"""Client keys: who asked (a stable id, never the key), their spend budgets and rate limits.

**Client key id.** Every decision records ``client_key_id``: the client's name for a key under
``auth.clients`` (``{NAME: {key_env, daily_usd, monthly_usd, requests_per_minute}}``), the name of
the environment variable for a key under ``auth.api_keys_env``, and ``key-`` + 10 hex digits of
its sha256 for a literal ``auth.api_keys`` entry. Without authentication it is None.

**Budgets** (per client, USD, UTC calendar windows): the spend of a client is the sum of
``cost_usd`` (provider-reported tokens x catalog prices) of its decisions since the start of the
UTC day (``daily_usd``) and of the UTC month (``monthly_usd``). The running sums are kept in
memory, added to as each answer's cost is known, and reconciled from the store at start-up (one
``SUM(cost_usd) ... GROUP BY client_key_id`` per window), so a restart does not reset a budget.
A request is admitted while its client's spend is below each budget; the check is made before the
first provider call and again before each fallback (another request of the same client may have
spent meanwhile). A request admitted just under the budget may overrun it by its own cost: the
cost is only known when the provider has answered. Past it: 429 ``budget_exceeded`` with
``Retry-After`` = seconds to the next window.

**Rate limits** (``requests_per_minute``): a sliding 60 s window of the client's admitted
requests (chat completions, responses and ``/v1/route``), reconciled from the store's decision
times at start-up. Past it: 429 ``rate_limited`` with ``Retry-After`` = seconds until the oldest
request of the window leaves it. Both are per process: replicas sharing a PostgreSQL store each
reconcile from it at start but then count their own traffic only.

Examples
--------
>>> from irtrouter.serve.config import AuthConfig
>>> ids = AuthConfig(api_keys=["secret"]).client_keys({})
>>> ids[0][1]
'key-2bb80d537b'
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from irtrouter.errors import StorageError
from irtrouter.serve.config import AuthConfig, ClientConfig
from irtrouter.serve.errors import APIError
from irtrouter.store import redact_url
from irtrouter.store.backends import connect_readonly, database_errors, placeholder

WINDOWS = ("day", "month")


def window_start(now: float, window: str) -> float:
    """Unix seconds at which the UTC ``day`` or ``month`` holding ``now`` began."""
    t = datetime.fromtimestamp(now, UTC)
    start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "month":
        start = start.replace(day=1)
    return start.timestamp()


def window_end(now: float, window: str) -> float:
    """Unix seconds at which the UTC ``day`` or ``month`` holding ``now`` ends."""
    start = datetime.fromtimestamp(window_start(now, window), UTC)
    if window == "day":
        return start.timestamp() + 86400
    nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return nxt.timestamp()


class Budgets:
    """Spend and request counts per client, checked before provider calls (one per service).

    Parameters
    ----------
    clients : mapping
        ``client_key_id -> ClientConfig`` of the clients with limits (``auth.clients``).
    clock : callable, optional
        Unix seconds (default ``time.time``).
    """

    def __init__(self, clients: Mapping[str, ClientConfig], clock: Callable[[], float] = time.time) -> None:
        self.clients = dict(clients)
        self.clock = clock
        # (client, window) -> (window start, USD spent in it)
        self._spent: dict[tuple[str, str], tuple[float, float]] = {}
        self._requests: dict[str, deque[float]] = defaultdict(deque)
        self.rejected: dict[tuple[str, str], int] = defaultdict(int)

    def reconcile(self, url: str) -> None:
        """Set the running sums and the last minute's requests from the decision log at ``url``."""
        if not self.clients:
            return
        now = self.clock()
        mark = placeholder(url)
        conn = connect_readonly(url)
        try:
            for window in WINDOWS:
                start = window_start(now, window)
                rows = conn.execute(
                    "SELECT client_key_id, SUM(cost_usd) FROM decisions WHERE created_at >= "
                    f"{mark} AND client_key_id IS NOT NULL AND cost_usd IS NOT NULL GROUP BY client_key_id",
                    (start,),
                ).fetchall()
                for client, total in rows:
                    if client in self.clients:
                        self._spent[(client, window)] = (start, float(total or 0.0))
            rows = conn.execute(
                f"SELECT client_key_id, created_at FROM decisions WHERE created_at >= {mark} "
                "AND client_key_id IS NOT NULL ORDER BY created_at",
                (now - 60.0,),
            ).fetchall()
        except database_errors(url) as exc:
            raise StorageError(f"{redact_url(url)}: cannot read the spend of client keys ({exc})") from None
        finally:
            conn.close()
        for client, at in rows:
            if client in self.clients:
                self._requests[client].append(float(at))

    def spend(self, client: str, window: str) -> float:
        """USD spent by ``client`` in the current ``window`` (day or month)."""
        now = self.clock()
        start, usd = self._spent.get((client, window), (0.0, 0.0))
        return usd if start == window_start(now, window) else 0.0

    def spent(self, client: str | None, usd: float | None) -> None:
        """Add an answer's cost to its client's running sums."""
        if client not in self.clients or usd is None or not math.isfinite(usd):
            return
        now = self.clock()
        for window in WINDOWS:
            start = window_start(now, window)
            before = self.spend(client, window)
            self._spent[(client, window)] = (start, before + usd)

    def check_spend(self, client: str | None) -> None:
        """429 ``budget_exceeded`` when ``client`` has spent a budget (before each provider call)."""
        limits = self.clients.get(client) if client is not None else None
        if limits is None or client is None:
            return
        for window, budget in (("day", limits.daily_usd), ("month", limits.monthly_usd)):
            if budget is None:
                continue
            used = self.spend(client, window)
            if used >= budget:
                self.rejected[(client, "budget_exceeded")] += 1
                wait = window_end(self.clock(), window) - self.clock()
                name = "daily_usd" if window == "day" else "monthly_usd"
                raise APIError(
                    429,
                    f"client {client!r} has spent ${used:.6f} of its {name} budget of ${budget:g} this UTC "
                    f"{window}; it renews in {math.ceil(wait)} s",
                    type="insufficient_quota",
                    code="budget_exceeded",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )

    def admit(self, client: str | None, *, spends: bool = True) -> None:
        """Count a new request of ``client``: 429 ``rate_limited`` past its requests per minute,
        and (``spends``: it will call a provider) ``budget_exceeded`` past a budget."""
        limits = self.clients.get(client) if client is not None else None
        if limits is None or client is None:
            return
        if spends:
            self.check_spend(client)
        if limits.requests_per_minute is None:
            return
        now = self.clock()
        window = self._requests[client]
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= limits.requests_per_minute:
            self.rejected[(client, "rate_limited")] += 1
            wait = max(1, math.ceil(window[0] + 60.0 - now))
            raise APIError(
                429,
                f"client {client!r} sent {len(window)} requests in the last minute, its limit of "
                f"{limits.requests_per_minute} requests per minute; retry in {wait} s",
                type="requests",
                code="rate_limited",
                headers={"Retry-After": str(wait)},
            )
        window.append(now)

    def lines(self) -> list[str]:
        """Prometheus lines: spend per client and window, rejections per client and reason."""
        out = ["# TYPE irtrouter_client_spend_usd gauge"]
        for client in sorted(self.clients):
            for window in WINDOWS:
                out.append(
                    f'irtrouter_client_spend_usd{{client="{client}",window="{window}"}} {self.spend(client, window)!r}'
                )
        out.append("# TYPE irtrouter_client_rejected_total counter")
        for (client, reason), n in sorted(self.rejected.items()):
            out.append(f'irtrouter_client_rejected_total{{client="{client}",reason="{reason}"}} {n}')
        return out


def limited_clients(auth: AuthConfig) -> dict[str, ClientConfig]:
    """The clients of ``auth.clients`` that have a budget or a rate limit."""
    return {
        name: c
        for name, c in auth.clients.items()
        if any(v is not None for v in (c.daily_usd, c.monthly_usd, c.requests_per_minute))
    }
