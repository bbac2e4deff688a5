"""The service's side of learning from traffic: feedback checked, router versions promoted live.

Feedback. ``POST /v1/feedback {"request_id", "score", "comment"?}`` stores one row per call
once its request id is known to the log; anything else is a 4xx with the OpenAI envelope and
stores nothing: a body that is not an object or has other fields (400), a request id that is
not a non-empty string (400) or names no decision (404), a score that is not a finite JSON number
in [0, 1] (400: strings, booleans, null, NaN and infinities included), a comment that is not a
string of at most 4000 characters (400). A second score for the same request is accepted and
stored as its own row; the rule for learning is **last wins** (:mod:`irtrouter.online.feedback`:
the latest row), the same rule as the ``/metrics`` drift window's.

Versions. :class:`RouterVersions` loads a saved router directory, checks it (same LLMs and prices
as the running router, the config's rules and budgets calibrate on it), warms it (embedder
built, budget calibrations done) and only then swaps it in with
:meth:`~irtrouter.serve.routing.RoutingService.swap`; requests already routing finish on the
router they started with, and a failed load leaves the old one serving and says why (the
response, ``/healthz`` ``router.last_error``, the log, ``irtrouter_router_loads_total``). The
admin endpoint and ``--watch`` both call :meth:`RouterVersions.promote`; rolling back is the
same call with the parent directory (``/healthz`` shows it).

==================================  ===========================================================
``POST /admin/router``              ``{"path": DIR}``: load DIR and make it the live router
``GET /admin/router``               the live version, its directory and parent
==================================  ===========================================================

Both take only the admin key (``auth.admin_key_env``), never a client key; without one
configured they answer 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from irtrouter.errors import ConfigError, IRTRouterError, RouterFormatError
from irtrouter.routing.persistence import read_lineage, router_version_id
from irtrouter.routing.router import IRTRouter
from irtrouter.serve.config import AUTO_PROFILE, ServeConfig, check_config
from irtrouter.serve.errors import APIError
from irtrouter.serve.metrics import Metrics
from irtrouter.serve.routing import Explorer, LiveRouter, RoutingService

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 4000


def parse_feedback(body: Any) -> tuple[str, float, str | None]:
    """``(request_id, score, comment)`` of a ``/v1/feedback`` body, or the 400 that refuses it.

    Examples
    --------
    >>> parse_feedback({"request_id": "irt-1", "score": 1})
    ('irt-1', 1.0, None)
    >>> parse_feedback({"request_id": "irt-1", "score": float("nan")})
    Traceback (most recent call last):
    ...
    irtrouter.serve.errors.APIError: 'score' must be a finite number in [0, 1], got nan
    """
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object", code="invalid_body")
    unknown = sorted(set(body) - {"request_id", "score", "comment"})
    if unknown:
        raise APIError(400, f"unknown field(s) {unknown}; expected request_id, score, comment", param=unknown[0])
    request_id, score, comment = body.get("request_id"), body.get("score"), body.get("comment")
    if not isinstance(request_id, str) or not request_id:
        raise APIError(400, "'request_id' must be the id of a past request", param="request_id", code="invalid_value")
    if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score) or not 0 <= score <= 1:
        raise APIError(
            400, f"'score' must be a finite number in [0, 1], got {score!r}", param="score", code="invalid_value"
        )
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
        raise APIError(
            400,
            f"'comment' must be a string of at most {MAX_COMMENT_CHARS} characters",
            param="comment",
            code="invalid_value",
        )
    return request_id, float(score), comment


class RouterVersions:
    """Promotes and rolls back the live router of a running service (see the module docstring).

    Parameters
    ----------
    routing : RoutingService
        Whose live router is replaced.
    config : ServeConfig
        A new router must pass :func:`~irtrouter.serve.config.check_config` with it.
    environ : mapping
        Where the config's key variables are read.
    metrics : Metrics
    loader : callable
        ``directory -> IRTRouter`` (``load_router``, plus what the CLI does to a loaded router).
    """

    def __init__(
        self,
        routing: RoutingService,
        config: ServeConfig,
        environ: Mapping[str, str],
        metrics: Metrics,
        loader: Callable[[str], IRTRouter],
    ) -> None:
        self.routing = routing
        self.config = config
        self.environ = environ
        self.metrics = metrics
        self.loader = loader
        self.last_error: str | None = None
        self._lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        """The live version, as ``/healthz`` and ``GET /admin/router`` show it."""
        live = self.routing.live
        return {
            "predictor": live.router.predictor,
            "embedder": live.router.embedder_.name,
            "version": live.version,
            "directory": live.directory,
            "parent": live.parent,
            "loaded_at": live.loaded_at,
            "last_error": self.last_error,
        }

    async def promote(self, path: str) -> dict[str, Any]:
        """Load the router saved in ``path`` and make it the live one; 400 (old one kept) on failure."""
        async with self._lock:  # one load at a time: the last promoted is the one that serves
            started = time.perf_counter()
            try:
                live = await asyncio.get_running_loop().run_in_executor(None, self._prepare, path)
            except (IRTRouterError, OSError, ValueError) as exc:
                self._failed(path, f"{type(exc).__name__}: {exc}")
                raise APIError(
                    400, f"cannot load the router in {path}: {exc}", param="path", code="router_load_failed"
                ) from None
            except Exception as exc:  # a bug: still never leave the service without a router
                self._failed(path, f"{type(exc).__name__}: {exc}")
                message = f"cannot load the router in {path}: internal error"
                raise APIError(500, message, code="internal_error") from None
            old = self.routing.swap(live)
            self.metrics.router_loads["ok"] += 1
            self.last_error = None
            log.info("router %s (%s) is live, replacing %s", live.version, live.directory, old.version)
            return {
                "object": "irtrouter.router",
                **self.describe(),
                "previous_version": old.version,
                "load_ms": round((time.perf_counter() - started) * 1000, 3),
            }

    def _failed(self, path: str, why: str) -> None:
        self.last_error = f"{path}: {why}"
        self.metrics.router_loads["failed"] += 1
        log.error("router load from %s failed, %s keeps serving: %s", path, self.routing.live.version, why)

    def _prepare(self, path: str) -> LiveRouter:
        """Load, check and warm the router in ``path`` (in a thread; nothing is live yet)."""
        directory = str(Path(path).resolve())
        version = router_version_id(directory)
        router = self.loader(directory)
        running = self.routing.router
        if router.llm_ids != running.llm_ids:
            raise ConfigError(
                f"its LLMs ({', '.join(router.llm_ids)}) are not the running router's "
                f"({', '.join(running.llm_ids)}): changing the pool needs a restart"
            )
        changed = [m for m in router.llm_ids if _prices(router, m) != _prices(running, m)]
        if changed:
            raise ConfigError(f"catalog prices differ for {', '.join(changed)}: changing prices needs a restart")
        check = check_config(self.config, router.llm_ids, self.environ, router=router)  # also calibrates budgets
        if not check.ok:
            raise ConfigError("; ".join(check.problems))
        self.routing.warm_up(router)
        if router_version_id(directory) != version:
            raise RouterFormatError("the directory changed while it was loaded: write a new directory instead")
        return LiveRouter(router, version, directory, parent=read_lineage(directory).parent)

    async def watch(self, pointer: Path, interval: float) -> None:
        """Poll ``pointer`` (a file holding the live router's directory; relative paths are from
        the pointer's folder) and promote its target whenever the file changes and names another
        directory than the live one. A failed load is retried when the file is written again."""
        seen: tuple[str, int] | None = None
        while True:
            try:
                text, mtime = pointer.read_text(encoding="utf-8").strip(), pointer.stat().st_mtime_ns
            except OSError as exc:
                if seen != ("", -1):
                    self._failed(str(pointer), f"cannot read the pointer file ({exc.strerror or exc})")
                    seen = ("", -1)
            else:
                if text and (text, mtime) != seen:
                    seen = (text, mtime)
                    target = Path(text) if Path(text).is_absolute() else pointer.parent / text
                    if str(target.resolve()) != self.routing.live.directory:
                        with contextlib.suppress(APIError):  # logged, kept in last_error; the old one serves on
                            await self.promote(str(target))
            await asyncio.sleep(interval)


def live_router(router: IRTRouter, directory: str | os.PathLike[str] | None) -> LiveRouter:
    """``router`` as loaded from ``directory`` (None: a router without a directory, no version)."""
    if directory is None:
        return LiveRouter(router)
    path = str(Path(directory).resolve())
    return LiveRouter(router, router_version_id(path), path, parent=read_lineage(path).parent)


def explorer(config: ServeConfig) -> Explorer:
    """The service's :class:`~irtrouter.serve.routing.Explorer`: each profile's exploration, one seed."""
    policies = {AUTO_PROFILE: config.routing.exploration}
    policies.update((name, p.exploration) for name, p in config.profiles.items())
    return Explorer(policies, config.routing.exploration.seed)


def _prices(router: IRTRouter, llm_id: str) -> tuple[float, float]:
    spec = router.catalog_[llm_id]
    return spec.input_price, spec.output_price


def admin_routes(versions: Callable[[], RouterVersions], admin_key: str | None) -> APIRouter:
    """``/admin/router`` (GET, POST), authorised by ``admin_key`` alone (None: 403)."""
    routes = APIRouter()

    def authorize(request: Request) -> None:
        if admin_key is None:
            raise APIError(403, "the admin endpoints are off: set auth.admin_key_env", code="admin_disabled")
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise APIError(401, "missing admin key: send 'Authorization: Bearer ADMIN_KEY'", code="invalid_api_key")
        if not hmac.compare_digest(key.encode(), admin_key.encode()):
            raise APIError(401, "invalid admin key", code="invalid_api_key")

    @routes.get("/admin/router", summary="The live router version")
    async def live_router(request: Request) -> JSONResponse:
        authorize(request)
        return JSONResponse({"object": "irtrouter.router", **versions().describe()})

    @routes.post("/admin/router", summary="Promote (or roll back to) a saved router directory")
    async def promote(request: Request) -> JSONResponse:
        authorize(request)
        try:
            body = await request.json()
        except ValueError:
            raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict) or set(body) != {"path"} or not isinstance(body["path"], str) or not body["path"]:
            raise APIError(400, 'expected {"path": "DIR"}, the saved router directory to load', param="path")
        return JSONResponse(await versions().promote(body["path"]))

    return routes
