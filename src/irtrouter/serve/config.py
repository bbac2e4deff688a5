"""The service's configuration: one YAML file, validated, unknown keys rejected.

A complete example with every key is ``examples/serve.yaml``. In short::

    llms:                              # one entry per router LLM the service may call
      gpt-4o:
        base_url: https://api.openai.com/v1
        model: gpt-4o-2024-08-06       # the provider's model name (default: catalog provider_model)
        api_key_env: OPENAI_API_KEY    # env var holding the provider key (none: no auth header)
        timeout: {connect: 5, read: 60}
        request_defaults: {}           # body fields sent unless the client sets them
        extra_body: {}                 # body fields always sent (win over the client's)
    routing: {alpha: 0.8, allowed_llms: null, max_cost: null, rule: null, budget: null, fallback_attempts: 1,
              exploration: {method: epsilon, share: 0.0, top_k: 3, seed: null}}   # share > 0: explore
    profiles: {cheap: {alpha: 0.3}, capped: {rule: chebyshev, budget: 0.3}}   # model "irtrouter/cheap"
    auth: {api_keys_env: [IRTROUTER_API_KEY], admin_key_env: IRTROUTER_ADMIN_KEY}   # admin: POST /admin/router
    storage: {url: "sqlite:///irtrouter-serve.sqlite", store_text: false, store_embedding: true, synchronous: normal,
              retention_days: null}       # url: or postgresql://USER@HOST:5432/DBNAME (docs/scale.md)
    server: {host: 127.0.0.1, port: 8000, max_body_bytes: 1048576}
    limits: {request_deadline_s: 300, max_concurrency: 512, header_timeout_s: 10, body_timeout_s: 30}
    ray: {replicas: 2, num_cpus: 1, autoscaling: null}   # irtrouter serve --ray (docs/scale.md)

Router LLMs without an ``llms`` entry are *unroutable*: the service never sends to them, and
``irtrouter serve --check`` lists them.

Over 450 lines: one validated model per section of ``serve.yaml`` and the checks across them,
kept in one module so that it stays the one reference for every key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from irtrouter.embed.base import MAX_CHARS
from irtrouter.errors import ConfigError
from irtrouter.store.backends import backend_of

if TYPE_CHECKING:
    from irtrouter.routing.router import IRTRouter

AUTO_PROFILE = "auto"
MODEL_PREFIX = "irtrouter/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    """Seconds: opening the connection, between two received bytes, sending, waiting for a pooled connection."""

    connect: float = Field(default=5.0, gt=0)
    read: float = Field(default=60.0, gt=0)
    write: float = Field(default=30.0, gt=0)
    pool: float = Field(default=5.0, gt=0)


class CapabilityFields(_Strict):
    """What an LLM supports, set per deployment over the catalog (None: the catalog's value)."""

    tools: bool | None = None
    vision: bool | None = None
    json_schema: bool | None = None
    context_window: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)


class UpstreamLLM(_Strict):
    """How to reach one router LLM at its provider (any OpenAI-compatible chat-completions API)."""

    base_url: str
    model: str | None = None
    api_key_env: str | None = None
    timeout: Timeouts = Field(default_factory=Timeouts)
    request_defaults: dict[str, Any] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    # What this deployment supports, over the catalog's fields (irtrouter.serve.capabilities).
    capabilities: CapabilityFields = Field(default_factory=CapabilityFields)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("request_defaults", "extra_body")
    @classmethod
    def _no_model_or_stream(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The proxy owns these two: `model` names the provider model, `stream` follows the client.
        taken = sorted({"model", "messages", "stream"} & set(value))
        if taken:
            raise ValueError(f"cannot set {taken}: the service sets them")
        return value


class Exploration(_Strict):
    """Exploration of a policy: with probability ``share``, route to one of the ``top_k`` allowed
    LLMs by score, drawn uniformly (epsilon over the top-k), so that LLMs the rule rarely picks
    still get feedback. Off by default (``share`` 0).

    The probability with which the chosen LLM was picked is exact: ``1 - share + share / k`` for
    the rule's own choice, ``share / k`` for each other candidate, ``k = min(top_k, allowed)``
    (:class:`irtrouter.serve.routing.Explorer`). ``seed`` (only under ``routing``) seeds the one
    generator of the service; None draws it from the operating system.
    """

    method: Literal["epsilon"] = "epsilon"
    share: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    top_k: int = Field(default=3, ge=2, le=64)
    seed: int | None = Field(default=None, ge=0)

    @field_validator("method", mode="before")
    @classmethod
    def _no_thompson(cls, value: Any) -> Any:
        # Thompson sampling's propensity (the chance that a posterior draw ranks the LLM first)
        # has no closed form: it could only be estimated, and the log promises exact ones.
        if value == "thompson":
            raise ValueError(
                "thompson is not offered: its propensities can only be estimated by simulation and every "
                "decision records an exact one; use epsilon"
            )
        return value


class RoutingPolicy(_Strict):
    """The trade-off a request is routed with; a profile is a named policy.

    ``rule`` is the routing rule (None: the router's own, ``router.rule``); ``budget`` is RADAR's
    hard budget mode, a mean cost per query (expected USD when the router's cost model estimates
    USD, else normalised cost) that the trade-off is calibrated to, in place of ``alpha``.
    """

    alpha: float = Field(default=0.8, ge=0, le=1)
    allowed_llms: list[str] | None = None
    max_cost: float | None = Field(default=None, gt=0, description="most expected USD per request")
    rule: str | None = None
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="mean cost per query")
    exploration: Exploration = Field(default_factory=Exploration)
    # Savings are reported against this LLM (None: the dearest allowed by catalog prices).
    reference_llm: str | None = None

    @model_validator(mode="after")
    def _one_trade_off(self) -> RoutingPolicy:
        if self.budget is not None and "alpha" in self.model_fields_set:
            raise ValueError("give either alpha or budget, not both (a budget sets the trade-off)")
        return self

    def allowed(self, router_llms: Sequence[str], routable: Sequence[str]) -> list[str]:
        """The LLMs this policy may route to: the routable ones it allows, in the router's order."""
        allowed = set(routable) if self.allowed_llms is None else set(routable) & set(self.allowed_llms)
        return [m for m in router_llms if m in allowed]


class RoutingConfig(RoutingPolicy):
    """Defaults (the ``irtrouter/auto`` profile) and how requests become routing queries."""

    query_text: Literal["last_user", "system_and_last_user"] = "last_user"
    # The router embeds at most this many characters of a query (head and tail of a longer one,
    # irtrouter.embed.base.cap_text): a 1 MB prompt took 91 s and 4.5 GB to embed whole, holding
    # every other request behind it. The library's own default (embed.base.MAX_CHARS), measured to
    # lose no routing quality on any benchmark while bounding the embedding's p99 (issue 16).
    # None: no cap here (the embedder's own cap still applies).
    max_query_chars: int | None = Field(default=MAX_CHARS, ge=64)
    default_max_tokens: int = Field(default=512, ge=1)
    fallback_attempts: int = Field(default=1, ge=0, le=5)


class ClientConfig(_Strict):
    """One named client key with its limits (irtrouter.serve.budgets); None: no limit."""

    key_env: str
    daily_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    monthly_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    requests_per_minute: int | None = Field(default=None, ge=1)


class AuthConfig(_Strict):
    """Client keys. None configured: no authentication (local use)."""

    api_keys_env: list[str] = Field(default_factory=list)
    api_keys: list[str] = Field(default_factory=list, repr=False)
    # Named client keys with spend budgets and rate limits; the name is the recorded client_key_id.
    clients: dict[str, ClientConfig] = Field(default_factory=dict)
    # The admin endpoints (POST /admin/router) take this key only; none: they are off (403).
    admin_key_env: str | None = None

    def client_keys(self, environ: Mapping[str, str]) -> list[tuple[str, str]]:
        """``(key, client_key_id)`` for every accepted client key (unset variables are skipped)."""
        out = [(k, "key-" + hashlib.sha256(k.encode()).hexdigest()[:10]) for k in self.api_keys if k]
        out += [(environ[v], v) for v in self.api_keys_env if environ.get(v)]
        out += [(environ[c.key_env], name) for name, c in self.clients.items() if environ.get(c.key_env)]
        return out


class StorageConfig(_Strict):
    # sqlite:///PATH (one host) or postgresql://USER@HOST:PORT/DBNAME (replicas sharing one log).
    url: str = "sqlite:///irtrouter-serve.sqlite"
    store_text: bool = False
    # The routed query's embedding (float32, 4 x dim bytes a row), what learning from traffic
    # needs; kept even without store_text, since it does not give the text back.
    store_embedding: bool = True
    synchronous: Literal["normal", "full"] = "normal"
    # Decisions and feedback older than this are deleted by the writer (hourly); None keeps all.
    retention_days: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        backend_of(value)  # ConfigError (a ValueError) naming the accepted forms
        return value


class SessionsConfig(_Strict):
    """Conversations that stay on their LLM (irtrouter.serve.sessions)."""

    enabled: bool = True
    ttl_s: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    max_sessions: int = Field(default=100_000, ge=1)
    # Switch only when the new LLM's score beats the session LLM's by more than this (score units).
    switch_margin: float = Field(default=0.05, ge=0, allow_inf_nan=False)
    # Also count the prompt-cache discount the session LLM would give (catalog cache_read_price).
    cache_miss_cost: bool = True


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    routing_threads: int = Field(default=1, ge=1, le=32)
    blas_threads: int = Field(default=1, ge=1, le=64)
    max_batch: int = Field(default=32, ge=1, le=1024)
    # uvicorn worker processes on the one port, each with its own router (irtrouter.serve.workers).
    workers: int = Field(default=1, ge=1, le=64)
    # Seconds between two reads of the --watch pointer file.
    watch_interval: float = Field(default=1.0, gt=0, le=3600)


class LimitsConfig(_Strict):
    """What one request, one connection and one provider may cost the service (issue 14, 5-6).

    ``request_deadline_s`` bounds a request's provider calls together (every attempt, a stream
    to its end). A request makes at most ``1 + routing.fallback_attempts`` provider calls, and
    ``retry_budget`` caps fallbacks at that share of the requests of the last
    ``retry_budget_window_s`` seconds (``retry_budget_min`` always allowed per window), so a
    failing provider cannot multiply the load on the others. A provider LLM failing
    ``eject_after_failures`` times in a row is skipped for ``eject_cooldown_s``, then one probe
    request decides. ``header_timeout_s`` / ``body_timeout_s`` cut off a client that sends half a
    request; ``max_concurrency`` requests in progress at most (beyond: 503), None: no limit.
    """

    request_deadline_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    max_concurrency: int | None = Field(default=512, ge=1)
    header_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    body_timeout_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    retry_budget: float = Field(default=0.2, ge=0, le=1)
    retry_budget_window_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    retry_budget_min: int = Field(default=10, ge=0)
    eject_after_failures: int = Field(default=5, ge=1)
    eject_cooldown_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)


class RayAutoscaling(_Strict):
    """Ray Serve's autoscaler: between ``min_replicas`` and ``max_replicas``, aiming at
    ``target_ongoing_requests`` requests in progress per replica."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=4, ge=1)
    target_ongoing_requests: float = Field(default=32.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> RayAutoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}")
        return self


class RayConfig(_Strict):
    """The service as a Ray Serve deployment (``irtrouter serve --ray``, :mod:`irtrouter.serve.ray`):
    ``replicas`` fixed replicas, or ``autoscaling``; each replica reserves ``num_cpus``."""

    replicas: int = Field(default=1, ge=1, le=1024)
    num_cpus: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    autoscaling: RayAutoscaling | None = None

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> RayConfig:
        if self.autoscaling is not None and "replicas" in self.model_fields_set:
            raise ValueError("give either replicas or autoscaling, not both (the autoscaler sets the count)")
        return self


class ServeConfig(_Strict):
    """The whole ``serve.yaml``."""

    llms: dict[str, UpstreamLLM]
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    profiles: dict[str, RoutingPolicy] = Field(default_factory=dict)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    @field_validator("llms")
    @classmethod
    def _some_llm(cls, value: dict[str, UpstreamLLM]) -> dict[str, UpstreamLLM]:
        if not value:
            raise ValueError("configure at least one LLM")
        return value

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, value: dict[str, RoutingPolicy]) -> dict[str, RoutingPolicy]:
        if AUTO_PROFILE in value:
            raise ValueError(f"{AUTO_PROFILE!r} is the defaults profile: set it under 'routing'")
        seeded = sorted(name for name, p in value.items() if p.exploration.seed is not None)
        if seeded:
            raise ValueError(f"{seeded[0]}.exploration.seed: the service has one generator, seed it in routing")
        return value


def parse_config(raw: Any, source: str = "serve config") -> ServeConfig:
    """Validate already-parsed YAML; any problem is one :class:`ConfigError` line naming the key.

    Examples
    --------
    >>> parse_config({"llms": {"big": {"base_url": "http://127.0.0.1:9/v1"}}}).routing.alpha
    0.8
    >>> parse_config({"llms": {}, "colour": "red"})
    Traceback (most recent call last):
    ...
    irtrouter.errors.ConfigError: serve config: llms: configure at least one LLM; colour: unknown key
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return ServeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_one_line(exc)}") from None


def load_config(path: str | Path) -> ServeConfig:
    """Read and validate ``serve.yaml``."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    return parse_config(raw, str(path))


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ConfigCheck:
    """What ``serve --check`` found: problems stop the service, warnings do not."""

    routable: tuple[str, ...]
    unroutable: tuple[str, ...]
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_config(
    config: ServeConfig,
    router_llms: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    router: IRTRouter | None = None,
    db_url: str | None = None,
) -> ConfigCheck:
    """Check ``config`` against the router's LLMs and the environment.

    Problems: an LLM configured that the router does not know, a profile (or the defaults)
    allowing an unknown or unroutable LLM, an unset provider or client key variable, no routable
    LLM. Warnings: router LLMs without an ``llms`` entry (never called); no client keys on a host
    that is not a loopback address.

    With the loaded ``router``, each policy's ``rule`` must be one of ``router.rules`` and its
    ``budget`` must calibrate (:meth:`~irtrouter.routing.router.IRTRouter.calibrate_budget`: not
    below what the cheapest routing spends, not with the ``policy`` rule), which also spares the
    first request that calibration.

    Examples
    --------
    >>> cfg = parse_config({"llms": {"a": {"base_url": "http://127.0.0.1:9/v1"}}})
    >>> check_config(cfg, ["a", "b"]).unroutable
    ('b',)
    """
    env = os.environ if environ is None else environ
    known = set(router_llms)
    routable = tuple(m for m in router_llms if m in config.llms)
    unroutable = tuple(m for m in router_llms if m not in config.llms)
    problems = [
        f"llms.{m}: the router has no LLM {m!r} (it knows {', '.join(router_llms)})"
        for m in config.llms
        if m not in known
    ]
    policies: list[tuple[str, RoutingPolicy]] = [("routing", config.routing)]
    policies += [(f"profiles.{name}", p) for name, p in config.profiles.items()]
    for where, policy in policies:
        for m in policy.allowed_llms or ():
            if m not in known:
                problems.append(f"{where}.allowed_llms: unknown LLM {m!r}")
            elif m not in config.llms:
                problems.append(f"{where}.allowed_llms: {m!r} is unroutable (no 'llms' entry)")
        ref = policy.reference_llm
        if ref is not None and ref not in known:
            problems.append(f"{where}.reference_llm: unknown LLM {ref!r}")
        if policy.allowed_llms == []:
            problems.append(f"{where}.allowed_llms: empty (omit it to allow every LLM)")
        elif router is not None:
            problems += _check_rule_and_budget(where, policy, router, policy.allowed(router_llms, routable))
    unset: dict[str, list[str]] = {}
    for m, up in config.llms.items():
        if up.api_key_env and not env.get(up.api_key_env):
            unset.setdefault(up.api_key_env, []).append(f"llms.{m}")
    for var in config.auth.api_keys_env:
        if not env.get(var):
            unset.setdefault(var, []).append("auth")
    for name, client in config.auth.clients.items():
        if not env.get(client.key_env):
            unset.setdefault(client.key_env, []).append(f"auth.clients.{name}")
    admin_var = config.auth.admin_key_env
    if admin_var and not env.get(admin_var):
        unset.setdefault(admin_var, []).append("auth.admin_key_env")
    elif admin_var and env[admin_var] in {key for key, _ in config.auth.client_keys(env)}:
        problems.append(f"auth.admin_key_env: {admin_var} holds a client key; the admin key must be its own")
    problems += [
        f"environment variable {var} is not set (needed by {', '.join(users)})" for var, users in unset.items()
    ]
    if not routable:
        problems.append("no router LLM is configured under 'llms': nothing can be routed")
    if config.server.workers > 1 and (db_url or config.storage.url).endswith(":memory:"):
        problems.append("server.workers > 1 needs a database file or PostgreSQL: each worker would get its own memory")
    warnings = [f"unroutable (no 'llms' entry, never called): {', '.join(unroutable)}"] if unroutable else []
    if config.server.workers > 1 and admin_var:
        warnings.append(
            f"server.workers is {config.server.workers}: POST /admin/router promotes the router of the one worker "
            "that answers it; use --watch to promote every worker"
        )
    keyed = config.auth.api_keys or config.auth.api_keys_env or config.auth.clients
    if not keyed and not _loopback(config.server.host):
        warnings.append(
            f"authentication is off (no auth.api_keys_env) on {config.server.host}, which is not a loopback "
            "address: anyone who reaches it can spend the providers' keys"
        )
    return ConfigCheck(routable, unroutable, tuple(problems), tuple(warnings))


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_rule_and_budget(where: str, policy: RoutingPolicy, router: IRTRouter, allowed: list[str]) -> list[str]:
    try:
        rule = router.resolve_rule(policy.rule)
    except ConfigError as exc:
        return [f"{where}.rule: {exc}"]
    if policy.budget is None or not allowed:
        return []
    try:
        router.calibrate_budget(policy.budget, rule, allowed)
    except ConfigError as exc:
        return [f"{where}.budget: {exc}"]
    return []
