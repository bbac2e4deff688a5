"""The ability table of a trained router: LLMs x ability dimensions, and one summary per LLM.

Two summaries, because MIRT's ability space is identified only up to rotation (see
:mod:`irtrouter.irt.mirt`: each dimension is oriented so that its mean discrimination over the
training queries is positive, and abilities are centred on the pool mean):

``mean_over_dims``
    The plain mean of theta over the dimensions (IRT-Router Figure 4). For NIRT, whose 25
    dimensions are named abilities in (0, 1), it is the natural reading. For MIRT it depends on
    the orientation convention and weighs every dimension alike, however little the queries use it.
``mean_logit``
    The LLM's mean logit of P over the training queries. For MIRT this is exactly
    ``theta_j . mean(a_q) - mean(b_q)``: the LLM's logit on the average training query. It is
    invariant to any rotation or shift of the ability space (it is a function of predictions
    only), so it is the *identified* summary, and the one :mod:`benchmarks.explain_abilities`
    correlates with each LLM's mean training accuracy. Its second term is the same for every LLM.

How sure each is: for the predictors whose logit is linear in the ability (MIRT, 2PL), the posterior
over each LLM's ability given its own training answers, the query side held at its fit (the
Laplace approximation, :func:`~irtrouter.irt.items.ability_posterior`), gives a standard error
per dimension and, by the delta method, of the mean logit (``sqrt(m^T S m)``, ``m`` the mean
loading of the training queries). An LLM with few answers (holes, a late addition) has a wide one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from irtrouter.errors import ConfigError
from irtrouter.irt.items import ItemBank, ability_posterior
from irtrouter.irt.ops import NUMPY_OPS
from irtrouter.routing.router import IRTRouter

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class AbilityTable:
    """Abilities of every LLM of a router, with per-LLM summaries.

    Attributes
    ----------
    kind : str
        The predictor (``mirt``, ``nirt``).
    llm_ids : tuple of str
    dimensions : tuple of str
        Dimension names (NIRT: the 25 named abilities; MIRT: ``dim 1`` ...).
    values : ndarray (n_llms, n_dims)
        theta.
    mean_over_dims : ndarray (n_llms,)
        Mean of theta over the dimensions (paper Figure 4).
    mean_logit : ndarray (n_llms,)
        Mean logit of P over the training queries (the identified summary).
    dimension_tasks : tuple of str or None
        MIRT, when training tasks are known: for each dimension, the training task whose queries
        have the largest mean discrimination on it (a hint at what the dimension measures).
    standard_error : ndarray (n_llms, n_dims) or None
        Of theta, from each LLM's posterior given its training answers (module docstring); NaN for
        an LLM added after training (it has none); None for NIRT, whose logit is not linear in the
        ability, or a router saved without its training scores.
    mean_logit_se : ndarray (n_llms,) or None
        Of the mean logit, from the same posterior.

    Examples
    --------
    >>> table = ability_table(router)  # doctest: +SKIP
    >>> table.ranking()[:3]  # doctest: +SKIP
    ('gpt-4o', 'llama-3.1-70b', 'deepseek-chat')
    """

    kind: str
    llm_ids: tuple[str, ...]
    dimensions: tuple[str, ...]
    values: np.ndarray
    mean_over_dims: np.ndarray
    mean_logit: np.ndarray
    dimension_tasks: tuple[str, ...] | None = None
    standard_error: np.ndarray | None = None
    mean_logit_se: np.ndarray | None = None

    def summary(self, which: str = "mean_logit") -> np.ndarray:
        """One number per LLM: ``mean_logit`` (identified) or ``mean_over_dims``."""
        if which not in ("mean_logit", "mean_over_dims"):
            raise ConfigError(f"which must be 'mean_logit' or 'mean_over_dims', got {which!r}")
        return np.asarray(getattr(self, which))

    def ranking(self, which: str = "mean_logit") -> tuple[str, ...]:
        """LLM ids from the most to the least able under a summary."""
        order = np.argsort(-self.summary(which), kind="stable")
        return tuple(self.llm_ids[j] for j in order)

    def to_frame(self) -> pd.DataFrame:
        """One row per LLM: the two summaries (and the mean logit's standard error when known),
        then one column per dimension."""
        import pandas as pd

        frame = pd.DataFrame(self.values, index=list(self.llm_ids), columns=list(self.dimensions))
        frame.insert(0, "mean_over_dims", self.mean_over_dims)
        if self.mean_logit_se is not None:
            frame.insert(0, "mean_logit_se", self.mean_logit_se)
        frame.insert(0, "mean_logit", self.mean_logit)
        frame.index.name = "llm_id"
        return frame


def training_logits(router: IRTRouter) -> np.ndarray:
    """Logits of P for every training query x LLM, from the router's stored training embeddings."""
    router._check_fitted()
    pred = router.predictor_
    X = router.neighbours_.embeddings
    return np.asarray(pred.logits(NUMPY_OPS, X, pred.abilities_, pred.params_, router.train_relevance_))


def ability_table(router: IRTRouter) -> AbilityTable:
    """The :class:`AbilityTable` of a fitted (or loaded) router.

    LLMs added with ``add_llm`` are included: their mean logit uses the same training queries.
    """
    router._check_fitted()
    pred = router.predictor_
    theta = np.asarray(pred.abilities_, dtype=np.float64)
    logits = training_logits(router).astype(np.float64)
    hints = None
    if pred.labels_dimensions_by_task and router.train_tasks_ is not None and any(router.train_tasks_):
        a = pred.dimension_weights(router.neighbours_.embeddings, router.train_relevance_)
        assert a is not None  # a model that labels its dimensions by task weighs them
        tasks = np.asarray(router.train_tasks_, dtype=object)
        names = [t for t in dict.fromkeys(router.train_tasks_) if t]
        by_task = np.stack([a[tasks == t].mean(axis=0) for t in names])  # (n_tasks, n_dims)
        hints = tuple(names[int(i)] for i in by_task.argmax(axis=0))
    standard_error, mean_logit_se = _standard_errors(router)
    return AbilityTable(
        kind=pred.kind,
        llm_ids=tuple(pred.llm_ids_),
        dimensions=pred.dimension_names(theta.shape[1]),
        values=theta,
        mean_over_dims=theta.mean(axis=1),
        mean_logit=logits.mean(axis=0),
        dimension_tasks=hints,
        standard_error=standard_error,
        mean_logit_se=mean_logit_se,
    )


def _standard_errors(router: IRTRouter) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(per LLM and dimension, per LLM of the mean logit)`` from the abilities' posterior given
    the training answers (module docstring); ``(None, None)`` where it cannot be had."""
    pred, scores = router.predictor_, router.train_scores_
    if pred.requires_context or scores is None:
        return None, None
    X = router.neighbours_.embeddings
    n_llms, trained = len(pred.llm_ids_), scores.shape[1]
    # LLMs added after training have no training answers: their rows stay NaN.
    full = np.full((len(X), n_llms), np.nan)
    full[:, :trained] = scores
    bank = ItemBank.from_predictor(pred, X)
    covariance = np.linalg.inv(ability_posterior(pred, X, full, bank=bank))
    covariance[trained:] = np.nan
    m = bank.A.mean(axis=0)
    se = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
    return se, np.sqrt(np.einsum("k,jkl,l->j", m, covariance, m))
