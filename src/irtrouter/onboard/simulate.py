"""Hold an LLM out and bring it back: onboarding measured against the LLM's real answers.

The router was trained without the LLM; the LLM's real scores on a pool of queries play the
quiz's answers, so no LLM is called. :class:`Newcomer` holds what onboarding needs of the held-out
LLM (its catalog entry and its scores, output tokens and costs on the pool);
:func:`simulate_onboarding` runs the quiz (:func:`~irtrouter.onboard.quiz.simulate_quiz`) and
:meth:`Newcomer.into` adds the LLM to a copy of the router at any ability (a quiz's estimate after
n answers, all its answers, or its profile alone), priced from the answers the quiz used. The
caller then scores the grown router on test queries. ``irtrouter onboard simulate`` and
``benchmarks/onboard.py`` are built on it.

Examples
--------
>>> newcomer = Newcomer.from_results(pool, "gpt-4", catalog)  # doctest: +SKIP
>>> trace = simulate_onboarding(router, newcomer, X_pool, max_items=30)  # doctest: +SKIP
>>> grown = newcomer.into(router, trace.ability_after(30), rows=trace.asked)  # doctest: +SKIP
>>> grown.predict_embedded(X_test, test.queries).p_hat[:, -1]  # the newcomer's P  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.items import AbilityPrior
from irtrouter.onboard.newllm import ability_prior, onboarded, quiz_bank
from irtrouter.onboard.quiz import QuizTrace, simulate_quiz
from irtrouter.routing.router import IRTRouter


@dataclass(frozen=True)
class Newcomer:
    """A held-out LLM with its real answers on a pool of queries.

    Attributes
    ----------
    spec : LLMSpec
        Its catalog entry.
    scores : ndarray (n_pool,)
        Its score on each pool query (NaN: never observed; such queries are not asked).
    output_tokens, cost_usd : ndarray (n_pool,), optional
        What those answers produced and cost, to price it where the cost model needs them.
    """

    spec: LLMSpec
    scores: np.ndarray
    output_tokens: np.ndarray | None = None
    cost_usd: np.ndarray | None = None

    @classmethod
    def from_results(cls, pool: ResultsMatrix, llm_id: str, catalog: LLMCatalog) -> Newcomer:
        """The column of ``llm_id`` in ``pool`` (its real answers), with its catalog entry."""
        if llm_id not in pool.llm_ids:
            raise DataError(f"{llm_id!r} has no results in the pool", source=pool.source)
        column = pool.select_llms([llm_id])
        return cls(
            catalog[llm_id],
            column.scores[:, 0],
            None if column.output_tokens is None else column.output_tokens[:, 0],
            None if column.cost_usd is None else column.cost_usd[:, 0],
        )

    def into(
        self, router: IRTRouter, ability: np.ndarray | None = None, rows: Sequence[int] | None = None
    ) -> IRTRouter:
        """A copy of ``router`` with this LLM added at ``ability`` (None: from its profile alone),
        priced from its answers on the pool ``rows`` (default: every pool query); ``router`` is
        left as it was."""
        if self.spec.llm_id in router.llm_ids:
            raise ConfigError(f"LLM {self.spec.llm_id!r} is already in the router: hold it out of the training")
        pick = np.arange(len(self.scores)) if rows is None else np.asarray(list(rows), dtype=np.int64)
        return onboarded(
            router,
            self.spec,
            ability,
            output_tokens=None if self.output_tokens is None else self.output_tokens[pick],
            cost_usd=None if self.cost_usd is None else self.cost_usd[pick],
        )


def simulate_onboarding(
    router: IRTRouter,
    newcomer: Newcomer,
    X_pool: np.ndarray,
    *,
    prior: str | AbilityPrior = "pool",
    selection: str = "fisher",
    criterion: str = "d-optimal",
    max_items: int = 30,
    random_state: int = 0,
    query_ids: Sequence[str] | None = None,
) -> QuizTrace:
    """The quiz ``newcomer`` would sit for ``router``, answered from its real pool scores.

    Parameters
    ----------
    router : IRTRouter
        Trained without the newcomer; its query side stays frozen.
    newcomer : Newcomer
    X_pool : ndarray (n_pool, dim)
        The pool queries embedded by the router's embedder (:meth:`IRTRouter.embed`).
    prior, selection, criterion, max_items, random_state :
        As :class:`~irtrouter.onboard.quiz.AdaptiveQuiz` (``prior`` by name: ``pool`` or ``standard``).
    query_ids : sequence of str, optional
        Ids of the pool queries, carried by the item bank.
    """
    if max_items < 1:
        raise ConfigError(f"the quiz needs at least 1 query, got max_items={max_items}")
    if newcomer.spec.llm_id in router.llm_ids:
        raise ConfigError(f"LLM {newcomer.spec.llm_id!r} is already in the router: simulate needs a router without it")
    chosen_prior = prior if isinstance(prior, AbilityPrior) else ability_prior(router, prior)
    return simulate_quiz(
        quiz_bank(router, X_pool, query_ids),
        newcomer.scores,
        prior=chosen_prior,
        selection=selection,
        criterion=criterion,
        max_items=max_items,
        random_state=random_state,
    )
