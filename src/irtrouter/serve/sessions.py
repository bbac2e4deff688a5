"""Sessions: a conversation stays on its LLM unless switching is predicted to be worth it.

A conversation that moves between LLMs loses the provider's prompt cache (the whole history is
billed again at the full input price) and changes voice mid-way. So once a conversation has an
LLM, a later turn switches only when the rule's choice beats the session's LLM by more than the
*switching cost*:

    gain = score(chosen) - score(session LLM)        (the rule's own score units)
    cost = sessions.switch_margin + cache term
    stay when gain <= cost

The **cache term** (``sessions.cache_miss_cost``, on by default) is the prompt-cache discount the
session's LLM gives on the history it has already seen: ``history tokens x (input_price -
cache_read_price) / 1e6`` USD, from the catalog's ``cache_read_price`` (none: no term). It is put
in score units as the rise of that LLM's score under the linear rule had its expected cost been
that much lower: ``beta x C x discount / expected USD`` (C grows in proportion to an LLM's
expected USD for a given query). The history is every message but the last.

**Key.** The ``x-irtrouter-session`` header (1-200 printable characters) when the client sends
one; else a hash of the conversation's first turns (system messages and the first user message),
which every later turn of the same conversation repeats. With a hashed key, a request without an
``assistant`` message is the *start* of a conversation (nothing is cached yet): it is routed
afresh and opens the session; two conversations that open with the same words share a key until
one of them routes fresh again. Only a session's LLM that the request still allows (profile,
``allowed_llms``, ``max_cost``, capabilities) can be stayed on. After fallback, the session
follows the LLM that answered.

**State** lives in memory, per process: at most ``sessions.max_sessions`` (least recently used
dropped first), each forgotten ``sessions.ttl_s`` seconds after its last turn. Replicas do not
share it: behind a load balancer, route a session to one replica (sticky on the header) or
conversations switch LLMs between replicas. Every decision records its ``session_id``.

Examples
--------
>>> from irtrouter.serve.config import SessionsConfig
>>> s = Sessions(SessionsConfig(), cache_prices={})
>>> s.key({"x-irtrouter-session": "chat-42"}, {"messages": []})
('chat-42', 'header')
>>> s.key({}, {"messages": [{"role": "user", "content": "hi"}]})[0][:2]
'h-'
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from irtrouter.data.catalog import LLMSpec
from irtrouter.data.tokens import estimate_tokens
from irtrouter.serve.config import SessionsConfig
from irtrouter.serve.errors import APIError
from irtrouter.serve.overrides import message_text
from irtrouter.serve.routing import Routed, SessionNote

HEADER = "x-irtrouter-session"


class Sessions:
    """The session table of one service (in memory, bounded, expiring).

    Parameters
    ----------
    config : SessionsConfig
    cache_prices : mapping
        ``llm_id -> (input_price, cache_read_price)`` in USD per million tokens, for the LLMs
        whose catalog entry gives a cache-read price.
    clock : callable, optional
        Seconds (default ``time.monotonic``).
    """

    def __init__(
        self,
        config: SessionsConfig,
        cache_prices: Mapping[str, tuple[float, float]],
        clock: Any = time.monotonic,
    ) -> None:
        self.config = config
        self.cache_prices = dict(cache_prices)
        self.clock = clock
        self._llm: OrderedDict[str, tuple[str, float]] = OrderedDict()  # key -> (llm_id, last seen)

    @classmethod
    def for_catalog(cls, config: SessionsConfig, catalog: Mapping[str, LLMSpec]) -> Sessions:
        """Sessions priced by the catalog's input and cache-read prices (LLMs without one: no cache term)."""
        return cls(
            config,
            {m: (s.input_price, s.cache_read_price) for m, s in catalog.items() if s.cache_read_price is not None},
        )

    def __len__(self) -> int:
        return len(self._llm)

    def key(self, headers: Mapping[str, str], body: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(session id, where it came from)`` for a request, or None (sessions off, no messages)."""
        if not self.config.enabled:
            return None
        given = headers.get(HEADER)
        if given is not None:
            if not 1 <= len(given) <= 200 or not given.isprintable():
                raise APIError(400, f"the {HEADER} header must be 1-200 printable characters", code="invalid_value")
            return given, "header"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return None
        first: list[str] = []
        for msg in messages:
            if not isinstance(msg, Mapping):
                return None
            role = msg.get("role")
            text = message_text(msg.get("content"), "messages")
            if role in ("system", "developer"):
                first.append(f"{role}:{text}")
            elif role == "user":
                first.append(f"user:{text}")
                break
        digest = hashlib.sha256("\x1e".join(first).encode("utf-8")).hexdigest()[:24]
        return f"h-{digest}", "first_turns"

    def _previous(self, key: str) -> str | None:
        now = self.clock()
        entry = self._llm.get(key)
        if entry is None:
            return None
        if now - entry[1] > self.config.ttl_s:
            del self._llm[key]
            return None
        return entry[0]

    def decide(self, key: tuple[str, str] | None, routed: Routed, body: Mapping[str, Any]) -> Routed:
        """``routed``, kept on the session's LLM when switching does not pay, with its note."""
        if key is None:
            return routed
        session_id, key_from = key
        d = routed.decision
        continuing = key_from == "header" or _has_assistant_turn(body)
        previous = self._previous(session_id) if continuing else None
        if previous is None:
            why = "a new session" if continuing else "the first turn of a conversation: routed afresh"
            return replace(routed, session=SessionNote(session_id, key_from, None, False, why))
        if previous == d.llm_id:
            note = SessionNote(session_id, key_from, previous, True, f"the rule chose the session's LLM {previous}")
            return replace(routed, session=note)
        if previous not in routed.order:
            why = f"the session's LLM {previous} is not allowed for this request: switched to {d.llm_id}"
            return replace(routed, session=SessionNote(session_id, key_from, previous, False, why))
        j, k = d.index, d.llm_ids.index(previous)
        gain = float(d.score[j] - d.score[k])
        cost = self.config.switch_margin + self._cache_term(routed, previous, body)
        if gain > cost:
            why = f"switched from {previous} to {d.llm_id}: score gain {gain:.4f} beats the switching cost {cost:.4f}"
            return replace(routed, session=SessionNote(session_id, key_from, previous, False, why, gain, cost))
        why = (
            f"stayed on the session's LLM {previous}: switching to {d.llm_id} gains {gain:.4f} in score, "
            f"not more than the switching cost {cost:.4f}"
        )
        note = SessionNote(session_id, key_from, previous, True, why, gain, cost)
        # The session decides, deterministically given its state: no exploration draw applies.
        decision = replace(d, llm_id=previous, explanation=None)
        order = (previous, *(m for m in routed.order if m != previous))
        return replace(routed, decision=decision, order=order, propensity=1.0, exploration=None, session=note)

    def _cache_term(self, routed: Routed, llm_id: str, body: Mapping[str, Any]) -> float:
        if not self.config.cache_miss_cost or llm_id not in self.cache_prices:
            return 0.0
        messages = body.get("messages")
        if not isinstance(messages, list) or len(messages) < 2:
            return 0.0
        history = "\n".join(message_text(m.get("content"), "messages") for m in messages[:-1] if isinstance(m, Mapping))
        price, cached = self.cache_prices[llm_id]
        discount = estimate_tokens(history) * max(price - cached, 0.0) / 1e6
        d = routed.decision
        k = d.llm_ids.index(llm_id)
        usd = routed.expected_usd(llm_id)
        return float(d.beta * d.cost[k] * discount / usd) if usd > 0 else 0.0

    def remember(self, routed: Routed, llm_id: str | None) -> None:
        """The session of ``routed`` is now on ``llm_id`` (the LLM that answered; None: unchanged)."""
        note = routed.session
        if note is None or llm_id is None:
            return
        self._llm[note.id] = (llm_id, self.clock())
        self._llm.move_to_end(note.id)
        while len(self._llm) > self.config.max_sessions:
            self._llm.popitem(last=False)


def _has_assistant_turn(body: Mapping[str, Any]) -> bool:
    messages = body.get("messages")
    return isinstance(messages, list) and any(isinstance(m, Mapping) and m.get("role") == "assistant" for m in messages)
