"""Onboarding a new LLM without retraining: from its profile, or from an adaptive quiz."""
