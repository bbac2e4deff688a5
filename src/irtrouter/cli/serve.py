"""``irtrouter serve``: run the OpenAI-compatible routing proxy."""

from __future__ import annotations

import click

from irtrouter.errors import ConfigError


@click.command()
@click.argument("router_dir", metavar="DIR")
@click.option(
    "--config",
    "config_path",
    required=True,
    metavar="YAML",
    envvar="IRTROUTER_SERVE_CONFIG",
    help="Service config (providers, routing defaults, profiles, keys, storage). Env: IRTROUTER_SERVE_CONFIG.",
)
@click.option("--check", is_flag=True, help="Validate the config against the router and the environment, then exit.")
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="IRTROUTER_DB_URL",
    help="Decision database URL, overriding storage.url (sqlite:///PATH or postgresql://USER@HOST/DBNAME). "
    "Env: IRTROUTER_DB_URL.",
)
@click.option("--host", default=None, help="Interface to listen on (default: server.host, 127.0.0.1).")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port (default: server.port, 8000; 0 picks a free one).",
)
@click.option(
    "--watch",
    "watch",
    metavar="POINTER_FILE",
    type=click.Path(dir_okay=False),
    help="A file holding the path of the live router directory: when it changes, the service loads that "
    "router and switches to it without a restart (relative paths are from the file's folder; write the "
    "directory first, then the file). A failed load keeps the old router serving.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request line.")
@click.option(
    "--ray",
    "on_ray",
    is_flag=True,
    help="Run as a Ray Serve deployment (the config's 'ray:' section: replicas or autoscaling, CPUs each); "
    "see docs/scale.md.",
)
@click.option("--replicas", type=click.IntRange(1), default=None, help="With --ray: replicas (over ray.replicas).")
@click.option("--address", default=None, help="With --ray: the Ray cluster to deploy on (default: start a local Ray).")
def serve(
    router_dir: str,
    config_path: str,
    check: bool,
    db_url: str | None,
    host: str | None,
    port: int | None,
    watch: str | None,
    access_log: bool,
    on_ray: bool,
    replicas: int | None,
    address: str | None,
) -> None:
    """Serve the router saved in DIR as an OpenAI-compatible chat-completions proxy.

    Clients call POST /v1/chat/completions with model "irtrouter/auto" (or "irtrouter/PROFILE", or
    an LLM id) and optional "alpha" (or "preference", or "budget"), "rule", "allowed_llms" and
    "max_cost" fields; the service routes each request, forwards it to the chosen LLM's provider
    (falling back to the next-best LLM on provider failures) and records the decision in the
    decision store (SQLite, or PostgreSQL shared by replicas) before answering. Also: POST
    /v1/route, POST /v1/feedback, GET /v1/models, GET /healthz, GET /metrics. With server.workers
    N in the config, N worker processes share the port and the store (docs/serve.md). See
    examples/serve.yaml and docs/scale.md.

    \b
    Examples:
      irtrouter serve my-router --config serve.yaml --check
      irtrouter serve my-router --config serve.yaml --port 8000
      irtrouter serve my-router --config serve.yaml --watch live-router.txt
      irtrouter serve my-router --config serve.yaml --ray --replicas 4
    """
    if not on_ray and (replicas is not None or address is not None):
        raise click.UsageError("--replicas and --address go with --ray")
    if on_ray and watch is not None:
        raise click.UsageError("--watch is not offered with --ray: redeploy with the new router instead")
    from irtrouter.routing.saved import load_router
    from irtrouter.serve.config import check_config, load_config
    from irtrouter.store import backend_of, open_store, redact_url

    config = load_config(config_path)
    router = load_router(router_dir)
    if db_url is not None:
        backend_of(db_url)  # validate the URL now, not at start-up
    store_url = db_url or config.storage.url
    result = check_config(config, router.llm_ids, router=router, db_url=db_url)
    if check:
        click.echo(f"router {router_dir}: {len(router.llm_ids)} LLMs; routable: {', '.join(result.routable) or 'none'}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}")
    if not result.ok:
        raise ConfigError(f"{config_path}: " + "; ".join(result.problems))
    if not check:
        for warning in result.warnings:
            click.echo(f"irtrouter serve: warning: {warning}", err=True)
    # Opened (created or migrated if needed) and a write committed, what serving will need: an
    # unopenable or unwritable store is one line and a non-zero exit here, not a traceback later.
    open_store(store_url, config.storage.synchronous).check()
    if check:
        click.echo(f"decision store {redact_url(store_url)}: OK (opened, a write committed)")
        click.echo(f"{config_path}: OK")
        return
    if on_ray:
        if config.server.workers > 1:
            raise ConfigError("server.workers is for uvicorn; with --ray set ray.replicas instead")
        try:
            from irtrouter.serve.ray import run_service
        except ImportError as exc:
            raise ConfigError(f"irtrouter serve --ray needs Ray Serve ({exc}): pip install 'irtrouter[ray]'") from None
        run_service(router_dir, config, address=address, host=host, port=port, replicas=replicas, db_url=db_url)
        return

    try:
        import uvicorn  # noqa: F401  (checked here: one line, not a traceback)

        from irtrouter.serve.workers import WorkerSpec, run
    except ImportError as exc:
        raise ConfigError(
            f"irtrouter serve needs FastAPI and uvicorn ({exc}): pip install 'irtrouter[serve]'"
        ) from None

    spec = WorkerSpec(router_dir=router_dir, config_path=config_path, db_url=db_url, watch=watch)
    run(spec, config, router, host or config.server.host, config.server.port if port is None else port, access_log)


command = serve
