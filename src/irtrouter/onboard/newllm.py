"""Adding a new LLM to a trained router: its ability from its profile or from quiz answers.

* **Profile only** (IRT-Router sec. 6.3): the ability is read from the profile embedding alone
  (:meth:`~irtrouter.irt.base.IRTPredictor.profile_ability`; MIRT/NIRT: the trained profile map,
  2PL: a ridge map onto the trained abilities). No query is run.
* **Quiz** (RADAR sec. 5): the new LLM answers a few training-style queries picked by
  :class:`~irtrouter.onboard.quiz.AdaptiveQuiz`; its ability is the MAP estimate with the query
  side frozen.

Either way :func:`onboard_llm` adds it to the router (predictor, cost model, catalog), after which
the router routes to it and saves with it, as if it had been trained with the others.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from irtrouter.data.catalog import LLMSpec
from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.items import AbilityPrior, ItemBank
from irtrouter.onboard.quiz import map_ability
from irtrouter.routing.router import IRTRouter

PRIORS = ("standard", "pool")


def quiz_bank(router: IRTRouter, X_queries: np.ndarray, query_ids: Sequence[str] | None = None) -> ItemBank:
    """The item bank of a router over embedded candidate queries (no warm-up: quiz queries are
    scored as they are, and are normally training queries)."""
    router._check_fitted()
    return ItemBank.from_predictor(router.predictor_, X_queries, query_ids)


def ability_prior(router: IRTRouter, prior: str = "pool", shrinkage: float = 0.1) -> AbilityPrior:
    """The prior on a new LLM's ability.

    ``pool`` (default): the trained LLMs' mean and covariance plus a ridge
    (:meth:`AbilityPrior.from_pool`): a new LLM is assumed to resemble the pool. ``standard``:
    N(0, I), RADAR's choice. For a 2PL router the two agree (its abilities are standardised). For
    MIRT, whose ability axes have no common scale and whose pool spans only a few of its 25
    dimensions, N(0, I) lets 30 answers pull the estimate along directions no trained LLM uses: on
    the llmrouter training data its estimates after 30 quiz answers lie about 3 times as far from
    the estimate with all of the LLM's training answers as under ``pool``
    (``benchmarks/onboard.py``).
    """
    router._check_fitted()
    k = router.predictor_.abilities_.shape[1]
    if prior == "standard":
        return AbilityPrior.standard(k)
    if prior == "pool":
        return AbilityPrior.from_pool(router.predictor_.abilities_, shrinkage)
    raise ConfigError(f"unknown prior {prior!r}; expected one of {', '.join(PRIORS)}")


def ability_from_answers(
    router: IRTRouter,
    X_queries: np.ndarray,
    scores: Sequence[float] | np.ndarray,
    prior: str | AbilityPrior = "pool",
) -> tuple[np.ndarray, np.ndarray]:
    """MAP ability (and its standard errors) of a new LLM from its scores on embedded queries."""
    bank = quiz_bank(router, X_queries)
    p = prior if isinstance(prior, AbilityPrior) else ability_prior(router, prior)
    theta, precision = map_ability(bank, np.arange(bank.n_items), scores, p)
    return theta, np.sqrt(np.diag(np.linalg.inv(precision)))


def cost_estimates(
    router: IRTRouter,
    spec: LLMSpec,
    output_tokens: Sequence[float] | np.ndarray | None = None,
    cost_usd: Sequence[float] | np.ndarray | None = None,
) -> dict[str, float]:
    """What the router's cost model needs to price a new LLM.

    ``tokens`` and ``configuration`` need its mean output tokens: the quiz answers' output tokens
    when they carry them, else the spec's ``expected_output_tokens``. ``observed`` needs its mean
    USD per query: the quiz answers' ``cost_usd``. ``price`` needs nothing beyond the spec.

    Raises
    ------
    ConfigError
        Naming what is missing.
    """
    router._check_fitted()
    kind = router.cost_model_.kind

    def mean_of(values: Sequence[float] | np.ndarray | None) -> float | None:
        if values is None:
            return None
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        return float(arr.mean()) if len(arr) else None

    if kind in ("tokens", "configuration"):
        tokens = mean_of(output_tokens)
        if tokens is None:
            tokens = spec.expected_output_tokens
        if tokens is None:
            raise ConfigError(
                f"the router's {kind!r} cost model needs {spec.llm_id}'s output tokens: give them with the "
                "quiz answers (output_tokens) or as expected_output_tokens in its catalog entry"
            )
        return {"expected_output_tokens": float(tokens)}
    if kind == "observed":
        usd = mean_of(cost_usd)
        if usd is None:
            raise ConfigError(
                f"the router's 'observed' cost model needs {spec.llm_id}'s real cost: "
                "give cost_usd with the quiz answers"
            )
        return {"mean_cost_usd": usd}
    return {}


def onboard_llm(
    router: IRTRouter,
    spec: LLMSpec,
    ability: np.ndarray | None = None,
    output_tokens: Sequence[float] | np.ndarray | None = None,
    cost_usd: Sequence[float] | np.ndarray | None = None,
) -> None:
    """Add ``spec`` to ``router`` in place: with ``ability`` (from a quiz), else from its profile.

    Examples
    --------
    >>> theta, se = ability_from_answers(router, X_quiz, answers)  # doctest: +SKIP
    >>> onboard_llm(router, LLMSpec("new-llm", 0.5, 1.5, profile="..."), ability=theta)  # doctest: +SKIP
    >>> router.save("runs/with-new-llm")  # doctest: +SKIP
    """
    if ability is not None:
        ability = np.asarray(ability, dtype=np.float32).ravel()
        if not np.isfinite(ability).all():
            raise DataError(f"the ability of {spec.llm_id} is not finite")
    router.add_llm(spec, ability=ability, **cost_estimates(router, spec, output_tokens, cost_usd))


def onboarded(
    router: IRTRouter,
    spec: LLMSpec,
    ability: np.ndarray | None = None,
    output_tokens: Sequence[float] | np.ndarray | None = None,
    cost_usd: Sequence[float] | np.ndarray | None = None,
) -> IRTRouter:
    """A copy of ``router`` with ``spec`` added as :func:`onboard_llm` adds it; ``router`` is left as
    it was (the copy shares the embedder and the read-only training embeddings)."""
    grown = copy.copy(router)
    grown.predictor_ = copy.deepcopy(router.predictor_)
    grown.cost_model_ = copy.deepcopy(router.cost_model_)
    onboard_llm(grown, spec, ability=ability, output_tokens=output_tokens, cost_usd=cost_usd)
    return grown
