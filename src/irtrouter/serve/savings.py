"""Savings: what each request would have cost on its profile's reference LLM.

Every decision records ``reference_llm`` and ``reference_cost_usd``. The reference LLM is the
profile's ``reference_llm`` (``routing.reference_llm`` for ``irtrouter/auto``), by default the
dearest LLM the profile allows (catalog input + output price per million tokens; ties: the one
listed first). Its cost is priced at the reference LLM's catalog prices from the provider-reported
tokens of the answer when there are some (the tokens another LLM would use differ: this is the
bill of the same conversation at the other price list), else from the expected tokens of the
decision, the router's expected USD on the reference LLM (``/v1/route``, failed requests).
Savings = ``reference_cost_usd - cost_usd``.
``/metrics`` sums both per profile; ``irtrouter report --db URL`` reads them back by day.

Examples
--------
>>> prices = {"small": (0.1, 0.2), "large": (3.0, 15.0)}
>>> dearest(["small", "large"], prices)
'large'
>>> round(price(prices["large"], 1000, 500), 6)
0.0105
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from irtrouter.serve.config import AUTO_PROFILE, ServeConfig
from irtrouter.store import DecisionRecord


def dearest(llm_ids: Sequence[str], prices: Mapping[str, tuple[float, float]]) -> str:
    """The LLM of ``llm_ids`` with the highest input + output price (first listed on ties)."""
    return max(llm_ids, key=lambda m: (prices[m][0] + prices[m][1], -llm_ids.index(m)))


def price(prices: tuple[float, float], input_tokens: int, output_tokens: int) -> float:
    """USD of ``input_tokens`` + ``output_tokens`` at ``(input, output)`` USD per million tokens."""
    return (input_tokens * prices[0] + output_tokens * prices[1]) / 1e6


def actual_cost(prices: tuple[float, float], usage: Any) -> tuple[int | None, int | None, float | None]:
    """``(input tokens, output tokens, USD)`` from a provider's ``usage``; Nones when it has no counts."""
    if not isinstance(usage, Mapping):
        return None, None, None
    tin, tout = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(tin, bool) or isinstance(tout, bool) or not isinstance(tin, int) or not isinstance(tout, int):
        return None, None, None
    return tin, tout, price(prices, tin, tout)


class Savings:
    """The reference LLM of each profile, and the reference cost of each record.

    Parameters
    ----------
    config : ServeConfig
    router_llms, routable : sequence of str
    prices : mapping
        ``llm_id -> (input_price, output_price)`` USD per million tokens.
    """

    def __init__(
        self,
        config: ServeConfig,
        router_llms: Sequence[str],
        routable: Sequence[str],
        prices: Mapping[str, tuple[float, float]],
    ) -> None:
        self.prices = dict(prices)
        policies = {AUTO_PROFILE: config.routing, **config.profiles}
        self.reference = {
            name: p.reference_llm or dearest(p.allowed(router_llms, routable) or list(routable), self.prices)
            for name, p in policies.items()
        }
        self.pinned_reference = self.reference[AUTO_PROFILE]  # a pinned LLM id is measured as auto

    def of(self, profile: str) -> str:
        """The reference LLM of ``profile`` (a pinned LLM id is measured as ``irtrouter/auto``)."""
        return self.reference.get(profile, self.pinned_reference)

    def reprice(self, record: DecisionRecord) -> None:
        """Price ``record.reference_cost_usd`` from its reported tokens, when it has them (else the
        expected cost set with the decision stays)."""
        if record.reference_llm is None or record.input_tokens is None or record.output_tokens is None:
            return
        record.reference_cost_usd = price(self.prices[record.reference_llm], record.input_tokens, record.output_tokens)
