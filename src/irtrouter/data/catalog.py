"""The LLM catalog: which LLMs a router may choose from, what they cost, and who they are.

A catalog file is JSON or YAML, either a list of entries or a mapping ``llm_id -> entry``::

    [{"llm_id": "gpt-4o", "input_price": 2.5, "output_price": 10,
      "profile": "GPT-4o, released by OpenAI in May 2024, ...",
      "provider_model": "gpt-4o-2024-08-06"}]

Prices are USD per million tokens. ``profile`` is the free text of the IRT-Router paper's
Table 10 (release date, developer, size, strengths); it is embedded to give the LLM its ability
vector, so a richer profile helps a router place an LLM it has seen little data for.

The native ``llm_candidates.json`` of ulab-uiuc/LLMRouter is read too: its ``feature`` text is the
profile, ``model`` the provider model name, and ``size`` / ``service`` are folded into the profile.

Configurations (RADAR)
----------------------
A candidate may be a *configuration* ``(llm, budget)``: one LLM run at a reasoning effort or with
a thinking-token budget, with its own id, price and expected token count. It is an entry like any
other (results data and routers use its ``llm_id``), with optional fields::

    {"llm_id": "o4-mini@high", "base_llm": "o4-mini", "reasoning_effort": "high",
     "input_price": 1.1, "output_price": 4.4, "expected_output_tokens": 2900}
    {"llm_id": "qwen3-8b@think-2048", "base_llm": "qwen3-8b", "thinking_budget": 2048, ...}

A plain LLM is a configuration with no budget. :meth:`LLMSpec.request_fields` says what a request
to the provider must carry so that the configuration really runs at its budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from irtrouter.errors import DataError, UnknownLLMError

_CONFIGURATION_FIELDS = ("base_llm", "reasoning_effort", "thinking_budget", "expected_output_tokens")
#: What an LLM supports and its prompt-cache price; None is unknown (written only when known).
CAPABILITY_FIELDS = (
    "supports_tools",
    "supports_vision",
    "supports_json_schema",
    "context_window",
    "max_output_tokens",
    "cache_read_price",
)
#: Every field of a catalog entry, in the order records are written.
_FIELDS: tuple[str, ...] = ("llm_id", "input_price", "output_price", "profile", "provider_model")
_FIELDS += (*_CONFIGURATION_FIELDS, *CAPABILITY_FIELDS)
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
_LLMROUTER_FIELDS = {"feature", "model", "size", "service", "input_price", "output_price"}


@dataclass(frozen=True)
class LLMSpec:
    """One candidate LLM.

    Parameters
    ----------
    llm_id : str
        The name used in results data and routing decisions.
    input_price, output_price : float
        USD per million input / output tokens (>= 0).
    profile : str
        Free-text description embedded as the LLM's profile (paper section 4.1).
    provider_model : str or None
        The model name to send to the provider, when it differs from ``llm_id``.
    base_llm : str or None
        For a configuration: the LLM it runs (``o4-mini`` for ``o4-mini@high``).
    reasoning_effort : {"minimal", "low", "medium", "high"} or None
        For a configuration: the provider's reasoning-effort setting.
    thinking_budget : int or None
        For a configuration: the most thinking tokens (>= 0; 0 = thinking off). At most one of
        ``reasoning_effort`` and ``thinking_budget`` is set.
    expected_output_tokens : float or None
        Prior estimate of the mean output (reasoning + completion) tokens per query, used to
        price an LLM added without training data (onboarding).
    supports_tools, supports_vision, supports_json_schema : bool or None
        Whether the LLM takes tool definitions, image inputs, a ``json_schema`` response format
        (None: unknown; the service then lets it serve such requests).
    context_window, max_output_tokens : int or None
        Most tokens of prompt + output, and of output alone (None: unknown).
    cache_read_price : float or None
        USD per million cached input tokens (prompt-cache hits), where the provider has one.

    Examples
    --------
    >>> spec = LLMSpec("o4-mini@high", 1.1, 4.4, base_llm="o4-mini", reasoning_effort="high")
    >>> spec.budget, spec.upstream_model, spec.request_fields()
    ('high', 'o4-mini', {'reasoning_effort': 'high'})
    >>> LLMSpec("qwen3-8b", 0.1, 0.3).with_budget(thinking_budget=2048).llm_id
    'qwen3-8b@think-2048'
    """

    llm_id: str
    input_price: float
    output_price: float
    profile: str = ""
    provider_model: str | None = None
    base_llm: str | None = None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    expected_output_tokens: float | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json_schema: bool | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    cache_read_price: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form; configuration and capability fields appear only when set (older files read as before)."""
        out = asdict(self)
        for name in (*_CONFIGURATION_FIELDS, *CAPABILITY_FIELDS):
            if out[name] is None:
                del out[name]
        return out

    @property
    def budget(self) -> str | None:
        """The budget as text (``"high"``, ``"think-2048"``), None for a plain LLM."""
        if self.reasoning_effort is not None:
            return self.reasoning_effort
        if self.thinking_budget is not None:
            return f"think-{self.thinking_budget}"
        return None

    @property
    def upstream_model(self) -> str:
        """The model name a request to the provider carries: ``provider_model``, else ``base_llm``,
        else ``llm_id``."""
        return self.provider_model or self.base_llm or self.llm_id

    def request_fields(self) -> dict[str, Any]:
        """Fields to merge into an OpenAI-style chat request so the provider runs this budget.

        ``reasoning_effort`` -> ``{"reasoning_effort": effort}`` (OpenAI o-series, gpt-oss);
        ``thinking_budget`` n -> ``{"thinking": {"type": "enabled", "budget_tokens": n}}``, or
        ``{"type": "disabled"}`` for 0 (Anthropic's form, accepted by its OpenAI-compatible
        endpoint). Providers with another convention (vLLM's ``chat_template_kwargs``...) need
        their own fields, set per upstream by the service; a plain LLM needs none.
        """
        if self.reasoning_effort is not None:
            return {"reasoning_effort": self.reasoning_effort}
        if self.thinking_budget is not None:
            if self.thinking_budget == 0:
                return {"thinking": {"type": "disabled"}}
            return {"thinking": {"type": "enabled", "budget_tokens": self.thinking_budget}}
        return {}

    def with_budget(
        self,
        *,
        reasoning_effort: str | None = None,
        thinking_budget: int | None = None,
        expected_output_tokens: float | None = None,
        output_price: float | None = None,
    ) -> LLMSpec:
        """The configuration ``(this LLM, budget)``, with id ``<llm_id>@<budget>``."""
        spec = replace(
            self,
            base_llm=self.base_llm or self.llm_id,
            reasoning_effort=reasoning_effort,
            thinking_budget=thinking_budget,
            expected_output_tokens=expected_output_tokens,
            output_price=self.output_price if output_price is None else output_price,
        )
        if spec.budget is None:
            raise DataError("with_budget needs reasoning_effort or thinking_budget", field="budget")
        spec = replace(spec, llm_id=f"{spec.base_llm}@{spec.budget}")
        _check_spec(spec, "with_budget", 0)
        return spec

    @property
    def profile_text(self) -> str:
        """The text embedded for this LLM: its profile, or its id when no profile is given."""
        return self.profile.strip() or self.llm_id


class LLMCatalog(Mapping[str, LLMSpec]):
    """An ordered, validated set of :class:`LLMSpec`, looked up by ``llm_id``.

    Examples
    --------
    >>> cat = LLMCatalog([LLMSpec("small", 0.1, 0.2), LLMSpec("large", 2.5, 10.0)])
    >>> cat.ids
    ('small', 'large')
    >>> cat["large"].output_price
    10.0
    """

    def __init__(self, specs: Iterable[LLMSpec], source: str = "catalog") -> None:
        self._specs: dict[str, LLMSpec] = {}
        for i, spec in enumerate(specs):
            _check_spec(spec, source, i)
            if spec.llm_id in self._specs:
                raise DataError(f"duplicate llm_id {spec.llm_id!r}", source=source, row=i, field="llm_id")
            self._specs[spec.llm_id] = spec
        if not self._specs:
            raise DataError("the catalog lists no LLMs", source=source)
        self.source = source

    def __getitem__(self, llm_id: str) -> LLMSpec:
        try:
            return self._specs[llm_id]
        except KeyError:
            raise UnknownLLMError(llm_id, self.ids, self.source) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"LLMCatalog({list(self._specs)!r})"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def subset(self, llm_ids: Iterable[str]) -> LLMCatalog:
        """The catalog restricted to ``llm_ids``, in that order (every id must be known)."""
        return LLMCatalog([self[i] for i in llm_ids], source=self.source)

    def to_records(self) -> list[dict[str, Any]]:
        return [spec.to_dict() for spec in self._specs.values()]

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], source: str = "catalog") -> LLMCatalog:
        specs = []
        for i, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise DataError(f"expected an object, got {type(rec).__name__}", source=source, row=i)
            unknown = set(rec) - set(_FIELDS)
            if unknown:
                raise DataError(
                    f"unknown field(s) {sorted(unknown)}; expected {list(_FIELDS)}",
                    source=source,
                    row=i,
                )
            missing = {"llm_id", "input_price", "output_price"} - set(rec)
            if missing:
                raise DataError(f"missing field(s) {sorted(missing)}", source=source, row=i)
            specs.append(
                LLMSpec(
                    llm_id=_text(rec["llm_id"], source, i, "llm_id"),
                    input_price=_price(rec["input_price"], source, i, "input_price"),
                    output_price=_price(rec["output_price"], source, i, "output_price"),
                    profile=_text(rec.get("profile") or "", source, i, "profile", allow_empty=True),
                    provider_model=rec.get("provider_model") or None,
                    base_llm=_optional_text(rec.get("base_llm"), source, i, "base_llm"),
                    reasoning_effort=rec.get("reasoning_effort"),
                    thinking_budget=rec.get("thinking_budget"),
                    expected_output_tokens=rec.get("expected_output_tokens"),
                    **_capabilities(rec, source, i),
                )
            )
        return cls(specs, source=source)


def load_catalog(path: str | Path) -> LLMCatalog:
    """Read a catalog file (JSON or YAML; list or mapping form; LLMRouter's native form).

    Raises
    ------
    DataError
        Naming the file, the entry and the field, for any malformed entry.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read catalog: {exc.strerror or exc}", source=source) from None
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as exc:  # json/yaml parse errors carry their own position
        raise DataError(f"not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}", source=source) from None
    return catalog_from_obj(raw, source)


def catalog_from_obj(raw: Any, source: str = "catalog") -> LLMCatalog:
    """Build a catalog from already-parsed JSON/YAML (list or mapping form)."""
    if isinstance(raw, Mapping) and "llms" in raw:
        extra = [k for k in raw if k != "llms" and not str(k).startswith("_")]
        if extra:
            raise DataError(f"unknown top-level key(s) {extra}; expected 'llms' (and '_comment')", source=source)
        raw = raw["llms"]
    if isinstance(raw, list):
        return LLMCatalog.from_records(raw, source)
    if isinstance(raw, Mapping):
        records = []
        for llm_id, entry in raw.items():
            if not isinstance(entry, Mapping):
                raise DataError(f"expected an object for {llm_id!r}", source=source, field=str(llm_id))
            if "feature" in entry and set(entry) <= _LLMROUTER_FIELDS:
                records.append(_from_llmrouter(str(llm_id), entry))
            else:
                records.append({"llm_id": llm_id, **entry})
        return LLMCatalog.from_records(records, source)
    raise DataError(
        f"expected a list of LLM entries or a mapping llm_id -> entry, got {type(raw).__name__}",
        source=source,
    )


def _from_llmrouter(llm_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    extras = [
        f"Size: {entry['size']}." if entry.get("size") else "",
        f"Served by {entry['service']}." if entry.get("service") else "",
    ]
    profile = " ".join([str(entry.get("feature", "")).strip(), *[e for e in extras if e]]).strip()
    return {
        "llm_id": llm_id,
        "input_price": entry.get("input_price"),
        "output_price": entry.get("output_price"),
        "profile": profile,
        "provider_model": entry.get("model"),
    }


def _check_spec(spec: LLMSpec, source: str, row: int) -> None:
    _text(spec.llm_id, source, row, "llm_id")
    _price(spec.input_price, source, row, "input_price")
    _price(spec.output_price, source, row, "output_price")
    _optional_text(spec.base_llm, source, row, "base_llm")
    if spec.reasoning_effort is not None and spec.reasoning_effort not in REASONING_EFFORTS:
        raise DataError(
            f"expected one of {list(REASONING_EFFORTS)}, got {spec.reasoning_effort!r}",
            source=source,
            row=row,
            field="reasoning_effort",
        )
    budget = spec.thinking_budget
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
        raise DataError(
            f"expected a whole number of thinking tokens >= 0, got {budget!r}",
            source=source,
            row=row,
            field="thinking_budget",
        )
    if spec.reasoning_effort is not None and budget is not None:
        raise DataError(
            "a configuration has either a reasoning_effort or a thinking_budget, not both",
            source=source,
            row=row,
            field="thinking_budget",
        )
    tokens = spec.expected_output_tokens
    if tokens is not None and not (
        isinstance(tokens, int | float) and not isinstance(tokens, bool) and math.isfinite(tokens) and tokens >= 0
    ):
        raise DataError(
            f"expected a number of tokens >= 0, got {tokens!r}",
            source=source,
            row=row,
            field="expected_output_tokens",
        )


def _capabilities(rec: Mapping[str, Any], source: str, row: int) -> dict[str, Any]:
    """The capability fields of a catalog entry, checked (absent or null: unknown)."""
    out: dict[str, Any] = {}
    for name in ("supports_tools", "supports_vision", "supports_json_schema"):
        value = rec.get(name)
        if value is not None and not isinstance(value, bool):
            raise DataError(f"expected true, false or null, got {value!r}", source=source, row=row, field=name)
        out[name] = value
    for name in ("context_window", "max_output_tokens"):
        value = rec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise DataError(f"expected whole tokens >= 1, got {value!r}", source=source, row=row, field=name)
        out[name] = value
    cache = rec.get("cache_read_price")
    out["cache_read_price"] = None if cache is None else _price(cache, source, row, "cache_read_price")
    return out


def _optional_text(value: Any, source: str, row: int, field: str) -> str | None:
    return None if value is None else _text(value, source, row, field)


def _text(value: Any, source: str, row: int, field: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise DataError(f"expected text, got {type(value).__name__}", source=source, row=row, field=field)
    if not allow_empty and not value.strip():
        raise DataError("must not be empty", source=source, row=row, field=field)
    return value


def _price(value: Any, source: str, row: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(
            f"expected a number (USD per million tokens), got {value!r}", source=source, row=row, field=field
        )
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise DataError(f"expected a finite price >= 0, got {value!r}", source=source, row=row, field=field)
    return price
