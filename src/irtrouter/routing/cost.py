"""Cost models: the C(M) of the routing score ``alpha * P - beta * C`` (IRT-Router eq. 1).

``price``
    The paper's fixed cost: each LLM's output price mapped linearly to [0, 1] by the largest
    output price among the router's LLMs (GPT-4o at $10/M -> 1, DeepSeek-Chat at $0.28/M -> 0.028).
``tokens``
    Per query: ``input_tokens(q) * input_price + E[output_tokens of M] * output_price`` in USD,
    with the expected output tokens of each LLM learned from the training data (so it needs
    output token counts) and the input tokens estimated from the text
    (:func:`irtrouter.data.tokens.estimate_tokens`). Divided by the cost of the most expensive LLM
    on a training query of mean length, so a typical query's costs lie in [0, 1] and a long query
    costs more than 1.
``observed``
    Each LLM's mean real USD cost per training query, divided by the largest such mean. For data
    with real costs but no token counts (RouterBench).
``configuration``
    RADAR's cost of a configuration (an LLM at a reasoning budget): output price x its mean
    output (reasoning + completion) tokens on the training data, divided by the largest such
    value, so every trained configuration's cost lies in [0, 1] and does not depend on the query
    (input tokens are not counted). Needs output tokens, like ``tokens``.
``auto``
    ``tokens`` when the training data has output tokens, else ``observed`` when it has USD costs,
    else ``price``.

The normalising reference is fixed at fit time, so an LLM added later is priced on the same scale
(and may exceed 1 when it is dearer than every trained LLM).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.data.tokens import estimate_tokens
from irtrouter.errors import ConfigError, DataError, NotFittedError

COST_MODELS = ("auto", "price", "tokens", "observed", "configuration")


class CostModel(ABC):
    """Turns queries into normalised costs ``C`` (and USD estimates where it can)."""

    kind: ClassVar[str]

    @abstractmethod
    def fit(self, results: ResultsMatrix, catalog: LLMCatalog) -> CostModel: ...

    @abstractmethod
    def normalised(self, queries: Sequence[str]) -> np.ndarray:
        """C for every query and LLM, shape (n_queries, n_llms)."""

    def expected_usd(self, queries: Sequence[str]) -> np.ndarray | None:
        """Expected USD per query and LLM, or None when the model has no USD estimate."""
        return None

    @abstractmethod
    def add_llm(self, spec: LLMSpec, **estimates: float) -> None: ...

    @abstractmethod
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @classmethod
    @abstractmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> CostModel: ...

    def _check(self) -> None:
        if not hasattr(self, "reference_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted")


class PriceCost(CostModel):
    """Output price / the largest output price (the paper's C(M))."""

    kind = "price"

    def fit(self, results: ResultsMatrix, catalog: LLMCatalog) -> PriceCost:
        self.output_price_ = np.array([catalog[m].output_price for m in results.llm_ids], dtype=np.float64)
        self.reference_ = float(self.output_price_.max()) or 1.0
        return self

    def normalised(self, queries: Sequence[str]) -> np.ndarray:
        self._check()
        return np.broadcast_to(self.output_price_ / self.reference_, (len(queries), len(self.output_price_))).copy()

    def add_llm(self, spec: LLMSpec, **estimates: float) -> None:
        self._check()
        self.output_price_ = np.append(self.output_price_, spec.output_price)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._check()
        return {"kind": self.kind, "reference": self.reference_}, {"output_price": self.output_price_}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> PriceCost:
        self = cls()
        self.output_price_ = arrays["output_price"]
        self.reference_ = float(config["reference"])
        return self


class TokenCost(CostModel):
    """Per-query USD from estimated input tokens and each LLM's mean output tokens."""

    kind = "tokens"

    def fit(self, results: ResultsMatrix, catalog: LLMCatalog) -> TokenCost:
        if results.output_tokens is None or np.isnan(results.output_tokens).all():
            raise DataError(
                f"the {self.kind!r} cost model needs output_tokens in the training data", source=results.source
            )
        with np.errstate(invalid="ignore"):
            out = np.nanmean(results.output_tokens, axis=0)
        if np.isnan(out).any():
            missing = [m for m, v in zip(results.llm_ids, out, strict=True) if np.isnan(v)]
            raise DataError(f"no output_tokens for LLM(s) {missing}", source=results.source)
        self.input_price_ = np.array([catalog[m].input_price for m in results.llm_ids], dtype=np.float64)
        self.output_price_ = np.array([catalog[m].output_price for m in results.llm_ids], dtype=np.float64)
        self.expected_output_tokens_ = out.astype(np.float64)
        mean_in = float(np.mean([estimate_tokens(q) for q in results.queries]))
        per_llm = (mean_in * self.input_price_ + out * self.output_price_) / 1e6
        self.reference_ = float(per_llm.max()) or 1.0
        return self

    def expected_usd(self, queries: Sequence[str]) -> np.ndarray:
        self._check()
        tokens_in = np.array([estimate_tokens(q) for q in queries], dtype=np.float64)[:, None]
        return (tokens_in * self.input_price_ + self.expected_output_tokens_ * self.output_price_) / 1e6

    def normalised(self, queries: Sequence[str]) -> np.ndarray:
        return self.expected_usd(queries) / self.reference_

    def add_llm(self, spec: LLMSpec, **estimates: float) -> None:
        self._check()
        if "expected_output_tokens" not in estimates:
            raise ConfigError("adding an LLM to a 'tokens' cost model needs expected_output_tokens")
        self.input_price_ = np.append(self.input_price_, spec.input_price)
        self.output_price_ = np.append(self.output_price_, spec.output_price)
        self.expected_output_tokens_ = np.append(self.expected_output_tokens_, estimates["expected_output_tokens"])

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._check()
        return {"kind": self.kind, "reference": self.reference_}, {
            "input_price": self.input_price_,
            "output_price": self.output_price_,
            "expected_output_tokens": self.expected_output_tokens_,
        }

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> TokenCost:
        self = cls()
        self.input_price_ = arrays["input_price"]
        self.output_price_ = arrays["output_price"]
        self.expected_output_tokens_ = arrays["expected_output_tokens"]
        self.reference_ = float(config["reference"])
        return self


class ConfigurationCost(TokenCost):
    """Per configuration: output price x mean output tokens / the largest such product."""

    kind = "configuration"

    def fit(self, results: ResultsMatrix, catalog: LLMCatalog) -> ConfigurationCost:
        super().fit(results, catalog)
        self.reference_ = float((self.expected_output_tokens_ * self.output_price_).max() / 1e6) or 1.0
        return self

    def expected_usd(self, queries: Sequence[str]) -> np.ndarray:
        self._check()
        per_config = self.expected_output_tokens_ * self.output_price_ / 1e6
        return np.broadcast_to(per_config, (len(queries), len(per_config))).copy()


class ObservedCost(CostModel):
    """Mean real USD per training query of each LLM / the largest such mean."""

    kind = "observed"

    def fit(self, results: ResultsMatrix, catalog: LLMCatalog) -> ObservedCost:
        if results.cost_usd is None or np.isnan(results.cost_usd).all():
            raise DataError("the 'observed' cost model needs cost_usd in the training data", source=results.source)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(results.cost_usd, axis=0)
        if np.isnan(mean).any():
            missing = [m for m, v in zip(results.llm_ids, mean, strict=True) if np.isnan(v)]
            raise DataError(f"no cost_usd for LLM(s) {missing}", source=results.source)
        self.mean_usd_ = mean.astype(np.float64)
        self.reference_ = float(mean.max()) or 1.0
        return self

    def expected_usd(self, queries: Sequence[str]) -> np.ndarray:
        self._check()
        return np.broadcast_to(self.mean_usd_, (len(queries), len(self.mean_usd_))).copy()

    def normalised(self, queries: Sequence[str]) -> np.ndarray:
        return self.expected_usd(queries) / self.reference_

    def add_llm(self, spec: LLMSpec, **estimates: float) -> None:
        self._check()
        if "mean_cost_usd" not in estimates:
            raise ConfigError("adding an LLM to an 'observed' cost model needs mean_cost_usd")
        self.mean_usd_ = np.append(self.mean_usd_, estimates["mean_cost_usd"])

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._check()
        return {"kind": self.kind, "reference": self.reference_}, {"mean_usd": self.mean_usd_}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ObservedCost:
        self = cls()
        self.mean_usd_ = arrays["mean_usd"]
        self.reference_ = float(config["reference"])
        return self


_KINDS: dict[str, type[CostModel]] = {
    "price": PriceCost,
    "tokens": TokenCost,
    "observed": ObservedCost,
    "configuration": ConfigurationCost,
}


def make_cost_model(kind: str, results: ResultsMatrix) -> CostModel:
    """An unfitted cost model; ``auto`` picks by what ``results`` carries (module docstring)."""
    if kind == "auto":
        if results.output_tokens is not None and not np.isnan(results.output_tokens).all():
            kind = "tokens"
        elif results.cost_usd is not None and not np.isnan(results.cost_usd).all():
            kind = "observed"
        else:
            kind = "price"
    if kind not in _KINDS:
        raise ConfigError(f"unknown cost model {kind!r}; expected one of {', '.join(COST_MODELS)}")
    return _KINDS[kind]()


def cost_model_from_state(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> CostModel:
    kind = config.get("kind")
    if kind not in _KINDS:
        raise ConfigError(f"unknown cost model {kind!r} in saved router")
    return _KINDS[kind].from_state(config, arrays)
