"""Where decisions and feedback are kept: SQLite in WAL mode, written before the client hears back.

Durability. Every write is committed before the HTTP response that acknowledges it is sent, so
an acknowledged request id is in the database. In WAL mode a commit appends the transaction to
the ``-wal`` file with a ``write()`` to the operating system: after that, killing the process
(``kill -9``, a crash, an OOM kill) cannot lose it, with either ``synchronous`` setting. What
``synchronous`` adds is protection against the *machine* going down (power loss, kernel panic):

* ``normal`` (default): no ``fsync`` per commit; an OS crash may lose the last commits, never
  corrupts the database. Commits cost microseconds.
* ``full``: ``fsync`` of the WAL on every commit; survives power loss, costs a disk flush per
  commit (amortised by the group commit).

Writes go through the group commit of :mod:`irtrouter.store.base`. With ``normal`` the commit
runs on the event loop itself: it costs tens of microseconds (no ``fsync``), less than handing
it to a thread and back, which on a busy machine costs a scheduler wake-up each way (measured:
~3 ms at p99 on 2 loaded cores). With ``full`` the ``fsync`` would stall the loop for
milliseconds, so the commit runs in a dedicated writer thread instead. (A ``busy_timeout``
applies if another process holds the database's write lock; readers never do in WAL mode.) One
SQLite file serves the processes of one host; replicas on several hosts share a PostgreSQL store
(:mod:`irtrouter.store.postgres`).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from irtrouter.errors import ConfigError, StorageError
from irtrouter.store.base import DecisionStore, Op
from irtrouter.store.records import MIGRATIONS, SCHEMA, SCHEMA_VERSION

log = logging.getLogger(__name__)


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///PATH`` URL (``sqlite:////abs`` for an absolute path).

    >>> sqlite_path("sqlite:///runs/serve.sqlite")
    'runs/serve.sqlite'
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "sqlite" or not rest.startswith("/") or len(rest) < 2:
        raise ConfigError(f"database URL {url!r}: expected sqlite:///PATH")
    return rest[1:]


#: What writing one row can raise without the database being at fault.
ROW_ERRORS = (sqlite3.Error, OverflowError, ValueError, TypeError)


class SQLiteStore(DecisionStore):
    """Decisions and feedback in one SQLite file, written by a single group-commit writer.

    Parameters
    ----------
    url : str
        ``sqlite:///PATH``.
    synchronous : {"normal", "full"}
        See the module docstring.
    retention_days, retention_interval_s
        See :class:`~irtrouter.store.base.DecisionStore`.

    Examples
    --------
    >>> import asyncio, tempfile
    >>> async def demo(path):
    ...     store = SQLiteStore(f"sqlite:///{path}")
    ...     await store.start()
    ...     found = await store.add_feedback("no-such-request", 1.0, None)
    ...     await store.close()
    ...     return found
    >>> asyncio.run(demo(tempfile.mkdtemp() + "/d.sqlite")) is None
    True
    """

    def __init__(
        self,
        url: str,
        synchronous: str = "normal",
        *,
        retention_days: float | None = None,
        retention_interval_s: float = 3600.0,
    ) -> None:
        super().__init__(synchronous, retention_days=retention_days, retention_interval_s=retention_interval_s)
        self.path = sqlite_path(url)
        self.name = self.path
        self._conn: sqlite3.Connection | None = None

    def _commits_inline(self) -> bool:
        return self.synchronous == "normal"

    def _connect(self) -> None:
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"{self.path}: cannot open the decision database ({exc})") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path}: decision database schema {version}, this version writes {SCHEMA_VERSION}"
                )
            if version == 0:
                conn.executescript(SCHEMA)
            else:
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    conn.execute("BEGIN IMMEDIATE")
                    for statement in MIGRATIONS[target]:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={target}")
                    conn.execute("COMMIT")
                    log.info("%s: decision database migrated to schema %d", self.path, target)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"{self.path}: cannot open the decision database ({exc})") from None
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit_batch(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        # A row that cannot be written (a constraint, or a value SQLite cannot bind: an integer past
        # 2^63 raises OverflowError) fails its own request only, never the batch it shares.
        conn = self._conn
        if conn is None:
            raise StorageError(f"{self.path}: the decision database is closed")
        out: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            if len(ops) == 1:  # alone in its transaction: no savepoint needed to isolate it
                try:
                    out.append((True, ops[0](conn)))
                except ROW_ERRORS as exc:
                    conn.execute("ROLLBACK")
                    return [(False, self._write_failed(exc))]
                conn.execute("COMMIT")
                return out
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    out.append((True, op(conn)))
                    conn.execute("RELEASE op")
                except ROW_ERRORS as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    out.append((False, self._write_failed(exc)))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return out
