"""The one exception tree of irtrouter.

Every error irtrouter raises on purpose is an :class:`IRTRouterError`::

    IRTRouterError                      catch this for any deliberate irtrouter error
    |-- DataError (ValueError)          malformed input data; names the source, the row and the field
    |-- UnknownLLMError (KeyError)      an LLM id the catalog or the router does not know
    |-- ConfigError (ValueError)        an invalid parameter or configuration value
    |-- NotFittedError (AttributeError) a router or predictor used before fit() or load_router()
    |-- RouterFormatError (ValueError)  a saved router directory that cannot be read
    |-- EmbedderError (RuntimeError)    an embedder that could not be built or failed to encode
    |-- StorageError (RuntimeError)     the decision log could not be opened or written (503 in serve)
    |   the HTTP service's own (irtrouter.serve.errors):
    |-- APIError                        answered as is: an HTTP status and the OpenAI error envelope
    `-- UpstreamError                   a provider call failed (timeout, connect, 5xx, 429 fall back)

The subclasses also derive from the built-in exception a caller would naturally catch
(``ValueError``, ``KeyError``...), so ``except ValueError`` keeps working for code that does not
know irtrouter.

The CLI turns any of these into one line on stderr and a non-zero exit; the HTTP service turns
them into the OpenAI error envelope (``DataError`` / ``ConfigError`` / ``UnknownLLMError``: 400,
``StorageError``: 503, see :func:`irtrouter.serve.errors.api_error_from`).
"""

from __future__ import annotations


class IRTRouterError(Exception):
    """Base of every deliberate irtrouter error."""


class DataError(IRTRouterError, ValueError):
    """Input data is malformed: the message names the source, the row and the field."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
        row_kind: str = "row",
    ) -> None:
        self.source = source
        self.row = row
        self.field = field
        where = []
        if source:
            where.append(str(source))
        if row is not None:
            where.append(f"{row_kind} {row}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class UnknownLLMError(IRTRouterError, KeyError):
    """An LLM id that the catalog or the router does not know."""

    def __init__(self, llm_id: str, known: list[str] | tuple[str, ...], where: str = "") -> None:
        self.llm_id = llm_id
        self.known = tuple(known)
        shown = ", ".join(self.known[:20]) + (" ..." if len(self.known) > 20 else "")
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown LLM {llm_id!r}; known LLMs: {shown}")

    def __str__(self) -> str:  # KeyError would repr() the message, quoting it twice
        return str(self.args[0])


class ConfigError(IRTRouterError, ValueError):
    """A parameter or configuration value is invalid."""


class NotFittedError(IRTRouterError, AttributeError):
    """A router or predictor was used before ``fit`` (or ``load``)."""


class RouterFormatError(IRTRouterError, ValueError):
    """A saved router directory is missing files, or was written by an incompatible version."""


class EmbedderError(IRTRouterError, RuntimeError):
    """An embedder could not be built or failed to encode."""


class StorageError(IRTRouterError, RuntimeError):
    """The decision log could not be opened or written (the service answers 503)."""
