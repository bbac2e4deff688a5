"""Which backend a database URL names: opened for writing (the service) or for reading (tools).

============================================  =================================================
``sqlite:///PATH`` (``sqlite:////abs/path``)  :class:`~irtrouter.store.sqlite.SQLiteStore`: one
                                              file, the processes of one host (the default)
``postgresql://USER@HOST:PORT/DBNAME``        :class:`~irtrouter.store.postgres.PostgresStore`:
                                              one server, any number of replicas on any hosts
                                              (needs ``pip install 'irtrouter[postgres]'``)
============================================  =================================================
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from irtrouter.errors import ConfigError, StorageError
from irtrouter.store.base import DecisionStore, redact_url
from irtrouter.store.sqlite import SQLiteStore, sqlite_path

Backend = Literal["sqlite", "postgresql"]


def backend_of(url: str) -> Backend:
    """The backend ``url`` names; :class:`ConfigError` naming the accepted forms otherwise.

    >>> backend_of("sqlite:///serve.sqlite"), backend_of("postgresql://router@db/irtrouter")
    ('sqlite', 'postgresql')
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        sqlite_path(url)
        return "sqlite"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ConfigError(
        f"database URL {redact_url(url)!r}: expected sqlite:///PATH or postgresql://[USER@]HOST[:PORT]/DBNAME"
    )


def _postgres() -> ModuleType:
    # psycopg is an optional dependency: loaded only for a postgresql:// URL.
    try:
        from irtrouter.store import postgres
    except ImportError as exc:
        raise ConfigError(
            f"a postgresql:// decision store needs psycopg ({exc}): pip install 'irtrouter[postgres]'"
        ) from None
    return postgres


def open_store(
    url: str,
    synchronous: str = "normal",
    *,
    retention_days: float | None = None,
    retention_interval_s: float = 3600.0,
) -> DecisionStore:
    """The store ``url`` names, not yet started (``await store.start()``, or ``store.check()``).

    Examples
    --------
    >>> import tempfile
    >>> store = open_store(f"sqlite:///{tempfile.mkdtemp()}/d.sqlite", retention_days=30)
    >>> type(store).__name__, store.retention_days
    ('SQLiteStore', 30)
    >>> store.check()  # opens, creates the schema, commits the health probe
    """
    options: dict[str, Any] = {"retention_days": retention_days, "retention_interval_s": retention_interval_s}
    if backend_of(url) == "sqlite":
        return SQLiteStore(url, synchronous, **options)
    store: DecisionStore = _postgres().PostgresStore(url, synchronous, **options)
    return store


def connect_readonly(url: str) -> Any:
    """A read-only DB-API connection to the log ``url`` names (what :mod:`irtrouter.store.reading` reads).

    Raises
    ------
    StorageError
        When the database does not exist or cannot be reached.
    """
    if backend_of(url) == "postgresql":
        return _postgres().connect(url, read_only=True)
    path = sqlite_path(url)
    if path == ":memory:" or not Path(path).is_file():
        raise StorageError(f"{path}: no decision database there")
    try:
        return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot open the decision database ({exc})") from None


def placeholder(url: str) -> str:
    """The parameter placeholder of the backend ``url`` names (queries are written with ``?``)."""
    return "%s" if backend_of(url) == "postgresql" else "?"


def database_errors(url: str) -> tuple[type[Exception], ...]:
    """What the driver of the backend ``url`` names raises for a failed statement."""
    if backend_of(url) == "postgresql":
        return (_postgres().psycopg.Error,)
    return (sqlite3.Error,)
