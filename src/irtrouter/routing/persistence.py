"""The saved-router directory format: ``config.json`` and ``weights.npz``. No pickle anywhere.

``config.json`` holds everything readable: the format and schema version, the irtrouter version,
which kind of router it is (``router_kind``), the router's parameters, the embedder's spec, name
and dimension, the LLM catalog (prices, profiles, provider names), the cost model, how NIRT's
relevance vectors were labelled, and a training summary. ``weights.npz`` holds the arrays
(predictor parameters and abilities, training query embeddings for the warm-up, NIRT's training
relevance vectors, cost-model tables), read with ``allow_pickle=False``.

``config.json`` may also hold a ``lineage`` (:class:`Lineage`): the router's version, the directory
it was learnt from, when, and what changed (written by ``irtrouter learn``). A directory without one
is version 0 with no parent, so every older directory still loads. :func:`router_version_id` names a
directory's exact content (``v{version}-{hash}``): the service records it with every decision.

This module knows the directory and nothing of the routers: each router class writes and reads its
own keys (``IRTRouter.save`` / ``IRTRouter.from_saved``), and
:func:`irtrouter.routing.saved.load_router` picks the class from ``router_kind``. Loading needs
numpy and the embedder only: torch is never imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from irtrouter import __version__
from irtrouter.data.jsontext import json_error_reason
from irtrouter.embed.base import Embedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import RouterFormatError

FORMAT = "irtrouter.router"
SCHEMA_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"


HEADER_KEYS = ("format", "schema_version", "irtrouter_version")


@dataclass(frozen=True)
class Lineage:
    """Where a saved router comes from: ``config.json``'s optional ``"lineage"`` object.

    Attributes
    ----------
    version : int
        0 for a trained router (and for any directory without a lineage), parent's + 1 for a
        router learnt from it.
    parent : str or None
        The directory (path or id) it was learnt from.
    created_at : float or None
        Unix seconds when it was written; None for directories saved before lineages existed.
    changes : dict
        What changed against the parent (``irtrouter learn``: per-LLM ability shift and standard
        error, feedback rows used).

    Examples
    --------
    >>> root = Lineage()
    >>> child = root.child("routers/v0", {"n_feedback": 12}, created_at=1.0)
    >>> child.version, child.parent, child.to_json()["changes"]
    (1, 'routers/v0', {'n_feedback': 12})
    >>> Lineage.from_json(child.to_json()) == child
    True
    """

    version: int = 0
    parent: str | None = None
    created_at: float | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    def child(self, parent: str, changes: dict[str, Any], created_at: float) -> Lineage:
        """The lineage of a router learnt from this one (saved at ``parent``)."""
        return Lineage(self.version + 1, str(parent), float(created_at), dict(changes))

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "parent": self.parent, "created_at": self.created_at, "changes": self.changes}

    @classmethod
    def from_json(cls, obj: Any, source: Any = "") -> Lineage:
        """Read and check a ``lineage`` object (``None``: version 0, no parent).

        Raises
        ------
        RouterFormatError
            When it is not an object with a whole ``version`` >= 0, a string or null ``parent``,
            a number or null ``created_at`` and an object ``changes``.
        """
        if obj is None:
            return cls()
        where = f"{source}: lineage" if source else "lineage"
        if not isinstance(obj, dict):
            raise RouterFormatError(f"{where} must be an object, got {type(obj).__name__}")
        version, parent = obj.get("version", 0), obj.get("parent")
        created_at, changes = obj.get("created_at"), obj.get("changes", {})
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise RouterFormatError(f"{where} version must be a whole number >= 0, got {version!r}")
        if parent is not None and not isinstance(parent, str):
            raise RouterFormatError(f"{where} parent must be a string or null, got {parent!r}")
        if created_at is not None and (isinstance(created_at, bool) or not isinstance(created_at, int | float)):
            raise RouterFormatError(f"{where} created_at must be unix seconds or null, got {created_at!r}")
        if not isinstance(changes, dict):
            raise RouterFormatError(f"{where} changes must be an object, got {changes!r}")
        return cls(version, parent, None if created_at is None else float(created_at), changes)


def read_lineage(path: str | Path) -> Lineage:
    """The :class:`Lineage` of saved router directory ``path`` (version 0, no parent, when it has none).

    Raises
    ------
    RouterFormatError
        When ``config.json`` is missing, not JSON, or its lineage is malformed.

    Examples
    --------
    >>> import tempfile
    >>> d = write_router_dir(tempfile.mkdtemp(), {}, {"w": np.zeros(1)})
    >>> read_lineage(d).version
    0
    """
    config_path = Path(path) / CONFIG_FILE
    if not config_path.is_file():
        raise RouterFormatError(f"{path} is not a saved router: expected {CONFIG_FILE}")
    config = _read_config(config_path)
    if not isinstance(config, dict):
        raise RouterFormatError(f"{config_path}: not an irtrouter router")
    return Lineage.from_json(config.get("lineage"), config_path)


def router_version_id(path: str | Path) -> str:
    """``v{version}-{hash}``: the lineage version and the first 12 hex digits of the sha256 of
    ``config.json`` and ``weights.npz``. It names the exact content, so it is the same on every
    load, on every replica, and changes whenever a byte of the router does.

    Examples
    --------
    >>> import tempfile
    >>> d = write_router_dir(tempfile.mkdtemp(), {}, {"w": np.zeros(1)})
    >>> vid = router_version_id(d)
    >>> vid.startswith("v0-"), len(vid), router_version_id(d) == vid
    (True, 15, True)
    """
    path = Path(path)
    digest = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        try:
            data = (path / name).read_bytes()
        except FileNotFoundError:
            raise RouterFormatError(
                f"{path} is not a saved router: expected {CONFIG_FILE} and {WEIGHTS_FILE}"
            ) from None
        digest.update(len(data).to_bytes(8, "little"))  # the boundary between the two files counts
        digest.update(data)
    return f"v{read_lineage(path).version}-{digest.hexdigest()[:12]}"


def write_router_dir(
    path: str | Path, config: dict[str, Any], arrays: dict[str, np.ndarray], lineage: Lineage | None = None
) -> Path:
    """Write ``config`` (with the format header added, and ``lineage`` when given) and ``arrays``
    to directory ``path`` (created if needed; each file replaced atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "irtrouter_version": __version__}
    document = {**header, **{k: v for k, v in config.items() if k not in HEADER_KEYS}}
    if lineage is not None:
        document["lineage"] = lineage.to_json()
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
    config = _read_config(config_path)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise RouterFormatError(f"{config_path}: not an irtrouter router (format {found!r})")
    if config.get("schema_version") != SCHEMA_VERSION:
        raise RouterFormatError(
            f"{config_path}: schema version {config.get('schema_version')!r}, this irtrouter "
            f"({__version__}) reads version {SCHEMA_VERSION}"
        )
    Lineage.from_json(config.get("lineage"), config_path)  # a malformed lineage fails at load
    return config, read_weights(weights_path)


def _read_config(config_path: Path) -> Any:
    raw = config_path.read_bytes()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason, line = json_error_reason(exc, raw)
        where = f" (line {line})" if line is not None else ""
        raise RouterFormatError(f"{config_path}: not valid JSON{where}: {reason}") from None


# What a truncated or overwritten .npz raises from the zip layer down (numpy adds ValueError).
_UNREADABLE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def read_weights(weights_path: Path) -> dict[str, np.ndarray]:
    """Every array of ``weights.npz``, or a RouterFormatError saying what is wrong with the file.

    A file that is not a zip archive at all is refused before numpy sees it: numpy would take
    it for a pickle. A truncated archive, a damaged member and an array of Python objects (which
    only a pickle could hold) are each named.
    """
    with weights_path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        what = "the file is empty" if not magic else f"it does not start with a zip header (but {magic!r})"
        raise RouterFormatError(f"{weights_path}: not an .npz archive: {what}; save the router again")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            for name in npz.files:
                arrays[name] = _member(npz, name, weights_path)
    except RouterFormatError:
        raise
    except _UNREADABLE as exc:
        raise RouterFormatError(
            f"{weights_path}: truncated or corrupted .npz archive ({type(exc).__name__}: {exc}); save the router again"
        ) from None
    return arrays


def _member(npz: Any, name: str, weights_path: Path) -> np.ndarray:
    try:
        array = npz[name]
    except _UNREADABLE as exc:
        raise RouterFormatError(
            f"{weights_path}: array {name!r} is unreadable ({type(exc).__name__}: {exc}); save the router again"
        ) from None
    if array.dtype.kind not in "biufU":  # numbers, booleans and unicode text are all a router saves
        raise RouterFormatError(f"{weights_path}: array {name!r} has dtype {array.dtype}, expected numbers")
    return np.asarray(array)


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
        # The cap the router was trained with; a router saved before caps were recorded was uncapped.
        embedder.max_chars = emb_conf.get("max_chars")  # type: ignore[attr-defined]
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
