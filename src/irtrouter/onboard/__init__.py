"""Onboarding a new LLM without retraining: from its profile, or from an adaptive quiz.

``quiz`` (MAP estimates over the item bank and ability prior of :mod:`irtrouter.irt.items`, and
RADAR's adaptive quiz by Fisher information), ``newllm`` (adding the LLM to a router, priced by
its cost model), ``identity_quiz`` (LLM Bandit's cold start of an identity vector from 20-50
prompts) and ``simulate`` (hold an LLM out and bring it back from its real answers, to measure
onboarding).
"""
