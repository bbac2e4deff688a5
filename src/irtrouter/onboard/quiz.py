"""Adaptive quiz: estimate a new LLM's ability from a few answered queries (RADAR sec. 5).

The trained router's query side is frozen. For the predictors whose logit is linear in the
ability (2PL and MIRT) every query is then an *item* with a fixed loading vector and intercept:

    logit P(q, new LLM) = a_q . theta - d_q          (2PL: a_q = [a], d_q = a b; MIRT: d_q = b_q)

and only ``theta`` (R^K) is unknown. The quiz alternates two steps until a query budget is spent
or the standard error falls below a target:

1. **Select** the unasked query that tells most about ``theta`` at the current estimate. With
   ``w = P (1 - P)`` at ``theta_hat`` an item adds ``w a a^T`` to the posterior precision ``M``.
   Scalar ability: the Fisher information ``w a^2``. Several dimensions: ``d-optimal`` maximises
   ``det(M + w a a^T)``, i.e. ``w a^T M^-1 a``; ``trace`` (A-optimal) minimises the trace of the
   posterior covariance, i.e. maximises ``w a^T M^-2 a / (1 + w a^T M^-1 a)``. For K = 1 both
   equal the Fisher rule. ``uniform`` draws unasked queries at random (the ablation).
2. **Update** ``theta_hat`` to the maximum a posteriori estimate under a Gaussian prior (N(0, I)
   by default; see :class:`AbilityPrior`) by Newton's method with backtracking. The log
   posterior is concave, so this converges from anywhere; the prior keeps the estimate finite when
   every answer so far is right (or wrong). Graded scores in [0, 1] are used as soft targets, as in
   training.

The standard error is ``sqrt(diag(M^-1))`` at the estimate (the Laplace approximation); with
several dimensions the stopping rule uses the largest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.items import AbilityPrior, ItemBank
from irtrouter.irt.ops import NUMPY_OPS

SELECTIONS = ("fisher", "uniform")
CRITERIA = ("d-optimal", "trace")


def map_ability(
    bank: ItemBank,
    answered: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    prior: AbilityPrior,
    start: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray]:
    """MAP ability from answered items by Newton's method; returns (theta, posterior precision).

    Examples
    --------
    >>> bank = ItemBank(np.ones((4, 1)), np.zeros(4))
    >>> theta, precision = map_ability(bank, [0, 1, 2, 3], [1, 1, 1, 0], AbilityPrior.standard(1))
    >>> round(float(theta[0]), 3), bool(precision[0, 0] > 1)
    (0.505, True)
    """
    idx = np.asarray(answered, dtype=np.int64)
    y = np.asarray(scores, dtype=np.float64)
    if y.shape != idx.shape:
        raise DataError(f"{len(y)} scores for {len(idx)} answered items")
    if ((y < 0) | (y > 1) | ~np.isfinite(y)).any():
        raise DataError("scores must lie in [0, 1]")
    A, d = bank.A[idx].astype(np.float64), bank.d[idx].astype(np.float64)
    mu, P0 = prior.mean.astype(np.float64), prior.precision

    def log_post(t: np.ndarray) -> float:
        z = A @ t - d
        # y log s(z) + (1 - y) log(1 - s(z)) = y z - log(1 + e^z)
        return float(np.sum(y * z - np.logaddexp(0.0, z)) - 0.5 * (t - mu) @ P0 @ (t - mu))

    theta = mu.copy() if start is None else np.asarray(start, dtype=np.float64).copy()
    for _ in range(max_iter):
        p = NUMPY_OPS.sigmoid(A @ theta - d)
        grad = A.T @ (y - p) - P0 @ (theta - mu)
        H = (A * (p * (1 - p))[:, None]).T @ A + P0
        step = np.linalg.solve(H, grad)
        current, t = log_post(theta), 1.0
        while log_post(theta + t * step) < current - 1e-12 and t > 1e-6:
            t *= 0.5
        theta = theta + t * step
        if float(np.max(np.abs(t * step))) < tol:
            break
    p = NUMPY_OPS.sigmoid(A @ theta - d)
    precision = (A * (p * (1 - p))[:, None]).T @ A + P0
    return theta, precision


def item_scores(bank: ItemBank, theta: np.ndarray, precision: np.ndarray, criterion: str = "d-optimal") -> np.ndarray:
    """How informative each item would be next (higher is better), per the module docstring.

    Examples
    --------
    >>> bank = ItemBank(np.array([[1.0], [2.0], [2.0]]), np.array([0.0, 0.0, 6.0]))
    >>> item_scores(bank, np.zeros(1), np.eye(1)).round(3).tolist()  # a^2 p (1 - p)
    [0.25, 1.0, 0.01]
    """
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown information criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
    p = NUMPY_OPS.sigmoid(bank.logits(theta))
    w = p * (1 - p)
    if bank.n_dims == 1:
        return w * bank.A[:, 0] ** 2
    cov = np.linalg.inv(precision)
    quad = np.einsum("ij,jk,ik->i", bank.A, cov, bank.A)
    if criterion == "d-optimal":
        return w * quad
    quad2 = np.einsum("ij,jk,ik->i", bank.A, cov @ cov, bank.A)
    return w * quad2 / (1 + w * quad)


@dataclass
class QuizState:
    """What a quiz has asked and learnt so far."""

    asked: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    ability: np.ndarray = field(default_factory=lambda: np.zeros(1))
    precision: np.ndarray = field(default_factory=lambda: np.eye(1))

    @property
    def standard_error(self) -> np.ndarray:
        """Per dimension, sqrt(diag(precision^-1))."""
        return np.sqrt(np.diag(np.linalg.inv(self.precision)))


class AdaptiveQuiz:
    """Choose quiz queries for a new LLM and estimate its ability from the answers.

    Parameters
    ----------
    bank : ItemBank
        The candidate queries (training queries of the router, for evaluation).
    prior : AbilityPrior, optional
        Default N(0, I).
    selection : {"fisher", "uniform"}
        Most informative next query, or uniformly random (the ablation).
    criterion : {"d-optimal", "trace"}
        How several ability dimensions are summarised (scalar ability: both are Fisher's rule).
    max_items : int
        Query budget.
    se_target : float, optional
        Stop early once the (largest) standard error of the ability is at most this.
    random_state : int
        Seeds the uniform selection.

    Examples
    --------
    >>> bank = ItemBank(np.ones((50, 1)), np.linspace(-3, 3, 50))
    >>> quiz = AdaptiveQuiz(bank, max_items=5)
    >>> state = quiz.run(lambda i: float(bank.d[i] < 1.0))
    >>> len(state.asked), bool(0 < state.ability[0] < 2)
    (5, True)
    """

    def __init__(
        self,
        bank: ItemBank,
        prior: AbilityPrior | None = None,
        selection: str = "fisher",
        criterion: str = "d-optimal",
        max_items: int = 30,
        se_target: float | None = None,
        random_state: int = 0,
    ) -> None:
        if selection not in SELECTIONS:
            raise ConfigError(f"unknown quiz selection {selection!r}; expected one of {', '.join(SELECTIONS)}")
        if criterion not in CRITERIA:
            raise ConfigError(f"unknown information criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise ConfigError(f"the query budget must be a whole number >= 1, got {max_items!r}")
        if se_target is not None and not se_target > 0:
            raise ConfigError(f"the standard-error target must be > 0, got {se_target!r}")
        self.bank = bank
        self.prior = prior if prior is not None else AbilityPrior.standard(bank.n_dims)
        if len(self.prior.mean) != bank.n_dims:
            raise ConfigError(f"the prior has {len(self.prior.mean)} dimensions, the items {bank.n_dims}")
        self.selection = selection
        self.criterion = criterion
        self.max_items = max_items
        self.se_target = se_target
        self.random_state = random_state
        self._order = np.random.default_rng(random_state).permutation(bank.n_items)
        self.state = QuizState(ability=self.prior.mean.copy(), precision=self.prior.precision)

    @property
    def done(self) -> bool:
        """Budget spent, standard-error target met, or no query left."""
        s = self.state
        if len(s.asked) >= min(self.max_items, self.bank.n_items):
            return True
        return self.se_target is not None and len(s.asked) > 0 and float(s.standard_error.max()) <= self.se_target

    def next_items(self, k: int = 1) -> list[int]:
        """The next ``k`` queries to ask (bank indices), without answers in between.

        With ``k > 1`` (a batch sent out at once) each pick adds its expected information at the
        current estimate to the precision before the next pick, so a multidimensional batch spreads
        over directions; for a scalar ability it is the ``k`` most informative queries.
        """
        k = min(k, self.max_items - len(self.state.asked), self.bank.n_items - len(self.state.asked))
        if k <= 0:
            return []
        asked = set(self.state.asked)
        if self.selection == "uniform":
            return [int(i) for i in self._order if int(i) not in asked][:k]
        picks: list[int] = []
        precision = self.state.precision.copy()
        theta = self.state.ability
        p = NUMPY_OPS.sigmoid(self.bank.logits(theta))
        for _ in range(k):
            scores = item_scores(self.bank, theta, precision, self.criterion)
            scores[list(asked.union(picks))] = -np.inf
            best = int(np.argmax(scores))
            picks.append(best)
            a = self.bank.A[best]
            precision = precision + p[best] * (1 - p[best]) * np.outer(a, a)
        return picks

    def record(self, item: int, score: float) -> None:
        """Add the answer to ``item`` and update the ability (MAP, Newton)."""
        self.record_many([item], [score])

    def record_many(self, items: Sequence[int], scores: Sequence[float]) -> None:
        """Add several answers, then update the ability once."""
        s = self.state
        seen = set(s.asked)
        for item in items:
            if not 0 <= item < self.bank.n_items:
                raise DataError(f"item {item} is not in the bank of {self.bank.n_items}")
            if item in seen:
                raise DataError(f"item {item} was already answered")
            seen.add(item)
        # Estimate first, so a bad score leaves the quiz as it was.
        asked, answers = [*s.asked, *map(int, items)], [*s.scores, *map(float, scores)]
        s.ability, s.precision = map_ability(self.bank, asked, answers, self.prior, start=s.ability)
        s.asked, s.scores = asked, answers

    def run(self, answer: Callable[[int], float], batch: int = 1) -> QuizState:
        """Ask until :attr:`done`, ``batch`` queries at a time; ``answer(i)`` scores item ``i``."""
        while not self.done:
            items = self.next_items(batch)
            if not items:
                break
            self.record_many(items, [answer(i) for i in items])
        return self.state


@dataclass(frozen=True)
class QuizTrace:
    """A simulated quiz: the ability after each answer."""

    asked: tuple[int, ...]
    scores: tuple[float, ...]
    abilities: np.ndarray  # (n_asked, n_dims), row t: after t + 1 answers
    standard_errors: np.ndarray  # (n_asked,), the largest per dimension

    def ability_after(self, n: int) -> np.ndarray:
        """The estimate after ``n`` answers (the whole quiz if it stopped earlier)."""
        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        return self.abilities[min(n, len(self.abilities)) - 1]


def simulate_quiz(bank: ItemBank, scores: np.ndarray, **quiz_params: Any) -> QuizTrace:
    """Run a quiz whose answers come from known scores (held-out real data of the new LLM).

    Parameters
    ----------
    bank : ItemBank
    scores : ndarray (n_items,)
        The new LLM's real score on each item; NaN = never observed, such items are not asked.
    **quiz_params
        Passed to :class:`AdaptiveQuiz` (``selection``, ``max_items``, ``prior``...).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (bank.n_items,):
        raise DataError(f"{len(scores)} scores for a bank of {bank.n_items} items")
    observed = np.flatnonzero(~np.isnan(scores))
    if len(observed) == 0:
        raise DataError("the new LLM has no observed score on any pool query")
    quiz = AdaptiveQuiz(bank.take(observed), **quiz_params)
    abilities, errors = [], []
    while not quiz.done:
        item = quiz.next_items(1)[0]
        quiz.record(item, float(scores[observed[item]]))
        abilities.append(quiz.state.ability.copy())
        errors.append(float(quiz.state.standard_error.max()))
    return QuizTrace(
        asked=tuple(int(observed[i]) for i in quiz.state.asked),
        scores=tuple(quiz.state.scores),
        abilities=np.asarray(abilities),
        standard_errors=np.asarray(errors),
    )
