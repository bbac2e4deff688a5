"""Token counts when the data has none.

Providers count tokens with their own tokenizers; a router must price a query before it calls
one. This estimate (about four characters a token for alphabetic scripts, one token a character
for CJK) is what the per-query cost model and the modelled evaluation cost use; it is labelled
"modelled" wherever a cost derives from it.
"""

from __future__ import annotations

import math
import re

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (at least 1).

    >>> estimate_tokens("What is the capital of France?")
    8
    """
    cjk = len(_CJK.findall(text))
    return max(1, cjk + math.ceil((len(text) - cjk) / 4))
