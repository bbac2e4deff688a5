"""The LLM Bandit policy's architecture and training settings, validated (:class:`PolicySettings`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from irtrouter.errors import ConfigError


@dataclass(frozen=True)
class PolicySettings:
    """Policy architecture and training settings; the digest's tag says where each comes from.

    [3P] = the third-party re-implementation cited by the digest, [UNVERIFIED] = our default where
    no source gives the paper's value.

    Attributes
    ----------
    hidden_units : int
        Width of every policy layer [UNVERIFIED; 3P 128; 64 trains twice as fast on 2 cores].
    n_heads : int
        Attention heads of the SAB and PMA blocks [3P: 4].
    max_preference : float
        Training draws the cost weight w ~ U(0, max_preference) [3P: omega = [1, w], w ~ U(0, 2)];
        routing refuses a w outside [0, max_preference].
    pretrain_steps, pretrain_batch, pretrain_learning_rate : int, int, float
        Supervised pre-training on pairwise comparisons [3P: 500 steps, batch 1024, Adam lr 1e-3].
    pretrain_pairs : bool
        Pre-train on pairs of LLMs only (the paper's pairwise comparisons) or, when False (our
        default), on random candidate sets of every size with the same target rule: a policy
        pre-trained on pairs picks among larger sets less well (llmrouter, seed 0, full training:
        hypervolume 0.485 with pairs vs 0.509 with sets) [ours].
    ppo_steps, ppo_batch, ppo_epochs, learning_rate : int, int, int, float
        Multi-objective PPO: rollouts of ``ppo_batch`` queries, ``ppo_epochs`` passes over each
        [3P: 500 steps, batch 256, lr 1e-3, 4 epochs].
    clip, value_coef, entropy_coef : float
        PPO's clipped surrogate, value-loss and entropy weights [3P: 0.2, 0.5, 0.01].
    mixup_alpha : float
        On-manifold mixup: each rollout query is blended with its nearest training query,
        lambda ~ Beta(a, a) folded to the dominant side [3P: a = 0.2]; 0 turns mixup off.
    min_candidates : int
        Smallest random candidate set in PPO (sizes are uniform up to every LLM) [INF].
    normalise_advantages : bool
        Standardise the scalarised advantages of each rollout [UNVERIFIED; common PPO practice].
    max_grad_norm : float
        Gradient clipping [UNVERIFIED].
    eval_every, eval_queries : int
        Early stopping for PPO [ours]: every ``eval_every`` steps the greedy policy is scored on
        up to ``eval_queries`` of stage 1's validation queries (never trained on) and the best
        checkpoint, the pre-trained policy included, is kept. PPO's rewards are realised scores of
        training queries, which the policy can memorise through the query embedding.
    crossfit_folds : int
        The policy stages see out-of-fold p-hat from this many identity models, each trained
        without one fold of the queries (0 or 1: the in-sample p-hat of the final model) [ours;
        :mod:`irtrouter.routing.policy_training` says why]. Costs ``crossfit_folds`` more stage-1
        fits on ``(k - 1) / k`` of the data.
    cold_start_rate, cold_start_quiz : float, int
        Share of the pre-training and PPO samples in which one candidate is shown as a quizzed
        newcomer would be: its identity re-fitted from ``cold_start_quiz`` of its own answers and
        the p-hat of that identity, with its real rewards, so the policy learns to read the shrunken
        identities a quiz gives (:mod:`irtrouter.routing.policy.coldstart`) [ours; issue 12 item 7].
        0 turns it off. Costs one quiz fit per trained LLM (about 1.5 s each on zeroeval).
    own_score : bool
        Add each candidate's own p-hat and cost to its logit, with weights that depend on w
        (:mod:`irtrouter.routing.policy.network`) [ours; issue 12 item 7].
    """

    hidden_units: int = 64
    n_heads: int = 4
    max_preference: float = 2.0
    pretrain_steps: int = 500
    pretrain_batch: int = 1024
    pretrain_learning_rate: float = 1e-3
    pretrain_pairs: bool = False
    ppo_steps: int = 500
    ppo_batch: int = 256
    ppo_epochs: int = 4
    learning_rate: float = 1e-3
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    mixup_alpha: float = 0.2
    min_candidates: int = 2
    normalise_advantages: bool = True
    max_grad_norm: float = 1.0
    eval_every: int = 25
    eval_queries: int = 512
    crossfit_folds: int = 2
    cold_start_rate: float = 0.0
    cold_start_quiz: int = 30
    own_score: bool = False

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> PolicySettings:
        """Validated settings from a dict of overrides (unknown keys are named in the error)."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"unknown policy parameter(s) {unknown}; known: {', '.join(sorted(known))}")
        settings = cls(**params)
        for name in (
            "hidden_units",
            "n_heads",
            "pretrain_batch",
            "ppo_batch",
            "ppo_epochs",
            "min_candidates",
            "eval_every",
            "eval_queries",
            "cold_start_quiz",
        ):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"policy parameter {name} must be a positive integer, got {value!r}")
        for name in ("pretrain_steps", "ppo_steps", "crossfit_folds"):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"policy parameter {name} must be an integer >= 0, got {value!r}")
        if settings.hidden_units % settings.n_heads:
            raise ConfigError(
                f"hidden_units ({settings.hidden_units}) must be a multiple of n_heads ({settings.n_heads})"
            )
        if not (math.isfinite(settings.max_preference) and settings.max_preference > 0):
            raise ConfigError(f"max_preference must be > 0, got {settings.max_preference!r}")
        if not 0 <= settings.cold_start_rate <= 1:
            raise ConfigError(f"cold_start_rate must lie in [0, 1], got {settings.cold_start_rate!r}")
        if settings.mixup_alpha < 0 or settings.clip <= 0:
            raise ConfigError("mixup_alpha must be >= 0 and clip > 0")
        return settings
