"""The predictors a router can be built on, by name: the one table of them.

Examples
--------
>>> sorted(PREDICTORS)
['2pl', 'identity', 'mirt', 'nirt']
>>> PREDICTORS["2pl"].default_n_dims()
1
"""

from __future__ import annotations

from irtrouter.errors import ConfigError
from irtrouter.irt.base import IRTPredictor
from irtrouter.irt.identity import IdentityIRTPredictor
from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor
from irtrouter.irt.twopl import TwoPLPredictor

PREDICTORS: dict[str, type[IRTPredictor]] = {
    "mirt": MIRTPredictor,
    "nirt": NIRTPredictor,
    "2pl": TwoPLPredictor,
    "identity": IdentityIRTPredictor,
}


def predictor_class(name: str) -> type[IRTPredictor]:
    """The predictor class registered as ``name``; an error listing the names otherwise."""
    try:
        return PREDICTORS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown predictor {name!r}; expected one of {', '.join(PREDICTORS)}") from None
