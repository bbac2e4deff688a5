"""Which LLMs can serve a request: tools, images, a JSON schema, the context window.

Each LLM's capabilities are the catalog's fields (``supports_tools``, ``supports_vision``,
``supports_json_schema``, ``context_window``, ``max_output_tokens``: :class:`~irtrouter.data.LLMSpec`),
overridden per deployment by ``llms.NAME.capabilities`` in ``serve.yaml``. A request needs:

==================  ==========================================================================
``tools``           a non-empty ``tools`` (or legacy ``functions``) list
``vision``          an image content part (``image_url``, ``input_image``) in any message
``json_schema``     ``response_format.type == "json_schema"``
``context_window``  estimated prompt tokens + ``max_tokens`` (when given) within the window
``max_output``      ``max_tokens`` within ``max_output_tokens``
==================  ==========================================================================

**Unknown is allowed.** A capability the catalog does not state (None) does not exclude the
LLM: most catalogs state little, and refusing on silence would refuse most requests; a provider
that really lacks it rejects the request (a 4xx, relayed as is). Only a stated lack (``false``,
a window too small) excludes. The allowed LLMs are narrowed before routing, so the rule chooses
among those that can serve; when none can, the client gets 400 ``capability_unmet`` naming each
requirement and the LLMs that lacked it.

Examples
--------
>>> from irtrouter.data import LLMSpec
>>> caps = {"a": Capabilities.of(LLMSpec("a", 1, 1, supports_tools=False)), "b": Capabilities()}
>>> need = Needs(tools=True)
>>> serving(need, ("a", "b"), caps)
(('b',), {'tools': ['a']})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from irtrouter.data.catalog import LLMSpec
from irtrouter.serve.config import CapabilityFields
from irtrouter.serve.errors import APIError
from irtrouter.serve.overrides import RouteRequest

_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
# What each requirement is called in the 400, and the request field it comes from.
_WHAT = {
    "tools": ("tool calling", "tools"),
    "vision": ("image input", "messages"),
    "json_schema": ("a json_schema response format", "response_format"),
    "context_window": ("a context window that fits the prompt and max_tokens", "messages"),
    "max_output": ("max_output_tokens >= max_tokens", "max_tokens"),
}


@dataclass(frozen=True)
class Capabilities:
    """What one LLM supports; None is unknown (and does not exclude it)."""

    tools: bool | None = None
    vision: bool | None = None
    json_schema: bool | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None

    @classmethod
    def of(cls, spec: LLMSpec, override: CapabilityFields | None = None) -> Capabilities:
        """The catalog's fields of ``spec``, with the config's ``override`` where it sets one."""
        caps = cls(
            spec.supports_tools,
            spec.supports_vision,
            spec.supports_json_schema,
            spec.context_window,
            spec.max_output_tokens,
        )
        if override is None:
            return caps
        return replace(caps, **{k: v for k, v in override.model_dump().items() if v is not None})

    def lacks(self, need: Needs) -> list[str]:
        """The requirements of ``need`` this LLM is known not to meet."""
        out = []
        if need.tools and self.tools is False:
            out.append("tools")
        if need.vision and self.vision is False:
            out.append("vision")
        if need.json_schema and self.json_schema is False:
            out.append("json_schema")
        if self.context_window is not None and need.total_tokens > self.context_window:
            out.append("context_window")
        output, most = need.output_tokens, self.max_output_tokens
        if output is not None and most is not None and output > most:
            out.append("max_output")
        return out


@dataclass(frozen=True)
class Needs:
    """What a request requires of the LLM that serves it."""

    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    prompt_tokens: int = 0
    output_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + (self.output_tokens or 0)

    @classmethod
    def of(cls, body: Mapping[str, Any], request: RouteRequest) -> Needs:
        """What the chat-completions ``body`` (already validated by ``parse_request``) needs."""
        tools = any(isinstance(body.get(k), list) and body[k] for k in ("tools", "functions"))
        fmt = body.get("response_format")
        schema = isinstance(fmt, Mapping) and fmt.get("type") == "json_schema"
        return cls(tools, _has_image(body.get("messages")), schema, request.prompt_tokens, request.max_tokens)


def _has_image(messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    for msg in messages:
        content = msg.get("content") if isinstance(msg, Mapping) else None
        if isinstance(content, list) and any(isinstance(p, Mapping) and p.get("type") in _IMAGE_PARTS for p in content):
            return True
    return False


def serving(
    need: Needs, allowed: Sequence[str], caps: Mapping[str, Capabilities]
) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """The allowed LLMs that can serve ``need``, and per requirement the LLMs that lacked it."""
    keep: list[str] = []
    lacking: dict[str, list[str]] = {}
    for llm_id in allowed:
        missing = caps[llm_id].lacks(need) if llm_id in caps else []
        for what in missing:
            lacking.setdefault(what, []).append(llm_id)
        if not missing:
            keep.append(llm_id)
    return tuple(keep), lacking


class CapabilityFilter:
    """Narrows each request's allowed LLMs to those that can serve it (the service holds one).

    Parameters
    ----------
    caps : mapping
        ``llm_id -> Capabilities`` for every routable LLM.
    """

    def __init__(self, caps: Mapping[str, Capabilities]) -> None:
        self.caps = dict(caps)

    @classmethod
    def from_catalog(
        cls, catalog: Mapping[str, LLMSpec], overrides: Mapping[str, CapabilityFields]
    ) -> CapabilityFilter:
        return cls({m: Capabilities.of(catalog[m], overrides.get(m)) for m in overrides})

    def narrow(self, request: RouteRequest, body: Mapping[str, Any]) -> RouteRequest:
        """``request`` with only the allowed LLMs that can serve ``body``; 400 ``capability_unmet`` if none."""
        need = Needs.of(body, request)
        keep, lacking = serving(need, request.allowed_llms, self.caps)
        if keep == request.allowed_llms:
            return request
        if not keep:
            first = next(iter(lacking))
            detail = "; ".join(f"{_WHAT[w][0]}: {', '.join(ms)} lack it" for w, ms in lacking.items())
            if "context_window" in lacking:
                detail += f" (the request needs about {need.total_tokens} tokens)"
            raise APIError(
                400,
                f"no allowed LLM can serve this request: {detail}",
                param=_WHAT[first][1],
                code="capability_unmet",
            )
        return replace(request, allowed_llms=keep)
