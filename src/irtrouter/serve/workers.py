"""Running the service: one process, or ``server.workers`` uvicorn worker processes on one port.

One Python process embeds with about one core whatever the machine has (the encoder holds the
GIL between its small products, and one BLAS thread per call is what busy cores want:
:func:`limit_blas_threads`), so using N cores takes N processes. With ``server.workers: N``
uvicorn binds the port once and starts N worker processes that accept on it; each builds its own
app through :func:`app_from_environ`, a factory uvicorn imports by name, from a
:class:`WorkerSpec` handed over in the ``IRTROUTER_SERVE_WORKER`` environment variable: paths
and the ``--db`` URL (which may hold a database password: it travels in the environment only,
and nothing here logs the spec). Provider and client keys are not in it; they stay in the
variables the config names, read by each worker. ``irtrouter serve`` opens the store (creating or
migrating its schema) before the workers start, so they never race to create it. Measured on 2
shared cores, two workers did not pay (docs/BENCHMARKS.md, "Service overhead and workers"): one
process batches the requests that wait together, two split the batch; they are for idle cores.

Per worker process: the router (each loads it, so memory grows by one router per worker), the
routing queue and its batching, the sessions, the client budgets' running spend and rate limits
(each reconciles the day's spend from the store when it starts, then counts its own requests), the
provider health and circuit breakers, exploration's random draws, the metrics (a ``/metrics``
scrape sees the worker that answered it) and the router version (promote with ``--watch``, which
every worker polls: ``POST /admin/router`` reaches only the worker that accepted it). Shared: the
port and the decision store. SQLite in WAL mode takes one writer at a time: each worker's group
commit takes the write lock for one short transaction and the others wait on SQLite's
``busy_timeout`` (5 s) rather than fail, so every acknowledged decision is written once.

Examples
--------
>>> spec = WorkerSpec(router_dir="my-router", config_path="serve.yaml")
>>> WorkerSpec.from_json(spec.to_json()) == spec
True
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from irtrouter.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from irtrouter.routing.router import IRTRouter
    from irtrouter.serve.app import ServeSettings
    from irtrouter.serve.config import ServeConfig

#: The environment variable that carries a :class:`WorkerSpec` to uvicorn's worker processes.
WORKER_ENV = "IRTROUTER_SERVE_WORKER"


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to build the app: where the router and the config are."""

    router_dir: str
    config_path: str
    db_url: str | None = None
    watch: str | None = None
    header_timeout_s: float | None = None  # limits.header_timeout_s, for the workers' HTTP protocol

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        return cls(**json.loads(text))


def limit_blas_threads(router: IRTRouter, threads: int) -> None:
    """Few BLAS threads for the one-query matrix products of routing, in this whole process.

    Measured on 2 shared cores: USE embeds a query in ~7 ms with 1 BLAS thread and ~75 ms with
    2, because OpenBLAS threads spin waiting for each other on small products when the cores are
    busy; a server is busy by definition. Worker processes, not BLAS threads, are what use
    several cores.
    """
    from threadpoolctl import threadpool_limits

    from irtrouter.embed.registry import make_embedder

    threadpool_limits(limits=threads, user_api="blas")
    if router.embedder_spec_:  # rebuilt (lazily, nothing loaded yet) with the thread count it uses per call
        router.embedder_ = make_embedder(router.embedder_spec_, threads=threads)


def settings_for(spec: WorkerSpec, router: IRTRouter | None = None, config: ServeConfig | None = None) -> ServeSettings:
    """The app's settings for ``spec`` (``router``, ``config``: already loaded), BLAS threads limited."""
    from irtrouter.serve.config import load_config

    config = load_config(spec.config_path) if config is None else config
    return limited_settings(config, spec.router_dir, router, db_url=spec.db_url, watch=spec.watch)


def limited_settings(
    config: ServeConfig,
    router_dir: str,
    router: IRTRouter | None = None,
    *,
    db_url: str | None = None,
    watch: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServeSettings:
    """The app's settings with ``server.blas_threads`` applied in this process, to ``router``
    (loaded from ``router_dir`` when None) and to every router promoted later: what one process,
    each worker and each Ray replica serve with."""
    from irtrouter.routing.saved import load_router
    from irtrouter.serve.app import ServeSettings

    threads = config.server.blas_threads
    router = load_router(router_dir) if router is None else router
    limit_blas_threads(router, threads)

    def loader(directory: str) -> IRTRouter:  # a promoted router gets what the first one got
        loaded = load_router(directory)
        limit_blas_threads(loaded, threads)
        return loaded

    return ServeSettings(
        config=config, router=router, db_url=db_url, environ=environ, router_dir=router_dir, loader=loader, watch=watch
    )


def app_from_environ() -> FastAPI:
    """The app of one worker process (uvicorn's factory): the spec in ``IRTROUTER_SERVE_WORKER``."""
    from irtrouter.serve.app import create_app

    spec = _spec_from_environ()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("irtrouter.serve.app").setLevel(logging.INFO)  # its one start-up summary line
    return create_app(settings_for(spec))


def _spec_from_environ() -> WorkerSpec:
    text = os.environ.get(WORKER_ENV)
    if not text:
        raise ConfigError(f"{WORKER_ENV} is not set: worker processes are started by 'irtrouter serve'")
    return WorkerSpec.from_json(text)


def run(spec: WorkerSpec, config: ServeConfig, router: IRTRouter, host: str, port: int, access_log: bool) -> None:
    """Serve until stopped: ``router`` in this process, or ``server.workers`` processes that load their own."""
    import uvicorn

    from irtrouter.serve.connections import uvicorn_options

    # Slow clients must not hold connections open forever: keep-alive, header and body deadlines.
    options: dict[str, Any] = {"access_log": access_log, "log_level": "info", **uvicorn_options(config.limits)}
    workers = config.server.workers
    if workers == 1:
        from irtrouter.serve.app import create_app

        app = create_app(settings_for(spec, router, config))
        logging.getLogger("irtrouter.serve.app").setLevel(logging.INFO)  # its one start-up summary line
        uvicorn.run(app, host=host, port=port, **options)
        return
    # Each worker loads its own router (the parent's was only checked: no encoder built) and keys.
    # uvicorn pickles its settings for the workers it spawns: the protocol class with the header
    # deadline (built in a function, so not picklable) goes by name, and is rebuilt in each worker.
    os.environ[WORKER_ENV] = replace(spec, header_timeout_s=config.limits.header_timeout_s).to_json()
    options["http"] = f"{__name__}:{_HTTP_PROTOCOL}"
    uvicorn.run(f"{__name__}:app_from_environ", factory=True, workers=workers, host=host, port=port, **options)


_HTTP_PROTOCOL = "HeaderDeadlineProtocol"


def __getattr__(name: str) -> Any:
    """``HeaderDeadlineProtocol``: uvicorn's ``http`` class of a worker, with the spec's header deadline."""
    if name == _HTTP_PROTOCOL:
        from irtrouter.serve.connections import http_protocol

        timeout = _spec_from_environ().header_timeout_s
        return http_protocol(10.0 if timeout is None else timeout)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
