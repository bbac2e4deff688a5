"""From an HTTP request body to what the router is asked and what the provider is sent.

This is the one place that reads the irtrouter fields of a request. A chat-completions body is
an OpenAI body plus optional routing fields at the top level (the ``openai`` client sends them
with ``extra_body=``)::

    {"model": "irtrouter/auto", "messages": [...], "alpha": 0.5, "rule": "chebyshev",
     "allowed_llms": ["gpt-4o-mini", "llama-3-70b"], "max_cost": 0.002}

``model``
    ``irtrouter/auto`` (the ``routing`` defaults), ``irtrouter/NAME`` (profile NAME), or a
    routable LLM id (that LLM only: the decision is still computed and recorded).
``alpha``
    Weight of predicted performance in ``alpha * P - (1 - alpha) * C``, in [0, 1]; replaces the
    profile's trade-off (its ``alpha`` or ``budget``).
``preference``
    Instead of ``alpha``: the weight w of cost against quality 1, any number >= 0 (the same
    trade-off as ``alpha = 1 / (1 + w)``; the router converts it, :class:`~irtrouter.routing.rule.TradeOff`).
    An LLM Bandit policy router takes it as its preference, within the range it was trained on
    (default [0, 2]; otherwise 400).
``budget``
    Instead of ``alpha`` / ``preference``: RADAR's hard budget mode, a mean cost per query >= 0
    (expected USD when the router's cost model estimates USD, else normalised cost) that the
    trade-off is calibrated to on reference queries kept with the router; replaces the profile's
    trade-off. 400 when even the cheapest routing spends more, or with the ``policy`` rule. The
    decision then reports ``budget``, ``budget_unit``, ``budget_weight`` and
    ``budget_reference_spend``.
``rule``
    The routing rule, one of the router's (``linear``, ``chebyshev``; a policy router also
    ``policy``); replaces the profile's (default: the router's own). Unknown rules get a 400
    from :mod:`irtrouter.serve.routing`, which knows the router.
``allowed_llms``
    Narrows the profile's allowed LLMs (it cannot widen them).
``max_cost``
    Most expected USD for this request; LLMs expected to cost more are not considered. The
    stricter of the request's and the profile's applies.

A request gives at most one of ``alpha``, ``preference`` and ``budget``. A pinned LLM (``model``
an LLM id) keeps the ``routing`` rule but not its budget: with one LLM there is nothing to
calibrate, only a request to refuse.

These fields are removed before the body goes to the provider; everything else passes through.
To add a field (a preference vector, a reasoning budget...), add it to :data:`ROUTING_FIELDS`,
read it in :func:`parse_request` into :class:`RouteRequest`, and use it where the router is
called (``irtrouter.serve.routing.RoutingCall``, which is also the batching key: a field that
changes the decision must be in it).

The query the router sees is the text of the last ``user`` message (``routing.query_text:
last_user``), or the system messages followed by it (``system_and_last_user``), capped at
``routing.max_query_chars`` characters (default 1024; a longer one keeps its head and tail). The last user
turn is what the request asks now; earlier turns mostly repeat what was routed before, and a
long system prompt shared by every request would blur the query embedding, which is why it is
not the default.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from irtrouter.data.tokens import estimate_tokens
from irtrouter.embed.base import cap_text
from irtrouter.errors import ConfigError
from irtrouter.routing.rule import TradeOff
from irtrouter.serve.config import AUTO_PROFILE, MODEL_PREFIX, RoutingPolicy, ServeConfig
from irtrouter.serve.errors import APIError

#: The largest ``max_tokens`` accepted (no provider takes more; it is stored as a SQLite integer).
MAX_TOKENS = 2**31 - 1
ROUTING_FIELDS = ("alpha", "allowed_llms", "budget", "max_cost", "preference", "rule")


@dataclass(frozen=True)
class RouteRequest:
    """What one request asks of the router.

    ``allowed_llms`` is already the effective set (profile, request and routable LLMs combined),
    in the router's order. The trade-off is ``budget`` when set, else ``preference`` when set,
    else ``alpha``, as the router reads them; ``rule`` None is the router's own.
    """

    profile: str
    query: str
    prompt_text: str
    alpha: float
    allowed_llms: tuple[str, ...]
    max_cost: float | None
    max_tokens: int | None
    stream: bool
    preference: float | None = None
    rule: str | None = None
    budget: float | None = None

    @functools.cached_property
    def prompt_tokens(self) -> int:
        """Estimated tokens of the whole prompt (what the call is priced on), counted once: the
        capability filter and the cost estimate both read it."""
        return estimate_tokens(self.prompt_text)


def parse_request(
    body: Any,
    config: ServeConfig,
    router_llms: Sequence[str],
    routable: Sequence[str],
    needs_model: bool = True,
) -> tuple[RouteRequest, dict[str, Any]]:
    """Validate a chat-completions (or ``/v1/route``) body.

    Returns the routing request and the body to forward (routing fields removed). Raises
    :class:`APIError` 400 for malformed values and 404 for an unknown ``model``.

    ``/v1/route`` also accepts ``{"query": "text"}`` instead of ``messages`` (``needs_model``
    False: ``model`` defaults to ``irtrouter/auto``).
    """
    if not isinstance(body, Mapping):
        raise APIError(400, f"the request body must be a JSON object, got {_kind(body)}", code="invalid_body")
    profile, policy, pinned = _resolve_model(body, config, router_llms, routable, needs_model)
    if "query" in body and not needs_model:
        query = body["query"]
        if not isinstance(query, str) or not query.strip():
            raise APIError(400, "'query' must be a non-empty string", param="query", code="invalid_value")
        prompt_text = query
        if "messages" in body:
            raise APIError(400, "give either 'query' or 'messages', not both", param="query", code="invalid_value")
    else:
        query, prompt_text = _query_from_messages(body.get("messages"), config.routing.query_text)
    query = cap_text(query, config.routing.max_query_chars)  # what is embedded; prompt_text prices the call

    alpha, preference, budget = policy.alpha, None, policy.budget
    if "alpha" in body:
        alpha, budget = _number(body["alpha"], "alpha", low=0.0, high=1.0), None
    if body.get("preference") is not None:
        if "alpha" in body:
            raise APIError(
                400, "give either 'alpha' or 'preference', not both", param="preference", code="invalid_value"
            )
        preference, budget = _preference(body["preference"]), None
    if body.get("budget") is not None:
        other = next((k for k in ("alpha", "preference") if body.get(k) is not None), None)
        if other is not None:
            raise APIError(400, f"give either '{other}' or 'budget', not both", param="budget", code="invalid_value")
        budget = _number(body["budget"], "budget", low=0.0, high=math.inf)
    rule = policy.rule
    if body.get("rule") is not None:
        rule = body["rule"]
        if not isinstance(rule, str) or not rule:
            raise APIError(
                400, f"'rule' must be the name of a routing rule, got {rule!r}", param="rule", code="invalid_value"
            )
    allowed = policy.allowed(router_llms, routable)
    if pinned is not None:
        allowed = [pinned]
    if body.get("allowed_llms") is not None:
        wanted = body["allowed_llms"]
        if not isinstance(wanted, list) or not wanted or not all(isinstance(m, str) for m in wanted):
            raise APIError(
                400, "'allowed_llms' must be a non-empty list of LLM ids", param="allowed_llms", code="invalid_value"
            )
        for m in wanted:
            if m not in router_llms:
                raise APIError(
                    400,
                    f"unknown LLM {m!r} in allowed_llms; routable LLMs: {', '.join(routable)}",
                    param="allowed_llms",
                    code="unknown_llm",
                )
            if m not in allowed:
                why = "is not configured for calls" if m not in routable else f"is not allowed by profile {profile!r}"
                raise APIError(400, f"LLM {m!r} {why}", param="allowed_llms", code="llm_not_allowed")
        allowed = [m for m in allowed if m in set(wanted)]

    max_cost = policy.max_cost
    if body.get("max_cost") is not None:
        requested = _number(body["max_cost"], "max_cost", low=0.0, high=math.inf, open_low=True)
        max_cost = requested if max_cost is None else min(max_cost, requested)

    max_tokens = None
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS:
                raise APIError(
                    400,
                    f"'{key}' must be an integer in [1, {MAX_TOKENS}], got {value!r}",
                    param=key,
                    code="invalid_value",
                )
            max_tokens = value
            break
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise APIError(400, f"'stream' must be true or false, got {stream!r}", param="stream", code="invalid_value")

    forward = {k: v for k, v in body.items() if k not in ROUTING_FIELDS}
    request = RouteRequest(
        profile, query, prompt_text, alpha, tuple(allowed), max_cost, max_tokens, stream, preference, rule, budget
    )
    return request, forward


def _resolve_model(
    body: Mapping[str, Any], config: ServeConfig, router_llms: Sequence[str], routable: Sequence[str], needs_model: bool
) -> tuple[str, RoutingPolicy, str | None]:
    if "model" not in body and not needs_model:
        return AUTO_PROFILE, config.routing, None
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise APIError(
            400,
            f"'model' must be {MODEL_PREFIX}{AUTO_PROFILE}, {MODEL_PREFIX}PROFILE or an LLM id, got {model!r}",
            param="model",
            code="invalid_value",
        )
    if model.startswith(MODEL_PREFIX):
        name = model.removeprefix(MODEL_PREFIX)
        if name == AUTO_PROFILE:
            return AUTO_PROFILE, config.routing, None
        if name in config.profiles:
            return name, config.profiles[name], None
        known = ", ".join(MODEL_PREFIX + p for p in (AUTO_PROFILE, *config.profiles))
        raise APIError(404, f"no profile {model!r}; profiles: {known}", param="model", code="model_not_found")
    if model in routable:
        return model, config.routing.model_copy(update={"allowed_llms": None, "budget": None}), model
    if model in router_llms:
        raise APIError(
            404, f"LLM {model!r} is not configured for calls (no 'llms' entry)", param="model", code="model_not_found"
        )
    raise APIError(
        404,
        f"the model {model!r} does not exist; use {MODEL_PREFIX}{AUTO_PROFILE}, a profile or one of: "
        + ", ".join(routable),
        param="model",
        code="model_not_found",
    )


def message_text(content: Any, where: str) -> str:
    """The text of a message ``content``: a string, or the ``text`` of its text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise APIError(400, f"{where}: each content part must be an object with a 'type'", param="messages")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise APIError(400, f"{where}: a text part needs a string 'text'", param="messages")
                texts.append(part["text"])
        return "\n".join(texts)
    raise APIError(
        400, f"{where}: 'content' must be a string or a list of parts, got {_kind(content)}", param="messages"
    )


def _query_from_messages(messages: Any, mode: str) -> tuple[str, str]:
    if messages is None:
        raise APIError(400, "'messages' is required", param="messages", code="missing_messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "'messages' must be a non-empty list", param="messages", code="invalid_value")
    texts, roles = [], []
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
            raise APIError(
                400, f"messages[{i}] must be an object with a string 'role'", param="messages", code="invalid_value"
            )
        roles.append(msg["role"])
        texts.append(message_text(msg.get("content"), f"messages[{i}]"))
    users = [i for i, r in enumerate(roles) if r == "user" and texts[i].strip()]
    if not users:
        raise APIError(400, "no user message with text to route on", param="messages", code="missing_user_message")
    query = texts[users[-1]]
    if mode == "system_and_last_user":
        system = [t for t, r in zip(texts, roles, strict=True) if r in ("system", "developer") and t.strip()]
        query = "\n".join([*system, query])
    return query, "\n".join(t for t in texts if t)


def _preference(value: Any) -> float:
    try:
        return TradeOff.of(preference=value).cost_weight  # the library's check of a preference
    except ConfigError:
        raise APIError(
            400,
            f"'preference' must be a finite number >= 0 (the weight of cost against quality 1), got {value!r}",
            param="preference",
            code="invalid_value",
        ) from None


def _number(value: Any, name: str, low: float, high: float, open_low: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > low if open_low else value >= low) and value <= high:
        return float(value)
    expected = (
        f"a number {'>' if open_low else '>='} {low:g}" if high == math.inf else f"a number in [{low:g}, {high:g}]"
    )
    raise APIError(400, f"'{name}' must be {expected}, got {value!r}", param=name, code="invalid_value")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
