"""The estimator conventions every irtrouter estimator shares (scikit-learn's, written once), and
the ``name:key=value`` spec that names one with its parameters (:func:`parse_spec`).

``__init__`` only stores its arguments under their own names; :meth:`Params.get_params` reads
them back by introspecting the constructor, and ``repr`` shows them. Learned state ends in ``_``;
:func:`check_is_fitted` is the one way to ask whether it is there.

Examples
--------
>>> class Knob(Params):
...     def __init__(self, k: int = 3, name: str = "a") -> None:
...         self.k = k
...         self.name = name
>>> Knob(k=5)
Knob(k=5, name='a')
>>> check_is_fitted(Knob(), "weights_")
Traceback (most recent call last):
...
irtrouter.errors.NotFittedError: this Knob is not fitted: call fit()
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from irtrouter.errors import ConfigError, NotFittedError


class Params:
    """Mixin: ``get_params`` and ``repr`` from the constructor's arguments."""

    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's argument names, in order (the config keys)."""
        return [
            name
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Any:
        """A new instance from ``get_params()`` as read back from JSON: lists become tuples where the
        constructor's default is a tuple, so a saved estimator's parameters round-trip exactly."""
        defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
        coerced = {
            k: tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v for k, v in params.items()
        }
        return cls(**coerced)

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as given (saved in a router's ``config.json``)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def check_is_fitted(estimator: object, attribute: str, how: str = "call fit()") -> None:
    """Raise :class:`~irtrouter.errors.NotFittedError` unless ``estimator`` has ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted: {how}")


def parse_spec(spec: str, what: str = "spec") -> tuple[str, dict[str, Any]]:
    """``"name:key=value,key=value"`` -> ``(name, params)``; values are JSON where they parse (else
    the string), so a value may be a list or an object (``candidates=["mirt","2pl:init=data"]``):
    only commas outside brackets and quotes separate the pairs. ``what`` names the spec in the
    error (``router spec``, ``candidate``)."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in _top_level_parts(rest))):
        key, eq, raw = part.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{what} {spec!r}: expected key=value after ':', got {part!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw.strip()
    return name.strip(), params


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces and double quotes."""
    parts, start, depth, quoted, escaped = [], 0, 0, False, False
    for i, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]
