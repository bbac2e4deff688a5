"""Loading a saved router: ``config.json``'s ``router_kind`` names the class that reads the rest.

Examples
--------
>>> sorted(ROUTER_KINDS)
['irt', 'policy']
"""

from __future__ import annotations

from pathlib import Path

from irtrouter.embed.base import Embedder
from irtrouter.errors import RouterFormatError
from irtrouter.routing.persistence import CONFIG_FILE, read_router_dir
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
        Missing files, another format or schema version, an unknown router kind, or a mismatched
        embedder.
    """
    config, arrays = read_router_dir(path)
    kind = config.get("router_kind", "irt")  # routers saved before policies existed have none
    if kind not in ROUTER_KINDS:
        raise RouterFormatError(f"{Path(path) / CONFIG_FILE}: unknown router kind {kind!r}")
    return ROUTER_KINDS[kind].from_saved(config, arrays, embedder=embedder, source=path)
