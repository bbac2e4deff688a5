"""IRT predictors: what each LLM is likely to score on each query.

``mirt`` (MIRT-Router), ``nirt`` (NIRT-Router, 25 named abilities over relevance vectors), ``2pl``
(RADAR, one free scalar ability per configuration) and ``identity`` (LLM Bandit's variational
identity vectors), by name in :data:`~irtrouter.irt.registry.PREDICTORS`; RouteLLM's matrix
factorisation (:mod:`irtrouter.irt.mf`) for the evaluation's baseline. One formula per model over
:mod:`irtrouter.irt.ops` serves numpy inference and torch training; one training loop
(:mod:`irtrouter.irt.training`) fits them all, in numpy for MIRT and the 2PL (their gradients
written out) and with torch, imported lazily, for the others. Each predictor describes its
own dimensions to the layers above (:class:`~irtrouter.irt.base.IRTPredictor`). MIRT and NIRT read
abilities from the LLMs' profiles, with optional free per-LLM offsets (:mod:`irtrouter.irt.offsets`).
For those linear in the ability (MIRT, 2PL), :mod:`irtrouter.irt.items` reads the queries off as
items and gives the posterior over each LLM's ability (the quiz, feedback and standard errors use it).
"""

from irtrouter.irt.abilities import ABILITIES, ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor
from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor
from irtrouter.irt.registry import PREDICTORS

__all__ = ["ABILITIES", "ABILITY_NAMES", "PREDICTORS", "IRTPredictor", "MIRTPredictor", "NIRTPredictor"]
