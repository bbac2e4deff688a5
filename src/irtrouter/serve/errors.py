"""Errors of the HTTP service and the OpenAI error envelope they are answered with.

Every 4xx/5xx the service sends has the body OpenAI clients parse::

    {"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": "missing_messages"}}

Library errors map to client errors (``UnknownLLMError`` -> 400 on the parameter that named it,
``ConfigError`` / ``DataError`` -> 400), so a client mistake is never a 500.
"""

from __future__ import annotations

from typing import Any

from irtrouter.errors import ConfigError, DataError, IRTRouterError, StorageError, UnknownLLMError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}


class APIError(IRTRouterError):
    """An error answered with ``status`` and the OpenAI envelope.

    Examples
    --------
    >>> APIError(404, "no profile 'x'", param="model", code="model_not_found").envelope()["error"]["type"]
    'not_found_error'
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class UpstreamError(IRTRouterError):
    """A provider call that failed; ``retryable`` ones fall back to the next-best LLM.

    ``kind`` is ``timeout``, ``connect``, ``status_5xx``, ``status_429``, ``bad_response`` (a
    success status with no completion in it: HTML, an error event) (retryable), ``rejected``
    (another 4xx: the request itself is at fault, so another LLM would fail too) or ``deadline``
    (the request's total deadline passed: no time is left to retry). ``retry_after``: seconds
    from a 429's ``Retry-After``.
    """

    def __init__(
        self,
        llm_id: str,
        kind: str,
        message: str,
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.llm_id = llm_id
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind not in ("rejected", "deadline")


def api_error_from(exc: IRTRouterError, param: str | None = None) -> APIError:
    """The client error for a library error raised while handling a request."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, UnknownLLMError):
        return APIError(400, str(exc), param=param or "allowed_llms", code="unknown_llm")
    if isinstance(exc, StorageError):
        return APIError(503, str(exc), code="storage_unavailable")
    if isinstance(exc, ConfigError | DataError):
        return APIError(400, str(exc), param=param, code="invalid_value")
    return APIError(500, f"internal error: {type(exc).__name__}", code="internal_error")
