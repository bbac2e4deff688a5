"""LLM Bandit: the preference-conditioned policy router.

``network`` (the policy's formulas over numpy or torch), ``settings`` (its validated settings),
``router`` (:class:`PolicyRouter`, numpy only) and ``training`` (pre-training and PPO; torch,
imported only by :meth:`PolicyRouter.fit`).
"""

from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.routing.policy.settings import PolicySettings

__all__ = ["PolicyRouter", "PolicySettings"]
