"""Response bodies serialised with orjson: the routing object of every answer, once.

A ``/v1/route`` answer (about 3 KB: per-LLM P-hat, costs, the explanation) took ~100 us to
serialise with the standard library as Starlette's ``JSONResponse`` does it and ~8 us with
orjson, measured on the event loop's thread of a 2-core machine (docs/BENCHMARKS.md, "Service
overhead and workers"). What orjson refuses (an integer beyond 64 bits, a lone surrogate, a key
that is not a string: a provider's body can hold any of them) goes through the standard library
exactly as before, so the answer, or the error, is the one it was. One difference: orjson writes
NaN and infinities as ``null`` where the standard library raised; no routing figure is NaN.
orjson comes with the ``serve`` extra; without it (a Ray-only install) every body takes the
standard library's path.

Examples
--------
>>> FastJSONResponse({"a": [1, 2.5, "é"]}).body
b'{"a":[1,2.5,"\\xc3\\xa9"]}'
>>> FastJSONResponse({"big": 2**70}).body  # beyond orjson: the standard library's bytes
b'{"big":1180591620717411303424}'
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

try:
    import orjson
except ImportError:  # pragma: no cover - the serve and dev extras install it
    orjson = None  # type: ignore[assignment]


class FastJSONResponse(JSONResponse):
    """``JSONResponse`` that renders with orjson, falling back to the standard library; ``content``
    keeps what was rendered, for a caller that translates the answer rather than sending it
    (``/v1/responses``), so it need not parse the bytes back."""

    content: Any

    def render(self, content: Any) -> bytes:
        self.content = content
        if orjson is None:
            return super().render(content)
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError: what it cannot write, the stdlib writes or refuses
            return super().render(content)
