"""Reading JSON text with a precise reason for each way it can fail.

``json.loads`` fails in four different ways that callers used to lump together: a syntax error
(:class:`json.JSONDecodeError`, with its line and column), bytes that are not UTF-8
(:class:`UnicodeDecodeError`, with a byte offset), an integer with more digits than Python reads
(a plain :class:`ValueError`: ``sys.get_int_max_str_digits()``, 4,300 by default, guards against
quadratic-time conversion) and arrays or objects nested beyond the recursion limit
(:class:`RecursionError`). :func:`json_error_reason` names which, and where when it can;
:func:`parse_json` raises a :class:`~irtrouter.errors.DataError` naming the file and line.

Examples
--------
>>> json_error_reason(UnicodeDecodeError("utf-8", b"{\\xff}", 1, 2, "invalid start byte"), b"{\\xff}")
('invalid UTF-8 at byte 1 (0xff)', 1)
>>> parse_json(b'{"a": [1, 2}', source="x.json")
Traceback (most recent call last):
...
irtrouter.errors.DataError: x.json, line 1: not valid JSON: Expecting ',' delimiter at column 12
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from irtrouter.errors import DataError


def json_error_reason(exc: BaseException, raw: bytes | str) -> tuple[str, int | None]:
    """``(reason, line or None)`` for an exception ``json.loads(raw)`` raised.

    The line is 1-based within ``raw``; None where the parser gives no position (nesting).
    """
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}", exc.lineno
    if isinstance(exc, UnicodeDecodeError):
        data = exc.object if isinstance(exc.object, bytes) else b""
        bad = data[exc.start : exc.start + 1].hex() if data else ""
        encoding = "UTF-8" if exc.encoding.replace("-", "").lower() == "utf8" else exc.encoding
        return f"invalid {encoding} at byte {exc.start}" + (f" (0x{bad})" if bad else ""), data.count(
            b"\n", 0, exc.start
        ) + 1
    if isinstance(exc, RecursionError):
        return "nested too deeply (arrays or objects inside one another past Python's recursion limit)", None
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        limit = sys.get_int_max_str_digits()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        found = re.search(rf"\d{{{limit + 1},}}", text)
        digits = f"{len(found.group())} digits" if found else f"over {limit} digits"
        line = text.count("\n", 0, found.start()) + 1 if found else None
        return f"an integer too large to read ({digits}; Python reads at most {limit}: int max str digits)", line
    return str(exc), None


def parse_json(raw: bytes | str, *, source: str | None = None, first_line: int = 1) -> Any:
    """``json.loads(raw)``, or a :class:`DataError` naming ``source``, the line and the reason.

    ``first_line`` is the file line ``raw`` starts on (one line of a JSONL file).
    """
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason, line = json_error_reason(exc, raw)
        row = None if line is None else first_line + line - 1
        raise DataError(f"not valid JSON: {reason}", source=source, row=row, row_kind="line") from None
