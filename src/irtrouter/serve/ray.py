"""The service as a Ray Serve deployment: the same FastAPI app, N replicas, one decision log.

Each replica is a Ray actor that loads the router once and builds the app of
:func:`irtrouter.serve.app.create_app` (Ray Serve's late-bound ingress,
``__serve_build_asgi_app__``, so the router is loaded on the replica, not pickled from the
driver); Ray Serve's HTTP proxy spreads the requests over the replicas and runs each app's
lifespan (store opened, routing warmed up). Every replica writes the store at ``storage.url``
(or ``db_url``): a SQLite file is shared safely by the replicas of one host (WAL mode, a
``busy_timeout`` for the write lock); replicas on several hosts need a store they can all reach,
PostgreSQL (``docs/scale.md``).

The ``ray:`` section of ``serve.yaml`` (:class:`~irtrouter.serve.config.RayConfig`) sets the
replicas (or the autoscaler's range) and the CPUs each reserves. Provider and client keys are
read from each replica's environment (the driver's, on a Ray started here; on a cluster, set
them on the nodes or in a ``runtime_env``), unless ``environ`` is given.

What stays with plain ``irtrouter serve``: uvicorn's own limits (``limits.header_timeout_s`` and
the keep-alive timeout), which Ray Serve's proxy replaces with its own.

Examples
--------
>>> from irtrouter.serve.config import load_config  # doctest: +SKIP
>>> run_service("my-router", load_config("serve.yaml"), port=8000, replicas=2)  # doctest: +SKIP

The same as a Ray Serve application, for ``serve.run`` or a Serve config file::

    app = build_app("my-router", load_config("serve.yaml"))
    serve.run(app, name="irtrouter", route_prefix="/")
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ray
from ray import serve

from irtrouter.serve.app import create_app
from irtrouter.serve.config import RayConfig, ServeConfig, parse_config
from irtrouter.serve.workers import limited_settings

log = logging.getLogger(__name__)

APP_NAME = "irtrouter"
DEPLOYMENT_NAME = "IRTRouterService"


@serve.deployment(name=DEPLOYMENT_NAME)
@serve.ingress()
class IRTRouterService:
    """One replica: the router loaded once, the app built around it.

    Parameters
    ----------
    router_dir : str
        The saved router (read on the replica's host).
    config : dict
        The validated ``serve.yaml`` as plain data (``ServeConfig.model_dump(exclude_unset=True)``,
        the keys as given), validated again here: plain data crosses to the replica without
        importing this package first (with a config object the replicas failed to start: an
        ImportError from a partially initialised ``irtrouter.serve`` while unpickling).
    db_url : str, optional
        Overrides ``config.storage.url``.
    environ : mapping, optional
        Where key variables are read (default: the replica's ``os.environ``).
    """

    def __init__(
        self,
        router_dir: str,
        config: dict[str, Any],
        db_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # Few BLAS threads for one-query products, as every process serves; replicas are the parallelism.
        settings = limited_settings(parse_config(config), router_dir, db_url=db_url, environ=environ)
        self._app = create_app(settings)

    def __serve_build_asgi_app__(self) -> Any:
        return self._app


def deployment_options(ray_config: RayConfig, limits_concurrency: int | None, replicas: int | None = None) -> dict:
    """Ray Serve options of the deployment from the ``ray:`` section (``replicas`` overrides it).

    Examples
    --------
    >>> deployment_options(RayConfig(replicas=2, num_cpus=0.5), 512)
    {'ray_actor_options': {'num_cpus': 0.5}, 'max_ongoing_requests': 512, 'num_replicas': 2}
    """
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": ray_config.num_cpus},
        # Ray Serve's default (5 in progress per replica) would queue an I/O-bound proxy at the
        # door; the service's own limit is what bounds it.
        "max_ongoing_requests": limits_concurrency or 10_000,
    }
    scaling = ray_config.autoscaling
    if replicas is not None or scaling is None:
        options["num_replicas"] = replicas if replicas is not None else ray_config.replicas
    else:
        options["autoscaling_config"] = {
            "min_replicas": scaling.min_replicas,
            "max_replicas": scaling.max_replicas,
            "target_ongoing_requests": scaling.target_ongoing_requests,
        }
    return options


def build_app(
    router_dir: str,
    config: ServeConfig,
    *,
    db_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    replicas: int | None = None,
) -> Any:
    """The Ray Serve application (``serve.run(build_app(...))``)."""
    options = deployment_options(config.ray, config.limits.max_concurrency, replicas)
    return IRTRouterService.options(**options).bind(  # type: ignore[attr-defined]
        str(router_dir), config.model_dump(exclude_unset=True), db_url, None if environ is None else dict(environ)
    )


def run_service(
    router_dir: str,
    config: ServeConfig,
    *,
    address: str | None = None,
    host: str | None = None,
    port: int | None = None,
    replicas: int | None = None,
    db_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    blocking: bool = True,
) -> str:
    """Start the deployment on Ray (a running cluster at ``address``, else a local Ray) and return
    the base URL; ``blocking`` waits until interrupted, then shuts Serve and Ray down."""
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False)
    host = host or config.server.host
    port = config.server.port if port is None else port
    serve.start(http_options={"host": host, "port": port})
    serve.run(
        build_app(router_dir, config, db_url=db_url, environ=environ, replicas=replicas),
        name=APP_NAME,
        route_prefix="/",
        blocking=False,
    )
    url = f"http://{host}:{port}"
    log.info("irtrouter on Ray Serve at %s", url)
    if blocking:
        import signal
        import time

        # SIGTERM (systemd, docker stop) must reach the finally below, or the Ray started here
        # outlives the command.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            while True:
                time.sleep(3600)
        finally:
            serve.shutdown()
            ray.shutdown()
    return url


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
