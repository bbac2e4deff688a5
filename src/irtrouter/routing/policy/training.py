"""Training of the LLM Bandit policy (torch; imported only by :meth:`PolicyRouter.fit`).

(Over 450 lines: the two training stages share one pool, one validation and one seeded generator,
and the cold-start samples reach both; the module docstring below is their specification.)

Stage 1 (the identity predictor) is already trained and frozen when this runs. On the training
queries observed for every LLM:

Stage 2, supervised pre-training on pairwise comparisons [3P, digest section 4]
    Draw a query, a pair of LLMs {k1, k2} (or, by default, a random candidate set of any size:
    ``pretrain_pairs``) and w ~ U(0, max_preference). The target is
    ``argmax_k p_k / max(p) - w * c_k / max(c)`` where ``p`` is the success prediction
    *Platt-calibrated* on the stage-1 validation queries (labels: the binarised scores), while
    the policy's input keeps the uncalibrated p-hat. Loss: cross-entropy of the target.

Stage 3, multi-objective PPO [P2: "multi-objective PPO", "reward normalization", "on-manifold
mixup"; details 3P]
    Each step draws ``ppo_batch`` queries, a random candidate set per query (one size per step,
    uniform from ``min_candidates`` to every LLM [INF]), and w ~ U(0, max_preference); samples an
    LLM from the policy and receives the vector reward ``r = [s_a / max_K s, -c_a / max_K c]``
    (score and cost normalised within the candidate set; ``s / max s`` is 0 when no candidate
    succeeds). The bandit has one step, so the advantage is ``A = r - V(x, K)`` with a vector value
    head that never sees w; the policy maximises the clipped surrogate of the scalarised advantage
    ``omega . A = A_quality + w * A_cost`` (standardised per rollout), plus ``value_coef * |V - r|^2``
    and an entropy bonus, for ``ppo_epochs`` passes over the rollout (the "replay buffer").

On-manifold mixup [3P: lambda ~ Beta(0.2, 0.2); our adaptation]
    Each rollout query x is blended with its nearest training query x' (cosine over embeddings):
    ``e = lambda e_x + (1 - lambda) e_x'`` with lambda folded to [0.5, 1] so x stays the dominant
    sample, which keeps the discrete items (candidate set, w). Costs, p-hat and the reward of the
    sampled LLM are interpolated the same way. The re-implementation blends pairs of buffered
    transitions; with offline data the reward of *any* LLM on x' is known, so we blend at rollout
    time and the advantages and value targets follow.

Out-of-fold p-hat [ours]
    On its own training queries stage 1's p-hat is fitted to the very outcomes PPO rewards, so a
    policy trained on it learns to trust p-hat more than it deserves on new queries (measured on
    synthetic data: PPO raised training reward and lowered held-out reward). With
    ``crossfit_folds >= 2`` the policy stages see cross-fitted p-hat instead
    (:func:`out_of_fold_p_hat`); routing uses the model trained on every query, as usual.
    Checkpoints are also chosen on held-out queries (``eval_every``).

Cold-start samples [ours; issue 12 item 7]
    With ``cold_start_rate > 0``, that share of the samples of both stages shows one candidate as a
    quizzed newcomer: its identity re-fitted from a quiz of its own answers and that identity's
    p-hat (:mod:`irtrouter.routing.policy.coldstart`), its costs and rewards unchanged. Checkpoints
    are still chosen on the trained identities.

Everything is seeded by ``random_state`` (numpy and torch generators).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from irtrouter.data.results import ResultsMatrix
from irtrouter.errors import DataError, UnknownLLMError
from irtrouter.irt.identity import IdentityIRTPredictor
from irtrouter.irt.torch_ops import TORCH_OPS, single_thread
from irtrouter.irt.training import split_validation
from irtrouter.routing.neighbours import NeighbourIndex
from irtrouter.routing.policy.network import candidate_logits, encode, init_policy_params, set_costs, state_value
from irtrouter.routing.policy.settings import PolicySettings
from irtrouter.routing.router import IRTRouter

log = logging.getLogger(__name__)

HISTORY_EVERY = 50  # steps between two entries of the training summary


@dataclass
class TrainedPolicy:
    """Policy weights (numpy) and a JSON-ready summary of how training went."""

    params: dict[str, np.ndarray]
    summary: dict[str, Any]


@dataclass
class _Pool:
    """The training queries observed for every LLM, with everything the policy stages read."""

    X: np.ndarray  # query embeddings (n, d_query)
    p_hat: np.ndarray  # uncalibrated success predictions (n, n_llms)
    p_calibrated: np.ndarray  # Platt-calibrated predictions (n, n_llms)
    costs: np.ndarray  # the router's normalised costs (n, n_llms)
    scores: np.ndarray  # graded scores (n, n_llms)
    neighbour: np.ndarray  # index of each query's nearest other training query (n,)
    platt: tuple[float, float]  # (a, b) of sigmoid(a * f + b)
    train_rows: np.ndarray  # rows the policy trains on
    val_rows: np.ndarray  # stage 1's validation rows: checkpoint selection only


def train_policy(
    router: IRTRouter,
    results: ResultsMatrix,
    settings: PolicySettings,
    *,
    candidate_sets: Sequence[Sequence[str]] | None = None,
    p_hat: np.ndarray | None = None,
    random_state: int = 0,
    progress: bool = False,
) -> TrainedPolicy:
    """Pre-train, then PPO-train a policy on top of ``router`` (an IRTRouter over the identity
    predictor, already fitted on ``results``). See the module docstring.

    ``p_hat`` (n_queries, n_llms), optional: the success predictions the policy sees for the
    training queries, normally out of fold (:func:`out_of_fold_p_hat`); default the router's own
    in-sample predictions.
    """
    with single_thread():
        return _train(router, results, settings, candidate_sets, p_hat, random_state, progress)


def out_of_fold_p_hat(
    router: IRTRouter, results: ResultsMatrix, folds: int, random_state: int = 0, progress: bool = False
) -> np.ndarray:
    """Cross-fitted p-hat (n_queries, n_llms): each query predicted by an identity model trained
    on the other folds (same settings as the router's), so the policy learns how far to trust p-hat
    on queries the model never saw, as at routing time [ours; see the module docstring]."""
    predictor = router.predictor_
    X = np.asarray(router.neighbours_.embeddings, dtype=np.float32)
    fold_of = np.random.default_rng(random_state).permutation(results.n_queries) % folds
    profiles = np.eye(results.n_llms, dtype=np.float32)  # fold models only need their own p-hat
    out = np.zeros(results.scores.shape, dtype=np.float32)
    for f in range(folds):
        held = fold_of == f
        model = type(predictor)(**predictor.get_params())
        model.fit(X[~held], profiles, results.scores[~held], groups=[results.tasks[i] for i in np.flatnonzero(~held)])
        out[held] = model.predict_proba(X[held])
        log.info("cross-fitting: fold %d of %d done", f + 1, folds)
    return out


def _train(
    router: IRTRouter,
    results: ResultsMatrix,
    settings: PolicySettings,
    candidate_sets: Sequence[Sequence[str]] | None,
    p_hat: np.ndarray | None,
    random_state: int,
    progress: bool,
) -> TrainedPolicy:
    started = time.perf_counter()
    torch.manual_seed(random_state)
    rng = np.random.default_rng(random_state)
    pool = _build_pool(router, results, p_hat)
    sets = _candidate_sets(candidate_sets, router.predictor_.llm_ids_)
    identities = torch.from_numpy(np.asarray(router.predictor_.abilities_, dtype=np.float32))
    init = init_policy_params(pool.X.shape[1], identities.shape[1], settings.hidden_units, rng, settings.own_score)
    params = {k: torch.nn.Parameter(torch.from_numpy(v)) for k, v in init.items()}
    trainer = _Trainer(pool, identities, params, settings, sets, rng)
    if settings.cold_start_rate > 0:
        from irtrouter.routing.policy.coldstart import identity_p_hat, quizzed_identities

        identity_model = cast(IdentityIRTPredictor, router.predictor_)
        X_all = np.asarray(router.neighbours_.embeddings, dtype=np.float32)
        cold = quizzed_identities(identity_model, X_all, results.scores, settings.cold_start_quiz, random_state)
        trainer.cold_ids = torch.from_numpy(cold)
        trainer.cold_p_hat = identity_p_hat(identity_model, pool.X, cold)
        norms = np.linalg.norm(cold, axis=1), np.linalg.norm(identities.numpy(), axis=1)
        log.info("cold-start identities: median norm %.2f (trained: %.2f)", *(float(np.median(v)) for v in norms))
    checker = _Validation(trainer)

    from tqdm.auto import tqdm

    pre_history: list[dict[str, float]] = []
    optimiser = torch.optim.Adam(params.values(), lr=settings.pretrain_learning_rate)
    for step in tqdm(range(1, settings.pretrain_steps + 1), desc="policy pre-training", disable=not progress):
        loss, accuracy = trainer.pretrain_step(optimiser)
        if step % HISTORY_EVERY == 0 or step == settings.pretrain_steps:
            pre_history.append({"step": step, "loss": round(loss, 5), "accuracy": round(accuracy, 4)})
    pre_seconds = time.perf_counter() - started

    ppo_history: list[dict[str, float]] = []
    optimiser = torch.optim.Adam(params.values(), lr=settings.learning_rate)
    window: list[dict[str, float]] = []
    checker.check(0)  # the pre-trained policy is a candidate too
    for step in tqdm(range(1, settings.ppo_steps + 1), desc="policy PPO", disable=not progress):
        window.append(trainer.ppo_step(optimiser))
        if step % HISTORY_EVERY == 0 or step == settings.ppo_steps:
            mean = {k: round(float(np.mean([w[k] for w in window])), 5) for k in window[0]}
            ppo_history.append({"step": step, **mean})
            window = []
        if step % settings.eval_every == 0 or step == settings.ppo_steps:
            checker.check(step)
    seconds = time.perf_counter() - started
    log.info(
        "policy trained in %.1fs (pre-training %.1fs) on %d queries; kept PPO step %d of %d",
        seconds,
        pre_seconds,
        len(pool.train_rows),
        checker.best_step,
        settings.ppo_steps,
    )
    summary = {
        "train_queries": len(pool.train_rows),
        "validation_queries": len(pool.val_rows),
        "platt": {"a": round(pool.platt[0], 6), "b": round(pool.platt[1], 6)},
        "pretrain_history": pre_history,
        "ppo_history": ppo_history,
        "validation_history": checker.history,
        "kept_ppo_step": checker.best_step,
        "pretrain_seconds": round(pre_seconds, 3),
        "seconds": round(seconds, 3),
        "candidate_sets": None if sets is None else [[router.predictor_.llm_ids_[j] for j in s] for s in sets],
    }
    return TrainedPolicy(params=checker.best_params(), summary=summary)


def _build_pool(router: IRTRouter, results: ResultsMatrix, p_hat_all: np.ndarray | None) -> _Pool:
    predictor = router.predictor_
    complete = results.observed.all(axis=1)
    if results.n_llms < 2:
        raise DataError("a routing policy needs at least 2 LLMs", source=results.source)
    if complete.sum() < 2:
        raise DataError("the policy trains on queries observed for every LLM: fewer than 2", source=results.source)
    X_all = np.asarray(router.neighbours_.embeddings, dtype=np.float32)
    out_of_fold = p_hat_all is not None
    if p_hat_all is None:
        p_hat_all = predictor.predict_proba(X_all)
    elif p_hat_all.shape != results.scores.shape:
        raise DataError(f"p_hat has shape {p_hat_all.shape}, expected {results.scores.shape}")
    # Stage 1's validation queries: it never fitted them, so they calibrate p-hat (Platt) and
    # choose the policy checkpoint; the policy never trains on them. Out-of-fold p-hat is
    # out of sample everywhere and is calibrated on every query.
    val = split_validation(results.n_queries, predictor.validation_fraction, results.tasks, predictor.random_state)
    threshold = float(predictor.threshold_)  # type: ignore[attr-defined]
    fit_rows = np.flatnonzero(val) if not out_of_fold and val.sum() >= 10 else np.arange(results.n_queries)
    logits = _logit(p_hat_all[fit_rows])
    observed = results.observed[fit_rows]
    a, b = _platt(logits[observed], results.scores[fit_rows][observed] > threshold)
    rows = np.flatnonzero(complete)
    X = X_all[rows]
    is_val = val[rows]
    if is_val.all() or (~is_val).sum() < 2:
        is_val = np.zeros(len(rows), dtype=bool)  # too few queries to hold any out
    train_rows, val_rows = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    # Mixup partners: the nearest other training query (never a validation one).
    near = train_rows[NeighbourIndex(X[train_rows]).search(X, 2)]
    own = near[:, 0] == np.arange(len(X))
    p_hat = p_hat_all[rows]
    return _Pool(
        X=X,
        p_hat=p_hat.astype(np.float32),
        p_calibrated=(1.0 / (1.0 + np.exp(-(a * _logit(p_hat) + b)))).astype(np.float32),
        costs=np.asarray(router.cost_model_.normalised([results.queries[i] for i in rows]), dtype=np.float64),
        scores=results.scores[rows].astype(np.float64),
        neighbour=np.where(own, near[:, 1], near[:, 0]),
        platt=(a, b),
        train_rows=train_rows,
        val_rows=val_rows,
    )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _platt(logits: np.ndarray, labels: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) maximising the likelihood of ``labels`` under sigmoid(a * logit + b): Newton's method
    with a tiny ridge, starting from the identity map."""
    x = np.stack([logits, np.ones_like(logits)], axis=1)
    y = labels.astype(np.float64)
    w = np.array([1.0, 0.0])
    if len(np.unique(y)) < 2:
        return 1.0, 0.0  # one class only: nothing to calibrate against
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + 1e-6 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def _candidate_sets(
    candidate_sets: Sequence[Sequence[str]] | None, llm_ids: tuple[str, ...]
) -> list[np.ndarray] | None:
    if candidate_sets is None:
        return None
    position = {m: j for j, m in enumerate(llm_ids)}
    sets = []
    for s in candidate_sets:
        for m in s:
            if m not in position:
                raise UnknownLLMError(m, llm_ids, "candidate_sets")
        idx = np.array(sorted({position[m] for m in s}), dtype=np.int64)
        if len(idx) < 2:
            raise DataError(f"a candidate set needs at least 2 distinct LLMs, got {list(s)}")
        sets.append(idx)
    if not sets:
        raise DataError("candidate_sets is empty")
    return sets


class _Trainer:
    """One pre-training or PPO step at a time, on torch copies of the pool."""

    def __init__(
        self,
        pool: _Pool,
        identities: torch.Tensor,
        params: dict[str, torch.nn.Parameter],
        settings: PolicySettings,
        sets: list[np.ndarray] | None,
        rng: np.random.Generator,
    ) -> None:
        self.pool, self.identities, self.params = pool, identities, params
        self.settings, self.sets, self.rng = settings, sets, rng
        self.n_llms = identities.shape[0]
        self.X = torch.from_numpy(pool.X)
        self.p_hat = torch.from_numpy(pool.p_hat)
        self.cold_ids: torch.Tensor | None = None  # quizzed identities (n_llms, d), see coldstart
        self.cold_p_hat: np.ndarray | None = None  # their p-hat over the pool (n, n_llms)

    def _cold_mask(self, n: int, k: int) -> np.ndarray | None:
        """(n, k) bool: which candidate (one per sample, in a ``cold_start_rate`` share) is shown cold."""
        if self.cold_ids is None:
            return None
        mask = np.zeros((n, k), dtype=bool)
        rows = np.flatnonzero(self.rng.random(n) < self.settings.cold_start_rate)
        mask[rows, self.rng.integers(k, size=len(rows))] = True
        return mask

    # -- sampling --------------------------------------------------------------------------------
    def _subsets(self, n: int, size: int | None) -> np.ndarray:
        """(n, k) candidate indices: from the given sets, or a random subset per query."""
        if self.sets is not None:
            chosen = self.sets[int(self.rng.integers(len(self.sets)))]
            if size is None:
                return np.tile(chosen, (n, 1))
            return np.stack([self.rng.choice(chosen, size=size, replace=False) for _ in range(n)])
        if size is None:
            size = int(self.rng.integers(min(self.settings.min_candidates, self.n_llms), self.n_llms + 1))
        return np.argsort(self.rng.random((n, self.n_llms)), axis=1)[:, :size]

    def _forward(
        self,
        X: torch.Tensor,
        subsets: np.ndarray,
        costs: np.ndarray,
        p_hat: torch.Tensor,
        w: np.ndarray,
        cold: np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, k) and values (n, 2) of the candidate sets ``subsets`` (``cold``: which
        candidates carry their quizzed identity; ``p_hat`` must already be theirs)."""
        ids = self.identities[torch.from_numpy(subsets)]
        if cold is not None and self.cold_ids is not None:
            ids = torch.where(torch.from_numpy(cold)[..., None], self.cold_ids[torch.from_numpy(subsets)], ids)
        c = torch.from_numpy(set_costs(costs).astype(np.float32))
        s, q = encode(TORCH_OPS, self.params, X, ids, c, p_hat, self.settings.n_heads)
        logits = candidate_logits(TORCH_OPS, self.params, s, q, ids, torch.from_numpy(w.astype(np.float32)), c, p_hat)
        return logits, state_value(TORCH_OPS, self.params, s, q)

    def _step(self, optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.settings.max_grad_norm)
        optimiser.step()

    # -- stage 2 ---------------------------------------------------------------------------------
    def pretrain_step(self, optimiser: torch.optim.Optimizer) -> tuple[float, float]:
        n = self.settings.pretrain_batch
        rows = self.rng.choice(self.pool.train_rows, size=n)
        pairs = self._subsets(n, 2 if self.settings.pretrain_pairs else None)
        w = self.rng.uniform(0, self.settings.max_preference, size=n)
        take = np.take_along_axis
        costs = take(self.pool.costs[rows], pairs, axis=1)
        calibrated = take(self.pool.p_calibrated[rows], pairs, axis=1).astype(np.float64)
        target = (set_costs(calibrated) - w[:, None] * set_costs(costs)).argmax(axis=1)
        p_hat = self.p_hat[torch.from_numpy(rows)].gather(1, torch.from_numpy(pairs))
        cold = self._cold_mask(n, pairs.shape[1])
        if cold is not None and self.cold_p_hat is not None:
            p_cold = torch.from_numpy(take(self.cold_p_hat[rows], pairs, axis=1))
            p_hat = torch.where(torch.from_numpy(cold), p_cold, p_hat)
        logits, _ = self._forward(self.X[torch.from_numpy(rows)], pairs, costs, p_hat, w, cold)
        target_t = torch.from_numpy(target)
        loss = F.cross_entropy(logits, target_t)
        self._step(optimiser, loss)
        return float(loss.detach()), float((logits.argmax(1) == target_t).float().mean())

    # -- stage 3 ---------------------------------------------------------------------------------
    def ppo_step(self, optimiser: torch.optim.Optimizer) -> dict[str, float]:
        st, pool = self.settings, self.pool
        n = st.ppo_batch
        rows = self.rng.choice(pool.train_rows, size=n)
        subsets = self._subsets(n, None)
        w = self.rng.uniform(0, st.max_preference, size=n)
        other = pool.neighbour[rows]
        if st.mixup_alpha > 0:
            lam = self.rng.beta(st.mixup_alpha, st.mixup_alpha, size=n)
            lam = np.maximum(lam, 1 - lam)  # x stays the dominant sample
        else:
            lam = np.ones(n)
        take = np.take_along_axis

        def blend(values: np.ndarray) -> np.ndarray:  # x's and its neighbour's, over the candidates
            return lam[:, None] * take(values[rows], subsets, 1) + (1 - lam[:, None]) * take(values[other], subsets, 1)

        X = lam[:, None] * pool.X[rows] + (1 - lam[:, None]) * pool.X[other]
        costs, p_hat = blend(pool.costs), blend(pool.p_hat)
        cold = self._cold_mask(n, subsets.shape[1])
        if cold is not None and self.cold_p_hat is not None:
            p_hat = np.where(cold, blend(self.cold_p_hat), p_hat)
        X_t, p_t = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(p_hat.astype(np.float32))

        with torch.no_grad():
            logits, values = self._forward(X_t, subsets, costs, p_t, w, cold)
            dist = torch.distributions.Categorical(logits=logits)
            actions = dist.sample()
            old_logp = dist.log_prob(actions)
        a = actions.numpy()[:, None]

        def reward(r: np.ndarray) -> np.ndarray:
            quality = take(set_costs(take(pool.scores[r], subsets, 1)), a, 1)[:, 0]  # s_a / max_K s
            cost = take(set_costs(take(pool.costs[r], subsets, 1)), a, 1)[:, 0]
            return np.stack([quality, -cost], axis=1)

        rewards = lam[:, None] * reward(rows) + (1 - lam[:, None]) * reward(other)
        rewards_t = torch.from_numpy(rewards.astype(np.float32))
        advantage = rewards_t - values
        w_t = torch.from_numpy(w.astype(np.float32))
        scalar = advantage[:, 0] + w_t * advantage[:, 1]  # omega . A with omega = [1, w]
        if st.normalise_advantages and n > 1:
            scalar = (scalar - scalar.mean()) / (scalar.std() + 1e-8)

        for _ in range(st.ppo_epochs):
            logits, values = self._forward(X_t, subsets, costs, p_t, w, cold)
            dist = torch.distributions.Categorical(logits=logits)
            ratio = torch.exp(dist.log_prob(actions) - old_logp)
            surrogate = torch.minimum(ratio * scalar, ratio.clamp(1 - st.clip, 1 + st.clip) * scalar)
            value_loss = ((values - rewards_t) ** 2).sum(1).mean()
            loss = st.value_coef * value_loss - surrogate.mean() - st.entropy_coef * dist.entropy().mean()
            self._step(optimiser, loss)
        return {
            "reward": float((rewards[:, 0] + w * rewards[:, 1]).mean()),
            "quality": float(rewards[:, 0].mean()),
            "cost": float(-rewards[:, 1].mean()),
            "value_loss": float(value_loss.detach()),
            "entropy": float(dist.entropy().mean().detach()),
        }


class _Validation:
    """Scores checkpoints on held-out queries and keeps the best (early stopping for PPO).

    PPO's rewards are the realised scores of the training queries, which a policy that also sees
    the query embedding can memorise (measured on synthetic data: training quality rose to the
    oracle's while held-out quality fell). So every ``eval_every`` steps the greedy policy is
    scored on stage 1's validation queries, each with candidate sets of every size and a grid of
    w, by the mean scalarised normalised reward ``s_a / max s - w c_a / max c``; the best
    checkpoint, the pre-trained policy included, is kept [ours].
    """

    W_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)

    def __init__(self, trainer: _Trainer) -> None:
        self.trainer = trainer
        self.history: list[dict[str, float]] = []
        self.best_step = 0
        self.best_score = -np.inf
        self._best: dict[str, np.ndarray] | None = None
        pool, st = trainer.pool, trainer.settings
        rows = pool.val_rows
        if len(rows) > st.eval_queries:
            rows = trainer.rng.choice(rows, size=st.eval_queries, replace=False)
        self.groups = []
        n_llms = trainer.n_llms
        sizes = range(min(st.min_candidates, n_llms), n_llms + 1) if trainer.sets is None else [None]
        take = np.take_along_axis
        for size in sizes:
            if len(rows) == 0:
                break
            r = np.repeat(rows, len(self.W_GRID))
            w = np.tile(np.asarray(self.W_GRID, dtype=np.float64) * st.max_preference / 2.0, len(rows))
            subsets = trainer._subsets(len(r), size)
            costs = take(pool.costs[r], subsets, 1)
            reward = set_costs(take(pool.scores[r], subsets, 1)) - w[:, None] * set_costs(costs)
            p_hat = torch.from_numpy(take(pool.p_hat[r], subsets, 1))
            self.groups.append((torch.from_numpy(pool.X[r]), subsets, costs, p_hat, w, reward))

    def check(self, step: int) -> None:
        if not self.groups:  # nothing held out: keep the last checkpoint
            self.best_step, self._best = step, None
            return
        total, count = 0.0, 0
        with torch.no_grad():
            for X, subsets, costs, p_hat, w, reward in self.groups:
                logits, _ = self.trainer._forward(X, subsets, costs, p_hat, w)
                pick = logits.argmax(1).numpy()[:, None]
                total += float(np.take_along_axis(reward, pick, 1).sum())
                count += len(pick)
        score = total / count
        self.history.append({"step": step, "reward": round(score, 5)})
        if score > self.best_score + 1e-9:
            self.best_score, self.best_step = score, step
            self._best = {k: v.detach().numpy().copy() for k, v in self.trainer.params.items()}

    def best_params(self) -> dict[str, np.ndarray]:
        if self._best is None:
            return {k: v.detach().numpy().copy() for k, v in self.trainer.params.items()}
        return self._best
