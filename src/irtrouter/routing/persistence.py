"""A saved router is a directory: ``config.json`` and ``weights.npz``. No pickle anywhere.

``config.json`` holds everything readable: the format and schema version, the irtrouter version,
the router's parameters, the embedder's spec, name and dimension, the LLM catalog (prices,
profiles, provider names), the cost model, how NIRT's relevance vectors were labelled, and a
training summary. ``weights.npz`` holds the arrays (predictor parameters and abilities, training
query embeddings for the warm-up, NIRT's training relevance vectors, cost-model tables), read
with ``allow_pickle=False``.

Loading needs numpy and the embedder only: torch is never imported.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import numpy as np

from irtrouter import __version__
from irtrouter.data.catalog import LLMCatalog
from irtrouter.embed.base import Embedder
from irtrouter.embed.registry import make_embedder
from irtrouter.errors import RouterFormatError
from irtrouter.routing.cost import cost_model_from_state
from irtrouter.routing.neighbours import NeighbourIndex
from irtrouter.routing.router import PREDICTORS, IRTRouter

if TYPE_CHECKING:
    from irtrouter.routing.policy import PolicyRouter

FORMAT = "irtrouter.router"
SCHEMA_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"


def save_router(
    router: IRTRouter,
    path: str | Path,
    extra_config: dict[str, Any] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``router`` to directory ``path`` (created if needed; files replaced atomically).

    A subclass (the LLM Bandit :class:`~irtrouter.routing.policy.PolicyRouter`) adds its own keys
    and arrays with ``extra_config`` / ``extra_arrays``; ``extra_config["router_kind"]`` tells
    :func:`load_router` which class to rebuild.
    """
    router._check_fitted()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pred_config, pred_arrays = router.predictor_.state()
    cost_config, cost_arrays = router.cost_model_.state()
    config: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "irtrouter_version": __version__,
        "router": router.get_params(),
        "embedder": {"spec": router.embedder_spec_, "name": router.embedder_.name, "dim": router.embedder_.dim},
        "llms": router.catalog_.to_records(),
        "predictor": pred_config,
        "cost_model": cost_config,
        "relevance": router.relevance_info_,
        "training": router.training_,
        **(extra_config or {}),
    }
    arrays = {f"predictor.{k}": v for k, v in pred_arrays.items()}
    arrays |= {f"cost.{k}": v for k, v in cost_arrays.items()}
    arrays["train_embeddings"] = router.neighbours_.embeddings
    if router.train_relevance_ is not None:
        arrays["train_relevance"] = router.train_relevance_
    arrays["train_difficulty_sorted"] = router.train_difficulty_sorted_
    if router.train_tasks_ is not None:
        arrays["train_tasks"] = np.asarray(router.train_tasks_, dtype=np.str_)  # unicode, no pickle
    arrays |= extra_arrays or {}
    _atomic_write(path / WEIGHTS_FILE, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
    _atomic_write(path / CONFIG_FILE, lambda fh: fh.write(json.dumps(config, indent=2).encode("utf-8")))
    return path


def load_router(path: str | Path, embedder: Embedder | None = None) -> IRTRouter:
    """Read a router saved by :func:`save_router`: an :class:`IRTRouter`, or its subclass
    :class:`~irtrouter.routing.policy.PolicyRouter` when ``config.json`` says ``"router_kind": "policy"``.

    Parameters
    ----------
    path : directory
    embedder : Embedder, optional
        Needed only when the router was trained with a custom embedder instance; otherwise the
        embedder is rebuilt from its saved spec. Either way its name and dimension must match.

    Raises
    ------
    RouterFormatError
        Missing files, another format or schema version, or a mismatched embedder.
    """
    path = Path(path)
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise RouterFormatError(f"{path} is not a saved router: expected {CONFIG_FILE} and {WEIGHTS_FILE}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RouterFormatError(f"{config_path}: not valid JSON ({exc.msg})") from None
    if config.get("format") != FORMAT:
        raise RouterFormatError(f"{config_path}: not an irtrouter router (format {config.get('format')!r})")
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

    emb_conf = config["embedder"]
    if embedder is None:
        if not emb_conf.get("spec"):
            raise RouterFormatError(
                f"{path} was trained with a custom embedder ({emb_conf['name']}): pass it as embedder="
            )
        embedder = make_embedder(emb_conf["spec"])
    if embedder.name != emb_conf["name"] or embedder.dim != emb_conf["dim"]:
        raise RouterFormatError(
            f"{path} was trained with embedder {emb_conf['name']} ({emb_conf['dim']}-d), "
            f"not {embedder.name} ({embedder.dim}-d)"
        )

    params = config["router"]
    router_kind = config.get("router_kind", "irt")
    if router_kind == "policy":
        from irtrouter.routing.policy import PolicyRouter

        router: IRTRouter = PolicyRouter(**params)
    elif router_kind == "irt":
        router = IRTRouter(**params)
    else:
        raise RouterFormatError(f"{config_path}: unknown router kind {router_kind!r}")
    kind = config["predictor"]["kind"]
    if kind not in PREDICTORS:
        raise RouterFormatError(f"{config_path}: unknown predictor {kind!r}")
    try:
        router.predictor_ = PREDICTORS[kind].from_state(config["predictor"], _prefixed(arrays, "predictor."))
        router.cost_model_ = cost_model_from_state(config["cost_model"], _prefixed(arrays, "cost."))
        router.neighbours_ = NeighbourIndex(arrays["train_embeddings"])
    except KeyError as exc:
        raise RouterFormatError(f"{path}: missing {exc} in the saved router") from None
    router.train_relevance_ = arrays.get("train_relevance")
    # Routers saved before explanations existed lack these two arrays: the difficulties are
    # recomputed exactly from the stored training embeddings; the tasks are simply unknown.
    stored = arrays.get("train_difficulty_sorted")
    router.train_difficulty_sorted_ = router._training_difficulty_sorted() if stored is None else stored
    tasks = arrays.get("train_tasks")
    router.train_tasks_ = None if tasks is None else tuple(str(t) for t in tasks)
    router.relevance_info_ = config.get("relevance")
    router.catalog_ = LLMCatalog.from_records(config["llms"], source=str(config_path))
    router.embedder_ = embedder
    router.embedder_spec_ = emb_conf.get("spec")
    router.training_ = config.get("training", {})
    if router_kind == "policy":
        try:
            cast("PolicyRouter", router).restore_policy(config, arrays)
        except KeyError as exc:
            raise RouterFormatError(f"{path}: missing {exc} in the saved policy router") from None
    return router


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
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
