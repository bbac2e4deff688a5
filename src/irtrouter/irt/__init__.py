"""IRT predictors: MIRT and NIRT over embeddings, one shared training loop (torch, lazy)."""

from irtrouter.irt.abilities import ABILITIES, ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor
from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor

__all__ = ["ABILITIES", "ABILITY_NAMES", "IRTPredictor", "MIRTPredictor", "NIRTPredictor"]
