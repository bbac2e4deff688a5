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
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from irtrouter.errors import DataError, UnknownLLMError

_FIELDS = ("llm_id", "input_price", "output_price", "profile", "provider_model")
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
    """

    llm_id: str
    input_price: float
    output_price: float
    profile: str = ""
    provider_model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
