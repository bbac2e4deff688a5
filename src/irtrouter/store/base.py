"""What every backend of the decision log promises, and the group commit that keeps the promise.

**Acknowledged means committed.** Each write returns only once the transaction holding it has
committed, and the service answers a request only after its write returned: an acknowledged
request id is in the database, whatever happens to the process afterwards (``kill -9``).

**Group commit.** Writes go through one writer that commits whatever requests are waiting in a
single transaction, so concurrent requests share a commit (and, with a durable setting, one disk
flush) and none waits on a lock. Each request's rows are wrapped in a savepoint, so a row that
cannot be written (a duplicate id, an integer past 2^63) fails its own request only, never the
batch it shares. When the commit itself fails (disk full, connection lost) every request in it
fails with :class:`~irtrouter.errors.StorageError`, and the next batch tries again.

**Health.** :meth:`DecisionStore.probe` commits a row to the one-row ``health`` table through the
same writer, so ``/healthz`` sees what a request would: a store that reads but cannot write (a
full disk) is reported, not waved through. The probe's row is small and may still fit where a
decision no longer does (measured: under a file size limit, the probe went on committing after
decisions failed), so the probe also reports the last failed commit of requests' rows until one
succeeds again.

**Retention.** With ``retention_days``, the writer deletes decisions older than that (with their
feedback) and feedback older than that, at start and every ``retention_interval_s``, in chunks
so that no single transaction holds the writer for long.

A backend supplies the connection (:meth:`DecisionStore._connect`, which also creates or migrates
the schema) and the transaction around a batch (:meth:`DecisionStore._commit_batch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from irtrouter.errors import ConfigError, StorageError
from irtrouter.store.records import DECISION_COLUMNS, OUTCOME_COLUMNS, DecisionRecord

log = logging.getLogger(__name__)

T = TypeVar("T")
#: One request's writes: called with the backend's connection inside the batch's transaction.
Op = Callable[[Any], Any]

#: Rows deleted per statement by retention (bounded, so a year of backlog does not stall writes).
RETENTION_CHUNK = 2000


def redact_url(url: str) -> str:
    """``url`` with its password hidden (for messages and logs).

    >>> redact_url("postgresql://router:s3cret@db:5432/log?password=x&sslmode=require")
    'postgresql://router:***@db:5432/log?password=***&sslmode=require'
    """
    url = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


class DecisionStore(ABC):
    """Decisions and feedback, committed by a group-commit writer before anything is acknowledged.

    Parameters
    ----------
    synchronous : {"normal", "full"}
        How hard each backend flushes a commit (each backend's docstring says what it means there).
    retention_days : float, optional
        Delete decisions and feedback older than this many days (None: keep everything).
    retention_interval_s : float
        Seconds between two retention passes (the first runs at start).

    Use :func:`irtrouter.store.open_store` to get the backend a URL names.
    """

    #: Where the rows go, for messages (a path, or a URL without its password).
    name: str

    def __init__(
        self, synchronous: str = "normal", *, retention_days: float | None = None, retention_interval_s: float = 3600.0
    ) -> None:
        if synchronous not in ("normal", "full"):
            raise ConfigError(f"synchronous must be 'normal' or 'full', got {synchronous!r}")
        self.synchronous = synchronous
        if retention_days is not None and not retention_days > 0:
            raise ConfigError(f"retention_days must be a positive number of days, got {retention_days!r}")
        if not retention_interval_s > 0:
            raise ConfigError(f"retention_interval_s must be positive, got {retention_interval_s!r}")
        self.retention_days = retention_days
        self.retention_interval_s = retention_interval_s
        self._writer_name = f"{socket.gethostname()}:{os.getpid()}"
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._janitor: asyncio.Task[None] | None = None
        self._probe: Op = self._probe_op  # one object, so the writer can tell probes from requests' rows
        self._write_failure: str | None = None

    # -- what a backend supplies -----------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> None:
        """Open the database (creating or migrating the schema); runs in the writer thread."""

    @abstractmethod
    def _commit_batch(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        """Run ``ops`` in one transaction, each isolated; ``(True, result)`` or ``(False, StorageError)`` each."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the connection (writer thread)."""

    def _commits_inline(self) -> bool:
        """True when a commit is cheap enough to run on the event loop (no disk flush, no network)."""
        return False

    def _sql(self, text: str) -> str:
        """``text`` (written with ``?`` placeholders) in the backend's parameter style."""
        return text

    def _values(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Row values as the backend can store them."""
        return values

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open (creating or migrating if needed) the database and start the writer."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="irtrouter-db")
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._wakeup = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name="irtrouter-db-writer")
        if self.retention_days is not None:
            self._janitor = asyncio.create_task(self._retention_loop(), name="irtrouter-db-retention")

    def check(self) -> None:
        """Open the database and commit the health probe, synchronously (``irtrouter serve --check``).

        Raises
        ------
        StorageError
            When the database cannot be opened, migrated or written, with the reason.
        """
        self._connect()
        try:
            ((ok, value),) = self._commit_batch([self._probe])
            if not ok:
                raise value
        except StorageError:
            raise
        except Exception as exc:
            raise self._write_failed(exc) from None
        finally:
            self._disconnect()

    async def close(self) -> None:
        """Flush what is queued, stop the writer, close the database."""
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
            self._janitor = None
        if self._writer is not None:
            assert self._wakeup is not None
            while self._pending:
                self._wakeup.set()
                await asyncio.sleep(0.001)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- group commit ----------------------------------------------------------------------------
    async def _submit(self, op: Callable[[Any], T]) -> T:
        if self._wakeup is None:
            raise StorageError("the decision store is not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        self._wakeup.set()
        return await future

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            ops = [op for op, _ in batch]
            try:
                if self._commits_inline():
                    results = self._commit_batch(ops)
                else:
                    results = await loop.run_in_executor(self._executor, self._commit_batch, ops)
            except Exception as exc:  # the commit itself failed: every request in it failed
                log.error("%s: decision database commit failed: %s", self.name, exc)
                failed = self._write_failed(exc)
                results = [(False, failed)] * len(batch)
                if any(op is not self._probe for op in ops):
                    self._write_failure = str(failed)
            else:
                if any(ok and op is not self._probe for op, (ok, _) in zip(ops, results, strict=True)):
                    self._write_failure = None
            for (_, future), (ok, value) in zip(batch, results, strict=True):
                if future.done():  # the request was cancelled (client went away)
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _write_failed(self, exc: object) -> StorageError:
        """The error of a write (a row, a commit, the health probe) that ``exc`` stopped."""
        return StorageError(f"{self.name}: cannot write the decision database ({exc})")

    # -- the writes ------------------------------------------------------------------------------
    async def add_decision(self, record: DecisionRecord) -> None:
        """Insert a decision; returns once it is committed."""
        sql = self._sql(
            f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) VALUES ({', '.join('?' * len(DECISION_COLUMNS))})"
        )
        values = self._values(record.row(DECISION_COLUMNS))
        await self._submit(lambda conn: conn.execute(sql, values))

    async def update_outcome(self, record: DecisionRecord) -> None:
        """Write the outcome columns of a decision inserted earlier (streaming requests)."""
        sql = self._sql(f"UPDATE decisions SET {', '.join(f'{c} = ?' for c in OUTCOME_COLUMNS)} WHERE request_id = ?")
        values = self._values((*record.row(OUTCOME_COLUMNS), record.request_id))
        await self._submit(lambda conn: conn.execute(sql, values))

    async def add_feedback(self, request_id: str, score: float, comment: str | None) -> int | None:
        """Record feedback for a past request; its row id, or None when the request id is unknown."""
        exists = self._sql("SELECT 1 FROM decisions WHERE request_id = ?")
        insert = self._sql(
            "INSERT INTO feedback (request_id, created_at, score, comment) VALUES (?, ?, ?, ?) RETURNING id"
        )
        values = self._values((request_id, time.time(), score, comment))

        def op(conn: Any) -> int | None:
            if conn.execute(exists, (request_id,)).fetchone() is None:
                return None
            return int(conn.execute(insert, values).fetchone()[0])

        return await self._submit(op)

    def _probe_op(self, conn: Any) -> None:
        conn.execute(
            self._sql(
                "INSERT INTO health (id, checked_at, writer) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, writer = excluded.writer"
            ),
            (time.time(), self._writer_name),
        )

    async def probe(self) -> str | None:
        """Commit a row through the writer (``/healthz``).

        Returns
        -------
        str or None
            None when the probe committed and the last commit of requests' rows did not fail;
            else the reason.
        """
        try:
            await self._submit(self._probe)
        except StorageError as exc:
            return str(exc)
        return self._write_failure

    # -- retention -------------------------------------------------------------------------------
    async def delete_older_than(self, cutoff: float) -> tuple[int, int]:
        """Delete decisions created before ``cutoff`` (unix seconds) with their feedback, and feedback before it.

        Returns
        -------
        (decisions, feedback) : tuple of int
            Rows deleted.
        """
        old_feedback = self._sql(
            "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < ? OR request_id IN "
            f"(SELECT request_id FROM decisions WHERE created_at < ?) LIMIT {RETENTION_CHUNK})"
        )
        # Only decisions left without feedback: a replica deleting beside us cannot leave a dangling reference.
        old_decisions = self._sql(
            "DELETE FROM decisions WHERE request_id IN (SELECT request_id FROM decisions d WHERE created_at < ? "
            f"AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = d.request_id) LIMIT {RETENTION_CHUNK})"
        )

        def chunk(conn: Any) -> tuple[int, int]:
            n_feedback = conn.execute(old_feedback, (cutoff, cutoff)).rowcount
            n_decisions = conn.execute(old_decisions, (cutoff,)).rowcount
            return n_decisions, n_feedback

        total_decisions = total_feedback = 0
        while True:
            n_decisions, n_feedback = await self._submit(chunk)
            total_decisions += n_decisions
            total_feedback += n_feedback
            if n_decisions == 0 and n_feedback == 0:
                return total_decisions, total_feedback

    async def _retention_loop(self) -> None:
        assert self.retention_days is not None
        while True:
            try:
                decisions, feedback = await self.delete_older_than(time.time() - self.retention_days * 86400)
                if decisions or feedback:
                    log.info(
                        "%s: retention (%g days) deleted %d decisions and %d feedback rows",
                        self.name,
                        self.retention_days,
                        decisions,
                        feedback,
                    )
            except StorageError as exc:  # tried again next time; the writes go on
                log.warning("%s: retention pass failed: %s", self.name, exc)
            await asyncio.sleep(self.retention_interval_s)
