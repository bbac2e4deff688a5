"""The saved-router directory format: ``config.json`` and ``weights.npz``. No pickle anywhere.

``config.json`` holds everything readable: the format and schema version, the irtrouter version,
which kind of router it is (``router_kind``), the router's parameters, the embedder's spec, name
and dimension, the LLM catalog (prices, profiles, provider names), the cost model, how NIRT's
relevance vectors were labelled, and a training summary. ``weights.npz`` holds the arrays
(predictor parameters and abilities, training query embeddings for the warm-up, NIRT's training
relevance vectors, cost-model tables), read with ``allow_pickle=False``.

This module knows the directory and nothing of the routers: each router class writes and reads its
own keys (``IRTRouter.save`` / ``IRTRouter.from_saved``), and
:func:`irtrouter.routing.saved.load_router` picks the class from ``router_kind``. Loading needs
numpy and the embedder only: torch is never imported.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from irtrouter import __version__
from irtrouter.embed.base import Embedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import RouterFormatError

FORMAT = "irtrouter.router"
SCHEMA_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"


def write_router_dir(path: str | Path, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``config`` (with the format header added) and ``arrays`` to directory ``path``
    (created if needed; each file replaced atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "irtrouter_version": __version__}
    document = {**header, **config}
    _atomic_write(path / WEIGHTS_FILE, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
    _atomic_write(path / CONFIG_FILE, lambda fh: fh.write(json.dumps(document, indent=2).encode("utf-8")))
    return path


def read_router_dir(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(config, arrays)`` of a saved router directory, its format and schema version checked.

    Raises
    ------
    RouterFormatError
        Missing files, invalid JSON, unreadable weights, another format or schema version.
    """
    path = Path(path)
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise RouterFormatError(f"{path} is not a saved router: expected {CONFIG_FILE} and {WEIGHTS_FILE}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RouterFormatError(f"{config_path}: not valid JSON ({exc.msg})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise RouterFormatError(f"{config_path}: not an irtrouter router (format {found!r})")
    if config.get("schema_version") != SCHEMA_VERSION:
        raise RouterFormatError(
            f"{config_path}: schema version {config.get('schema_version')!r}, this irtrouter "
            f"({__version__}) reads version {SCHEMA_VERSION}"
        )
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise RouterFormatError(f"{weights_path}: cannot read weights ({exc})") from None
    return config, arrays


def resolve_embedder(config: dict[str, Any], embedder: Embedder | None, source: str | Path) -> Embedder:
    """The embedder a saved router needs: ``embedder`` if given, else rebuilt from its saved spec;
    either way its name and dimension must match the saved ones."""
    emb_conf = config["embedder"]
    if embedder is None:
        if not emb_conf.get("spec"):
            raise RouterFormatError(
                f"{source} was trained with a custom embedder ({emb_conf['name']}): pass it as embedder="
            )
        embedder = make_embedder(emb_conf["spec"])
    if embedder.name != emb_conf["name"] or embedder.dim != emb_conf["dim"]:
        raise RouterFormatError(
            f"{source} was trained with embedder {emb_conf['name']} ({emb_conf['dim']}-d), "
            f"not {embedder.name} ({embedder.dim}-d)"
        )
    return embedder


def prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays whose names start with ``prefix``, the prefix removed."""
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


def _atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
