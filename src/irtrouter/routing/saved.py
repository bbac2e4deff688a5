"""Loading a saved router: ``config.json``'s ``router_kind`` names the class that reads the rest.

Examples
--------
>>> sorted(ROUTER_KINDS)
['irt', 'policy']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from irtrouter.embed.base import Embedder
from irtrouter.errors import RouterFormatError
from irtrouter.routing.persistence import CONFIG_FILE, WEIGHTS_FILE, read_router_dir
from irtrouter.routing.policy.router import PolicyRouter
from irtrouter.routing.router import IRTRouter

ROUTER_KINDS: dict[str, type[IRTRouter]] = {cls.router_kind: cls for cls in (IRTRouter, PolicyRouter)}


def load_router(path: str | Path, embedder: Embedder | None = None) -> IRTRouter:
    """Read a router saved by ``router.save(path)``: an :class:`IRTRouter`, or its subclass
    :class:`~irtrouter.routing.policy.router.PolicyRouter` when ``config.json`` says
    ``"router_kind": "policy"``.

    Parameters
    ----------
    path : directory
    embedder : Embedder, optional
        Needed only when the router was trained with a custom embedder instance; otherwise the
        embedder is rebuilt from its saved spec. Either way its name and dimension must match.

    Raises
    ------
    RouterFormatError
        Missing files, another format or schema version, an unknown router kind, a mismatched
        embedder, or a truncated, corrupted or inconsistent ``config.json`` / ``weights.npz``
        (each named: a probe routes one all-zero embedding at load).
    """
    config, arrays = read_router_dir(path)
    kind = config.get("router_kind", "irt")  # routers saved before policies existed have none
    if kind not in ROUTER_KINDS:
        raise RouterFormatError(f"{Path(path) / CONFIG_FILE}: unknown router kind {kind!r}")
    try:
        router = ROUTER_KINDS[kind].from_saved(config, arrays, embedder=embedder, source=path)
    except (KeyError, TypeError, AttributeError) as exc:  # a config.json key missing or of the wrong type
        raise RouterFormatError(f"{Path(path) / CONFIG_FILE}: {_what_failed(exc)}") from None
    _probe(router, path)
    return router


def _probe(router: IRTRouter, path: str | Path) -> None:
    """Route one all-zero embedding, so that a weights file whose arrays are missing, of the wrong
    shape or of the wrong type fails here, at load, with the file named, rather than later on the
    first query (in the service: with a 500). No embedder call: nothing is downloaded or sent."""
    n_llms = len(router.llm_ids)
    try:
        X = np.zeros((1, router.embedder_.dim), dtype=np.float32)
        decision = router.route_many_embedded(X, ["probe"], explain=True)[0]
        shapes = (np.shape(decision.p_hat), np.shape(decision.cost), np.shape(decision.score))
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise RouterFormatError(
            f"{Path(path) / WEIGHTS_FILE} does not fit {CONFIG_FILE}: {_what_failed(exc)}"
        ) from None
    if any(shape != (n_llms,) for shape in shapes):
        raise RouterFormatError(
            f"{Path(path) / WEIGHTS_FILE} does not fit {CONFIG_FILE}: {n_llms} LLMs, but the arrays give "
            f"predictions of shape {shapes[0]} and costs of shape {shapes[1]}"
        )


def _what_failed(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc}"
    return f"{type(exc).__name__}: {exc}"
