"""The HTTP service: an OpenAI-compatible chat-completions proxy that routes every request.

==================================  ===========================================================
``POST /v1/chat/completions``       route, call the chosen LLM's provider (falling back to the
                                    next-best allowed LLM on a timeout, connection error, 429 or
                                    5xx), answer with the provider's completion whose ``model``
                                    is the LLM that answered, plus an ``irtrouter`` routing
                                    object (non-streaming) and ``x-irtrouter-*`` headers; SSE
                                    streams pass through event by event
``POST /v1/responses``              the Responses API, translated to chat completions
``POST /v1/route``                  the decision only: chosen LLM, per-LLM P-hat and cost,
                                    difficulty, reason; no provider call
``POST /v1/feedback``               ``{"request_id", "score" in [0, 1], "comment"?}`` for a past
                                    request
``GET /v1/models``                  ``irtrouter/auto``, the profiles, the routable LLMs
``GET /healthz``                    liveness, router (and the version deciding) and database
``GET /metrics``                    Prometheus text format (drift per LLM included)
``POST /admin/router``              promote or roll back the router, admin key only
                                    (:mod:`irtrouter.serve.learning`)
==================================  ===========================================================

Every decision is committed to the database before its response is sent. Errors use the OpenAI
envelope (:mod:`irtrouter.serve.errors`); client mistakes are 4xx, never 500. Here: the app
factory, the endpoints and the per-app state; the provider calls (fallback, streaming relay) are
in :mod:`irtrouter.serve.proxy`, the routing (batching, costs) in :mod:`irtrouter.serve.routing`.

Examples
--------
>>> from irtrouter.serve import ServeSettings, create_app  # doctest: +SKIP
>>> app = create_app(ServeSettings(config=load_config("serve.yaml"), router=load_router("my-router")))  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from irtrouter import __version__
from irtrouter.data.jsontext import json_error_reason
from irtrouter.errors import ConfigError, IRTRouterError, StorageError
from irtrouter.routing.router import IRTRouter
from irtrouter.routing.saved import load_router
from irtrouter.serve import chat, responses
from irtrouter.serve.budgets import Budgets, limited_clients
from irtrouter.serve.capabilities import CapabilityFilter
from irtrouter.serve.config import AUTO_PROFILE, MODEL_PREFIX, ServeConfig, check_config
from irtrouter.serve.connections import ConnectionLimits
from irtrouter.serve.errors import APIError, api_error_from
from irtrouter.serve.health import ProviderHealth
from irtrouter.serve.learning import RouterVersions, admin_routes, explorer, live_router, parse_feedback
from irtrouter.serve.metrics import CountRequests, Metrics
from irtrouter.serve.overrides import RouteRequest, parse_request
from irtrouter.serve.routing import Routed, RoutingService
from irtrouter.serve.savings import Savings, actual_cost
from irtrouter.serve.sessions import Sessions
from irtrouter.serve.upstream import Upstreams, make_upstream
from irtrouter.store import DecisionRecord, DecisionStore, open_store, query_hash

log = logging.getLogger(__name__)

ENDPOINTS: tuple[str, ...] = ("/v1/chat/completions", "/v1/responses", "/v1/route", "/v1/feedback", "/v1/models")
ENDPOINTS += ("/healthz", "/metrics", "/admin/router")


@dataclass
class ServeSettings:
    """Everything ``create_app`` needs; nothing is read from globals.

    Parameters
    ----------
    config : ServeConfig
        The validated ``serve.yaml``.
    router : IRTRouter
        A fitted router (``load_router(dir)``), loaded once.
    db_url : str, optional
        Overrides ``config.storage.url`` (the CLI's ``--db``).
    environ : mapping, optional
        Where provider and client key variables are read (default ``os.environ``).
    transport : httpx.AsyncBaseTransport, optional
        Transport of the provider client (tests may intercept; default: real HTTP).
    router_dir : path, optional
        Where ``router`` was loaded from: its version is recorded with every decision.
    loader : callable, optional
        ``directory -> IRTRouter`` for promotions (default ``load_router``).
    watch : path, optional
        A pointer file naming the live router directory, polled every ``server.watch_interval``.
    """

    config: ServeConfig
    router: IRTRouter
    db_url: str | None = None
    environ: Mapping[str, str] | None = None
    transport: httpx.AsyncBaseTransport | None = None
    router_dir: str | os.PathLike[str] | None = None
    loader: Callable[[str], IRTRouter] = load_router
    watch: str | os.PathLike[str] | None = None


class _Service:
    """The per-app state the handlers share, built by the app's lifespan."""

    def __init__(self, settings: ServeSettings) -> None:
        config, router = settings.config, settings.router
        environ = os.environ if settings.environ is None else settings.environ
        check = check_config(config, router.llm_ids, environ, router=router)
        if not check.ok:
            raise ConfigError("serve config: " + "; ".join(check.problems))
        for warning in check.warnings:
            log.warning("%s", warning)
        self.config = config
        self.router = router
        self.routable = check.routable
        self.unroutable = check.unroutable
        self.metrics = Metrics()
        self.health = ProviderHealth(self.routable, config.limits)
        self.client_keys = config.auth.client_keys(environ)  # (key, client_key_id)
        self.admin_key = environ[config.auth.admin_key_env] if config.auth.admin_key_env else None
        self.environ, self.settings = environ, settings
        catalog = router.catalog_
        self.upstream_specs = {m: make_upstream(m, config.llms[m], catalog[m], environ) for m in self.routable}
        self.prices = {m: (catalog[m].input_price, catalog[m].output_price) for m in router.llm_ids}
        self.budgets = Budgets(limited_clients(config.auth))
        self.capabilities = CapabilityFilter.from_catalog(
            catalog, {m: config.llms[m].capabilities for m in check.routable}
        )
        self.sessions = Sessions.for_catalog(config.sessions, catalog)
        self.savings = Savings(config, router.llm_ids, self.routable, self.prices)
        self.db_url = settings.db_url or config.storage.url
        self.transport = settings.transport
        self.store: DecisionStore
        self.routing: RoutingService
        self.upstreams: Upstreams
        self._background: set[asyncio.Task[None]] = set()
        self.versions: RouterVersions
        self.watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        server = self.config.server
        storage = self.config.storage
        self.store = open_store(self.db_url, storage.synchronous, retention_days=storage.retention_days)
        await self.store.start()
        await asyncio.get_running_loop().run_in_executor(None, self.budgets.reconcile, self.db_url)
        self.routing = RoutingService(
            live_router(self.router, self.settings.router_dir),
            self.metrics,
            self.config.routing.default_max_tokens,
            server.routing_threads,
            server.max_batch,
            explorer(self.config),
        )
        self.versions = RouterVersions(self.routing, self.config, self.environ, self.metrics, self.settings.loader)
        await asyncio.get_running_loop().run_in_executor(None, self.routing.warm_up)
        self.routing.start()
        self.upstreams = Upstreams(self.upstream_specs, self.transport)
        where = (self.settings.router_dir, self.routing.live.version)
        log.info("%s", chat.startup_summary(self.config, *where, self.routable, self.db_url, len(self.client_keys)))
        if self.settings.watch is not None:  # never ends: cancelled by close(), not awaited with the rest
            self.watcher = asyncio.create_task(self.versions.watch(Path(self.settings.watch), server.watch_interval))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` to completion even if its caller is cancelled (the loop keeps only weak references)."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.upstreams.close()
        await self.routing.close()
        await self.store.close()

    # -- helpers used by the handlers ------------------------------------------------------------
    def authorize(self, request: Request) -> str | None:
        """The client key id of the request's key (None without authentication); 401 otherwise."""
        if not self.client_keys:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise APIError(401, "missing API key: send 'Authorization: Bearer KEY'", code="invalid_api_key")
        # Compare with every key in constant time, so the time taken says nothing about which matched.
        matched = None
        for known, client in self.client_keys:
            if hmac.compare_digest(key.encode(), known.encode()):
                matched = client
        if matched is None:
            raise APIError(401, "invalid API key", code="invalid_api_key")
        return matched

    async def read_json(self, request: Request) -> Any:
        limit = self.config.server.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise APIError(413, f"request body of {declared} bytes exceeds the limit of {limit}", code="body_too_large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise APIError(413, f"request body exceeds the limit of {limit} bytes", code="body_too_large")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise APIError(400, "the request body is empty: expected a JSON object", code="invalid_json")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # syntax, UTF-8, integer size, nesting: each named
            detail = json_error_reason(exc, raw)[0]
            raise APIError(400, f"the request body is not valid JSON ({detail})", code="invalid_json") from None
        _reject_lone_surrogates(body)
        return body

    def parse(self, body: Any, needs_model: bool) -> tuple[RouteRequest, dict[str, Any]]:
        return parse_request(body, self.config, self.router.llm_ids, self.routable, needs_model)

    def record(
        self,
        request_id: str,
        endpoint: str,
        request: RouteRequest,
        routed: Routed,
        routing: dict[str, Any],
        status: str,
        answered: str | None = None,
    ) -> DecisionRecord:
        """The decision row of a request; drift remembers the P-hat of the LLM that feedback will
        score: ``answered`` when a provider answered, else the chosen LLM."""
        d = routed.decision
        scored = d.llm_id if answered is None else answered
        self.metrics.drift.decided(request_id, scored, d.p_hat[d.llm_ids.index(scored)])
        return DecisionRecord(
            request_id=request_id,
            created_at=time.time(),
            endpoint=endpoint,
            profile=request.profile,
            query_hash=query_hash(request.query),
            query_text=request.query if self.config.storage.store_text else None,
            llm_id=d.llm_id,
            alpha=d.alpha,
            p_hat=dict(zip(d.llm_ids, d.p_hat, strict=True)),
            decision=routing,
            expected_input_tokens=routed.cost.input_tokens,
            expected_output_tokens=routed.cost.output_tokens,
            expected_cost_usd=routed.expected_usd(d.llm_id),
            cost_source=routed.cost.source,
            routing_ms=routed.seconds * 1000,
            status=status,
            router_version=routed.version,
            propensity=routed.propensity,
            query_embedding=routed.embedding_bytes() if self.config.storage.store_embedding else None,
            client_key_id=routed.client_key_id,
            session_id=None if routed.session is None else routed.session.id,
            reference_llm=(ref := self.savings.of(request.profile)),
            reference_cost_usd=routed.expected_usd(ref),
        )

    def outcome(
        self,
        request_id: str,
        endpoint: str,
        request: RouteRequest,
        routed: Routed,
        routing: dict[str, Any],
        answered: str | None,
        attempts: list[dict[str, Any]],
        status: str,
    ) -> DecisionRecord:
        """The decision row of a request sent to providers (``status`` when one answered)."""
        routing.update(answered_by=answered, attempts=attempts)
        record = self.record(request_id, endpoint, request, routed, routing, status if answered else "failed", answered)
        record.answered_by = answered
        record.attempts = attempts
        record.upstream_status = attempts[-1]["status"] if attempts else None
        return record

    async def save(self, record: DecisionRecord, *, update: bool = False) -> bool:
        """Commit a paid request's record (``update``: its outcome); False, logged and counted, if it failed."""
        self.savings.reprice(record)
        if record.cost_usd is not None:  # charged by the provider whether or not the row is written
            self.budgets.spent(record.client_key_id, record.cost_usd)
            self.metrics.spent(record.profile, record.cost_usd, record.reference_cost_usd)
        try:
            await (self.store.update_outcome(record) if update else self.store.add_decision(record))
        except StorageError as exc:
            log.error("request %s answered but not recorded: %s", record.request_id, exc)
            self.metrics.unsaved_record(record.endpoint)
            return False
        return True

    def actual_cost(self, llm_id: str, usage: Any) -> tuple[int | None, int | None, float | None]:
        return actual_cost(self.prices[llm_id], usage)


def _reject_lone_surrogates(body: Any) -> None:
    """400 for strings with an unpaired ``\\udXXX`` escape: valid JSON, but not text (UTF-8 cannot encode it)."""
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise APIError(
                    400,
                    "the request body contains an unpaired surrogate escape: not valid Unicode text",
                    code="invalid_json",
                ) from None
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def create_app(settings: ServeSettings) -> FastAPI:
    """Build the service for ``settings`` (validated against the router; nothing global).

    Raises
    ------
    ConfigError
        When the config does not fit the router or a key variable is unset
        (what ``irtrouter serve --check`` reports).
    """
    service = _Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="irtrouter",
        version=__version__,
        description="An OpenAI-compatible proxy that routes each request to the LLM with the best alpha*P - beta*cost.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(admin_routes(lambda: service.versions, service.admin_key))
    app.add_middleware(ConnectionLimits, limits=service.config.limits)  # inside the counter: its 503s count
    app.add_middleware(CountRequests, metrics=service.metrics, endpoints=ENDPOINTS)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.envelope(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(IRTRouterError)
    async def _library_error(request: Request, exc: IRTRouterError) -> JSONResponse:
        err = api_error_from(exc)
        if err.status >= 500:
            log.error("request failed: %s: %s", type(exc).__name__, exc)
        return JSONResponse(err.envelope(), status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = (
            f"no endpoint {request.method} {request.url.path}" if exc.status_code in (404, 405) else str(exc.detail)
        )
        err = APIError(exc.status_code, message, code="not_found" if exc.status_code == 404 else None)
        return JSONResponse(err.envelope(), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(APIError(400, f"invalid request: {exc.errors()}").envelope(), status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s: %s", request.url.path, type(exc).__name__, exc_info=exc)
        err = APIError(500, "internal error", type="server_error", code="internal_error")
        return JSONResponse(err.envelope(), status_code=500)

    @app.post("/v1/chat/completions", summary="Route and forward a chat completion")
    async def chat_completions(request: Request) -> Response:
        client = service.authorize(request)
        return await chat.complete(service, request, client, await service.read_json(request))

    responses.register(app, service)

    @app.post("/v1/route", summary="Routing decision only (no provider call)")
    async def route(request: Request) -> Response:
        return await chat.route_only(service, request)

    @app.post("/v1/feedback", summary="Record a score for a past request")
    async def feedback(request: Request) -> JSONResponse:
        service.authorize(request)
        request_id, score, comment = parse_feedback(await service.read_json(request))
        row = await service.store.add_feedback(request_id, score, comment)
        if row is None:
            raise APIError(404, f"no request {request_id!r}", param="request_id", code="request_not_found")
        service.metrics.drift.scored(request_id, score)
        return JSONResponse(
            {"object": "irtrouter.feedback", "id": row, "request_id": request_id, "score": float(score)}
        )

    @app.get("/v1/models", summary="Profiles and routable LLMs")
    async def models(request: Request) -> JSONResponse:
        service.authorize(request)
        ids = [MODEL_PREFIX + AUTO_PROFILE, *(MODEL_PREFIX + p for p in service.config.profiles), *service.routable]
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "irtrouter"} for i in ids]
        return JSONResponse({"object": "list", "data": data})

    @app.get("/healthz", summary="Liveness, router and database")
    async def healthz() -> JSONResponse:
        db_problem = await service.store.probe()  # a real write through the group commit
        db_ok = db_problem is None
        body = {
            "status": "ok" if db_ok else "degraded",
            "version": __version__,
            "worker_pid": os.getpid(),  # which process answered, with server.workers > 1
            "router": service.versions.describe(),
            "routable_llms": list(service.routable),
            "unroutable_llms": list(service.unroutable),
            "database": "ok" if db_ok else "unwritable",
            **({} if db_ok else {"database_error": db_problem}),
        }
        return JSONResponse(body, status_code=200 if db_ok else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> PlainTextResponse:
        text = service.metrics.render(service.routing.live.version) + service.health.render()
        text += "\n".join(service.budgets.lines()) + "\n"
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app
