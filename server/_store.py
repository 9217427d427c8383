"""Persistent queues: where background jobs survive a restart.

A store sees three things: :meth:`Store.add` when a background job is created (before its
JOB_CREATED is sent), :meth:`Store.remove` when it ends, and :meth:`Store.commit`, which
the server calls once per batch of received packets before any reply of that batch
leaves, so many submits share one transaction.

:class:`SqliteStore` uses gearmand's table layout, so a gearmand ``libsqlite3`` queue
file is taken over as it is.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import NamedTuple

__all__ = ("SqliteStore", "Store", "StoreError", "StoredJob")

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The persistent queue failed; the submit that caused it gets ``QUEUE_ERROR``."""


class StoredJob(NamedTuple):
    """One row of the persistent queue."""

    unique: bytes
    function: bytes
    priority: int
    """0 = HIGH, 1 = NORMAL, 2 = LOW (gearmand's numbering)."""
    data: bytes
    when: int
    """Epoch seconds the job may run from (0 = at once)."""


class Store:
    """The in-memory "store": nothing is kept; the base class of real stores."""

    #: Whether this store keeps anything (the server skips it entirely otherwise).
    persistent = False

    def load(self) -> Iterator[StoredJob]:
        """Every stored job, to replay at start."""
        return iter(())

    def add(self, job: StoredJob) -> None:
        """Store a new background job. :raises StoreError: it could not be stored."""

    def remove(self, unique: bytes, function: bytes) -> None:
        """Forget a job that ended (completed, failed, cancelled or dropped)."""

    def commit(self) -> None:
        """Make every add and remove so far durable. :raises StoreError: it failed."""

    def dump(self, jobs: Iterable[StoredJob]) -> None:
        """At shutdown: store ``jobs`` (used by the store-on-shutdown mode)."""

    def close(self) -> None:
        """Release the store."""


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SqliteStore(Store):
    """Background jobs in an SQLite table with gearmand's layout.

    ``CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER,
    data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))``.

    The database runs in WAL mode with ``synchronous=NORMAL`` and a checkpoint every
    10,000 pages: a committed job survives the server process being killed; only a
    power loss can take the last commits with it. A commit then costs tens of
    microseconds, so it runs on the event loop, once per batch of received packets,
    instead of in a thread. Adds and removes are kept in order until the commit, which
    writes each run of them with one ``executemany``; a failure there fails the commit
    (the server then refuses the batch's new jobs).

    :param path: The database file (created if missing).
    :param table: The table name (created if missing).
    :param store_on_shutdown: gearmand's ``--store-queue-on-shutdown``: nothing is
        written while the server runs; every background job is written at shutdown and
        the table is emptied after replay.
    """

    persistent = True

    def __init__(
        self, path: str, *, table: str = "gearman_queue", store_on_shutdown: bool = False
    ) -> None:
        if not _TABLE_NAME.match(table):
            raise ValueError(f"bad SQLite table name: {table!r}")
        self.path = path
        self.table = table
        self.store_on_shutdown = store_on_shutdown
        #: Statements and parameters since the last commit, in order.
        self._ops: list[tuple[str, tuple[object, ...]]] = []
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 6000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # A checkpoint (and its fsync) every 10,000 pages rather than 1,000: about a
            # tenth less time per stored job; the -wal file may grow to about 40 MiB.
            self._db.execute("PRAGMA wal_autocheckpoint = 10000")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (unique_key TEXT, function_name TEXT, "
                "priority INTEGER, data BLOB, when_to_run INTEGER, "
                "PRIMARY KEY (unique_key, function_name))"
            )
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "when_to_run" not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN when_to_run INTEGER")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite queue {path!r}: {exc}") from exc
        self._insert = (
            f"INSERT OR REPLACE INTO {table} "
            "(priority, unique_key, function_name, data, when_to_run) VALUES (?, ?, ?, ?, ?)"
        )
        self._delete = f"DELETE FROM {table} WHERE unique_key = ? AND function_name = ?"

    def load(self) -> Iterator[StoredJob]:
        """Every row, in the table's natural order (as gearmand: no ORDER BY)."""
        try:
            rows = self._db.execute(
                f"SELECT unique_key, function_name, priority, data, when_to_run FROM {self.table}"
            ).fetchall()
            if self.store_on_shutdown:
                self._db.execute(f"DELETE FROM {self.table}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read SQLite queue {self.path!r}: {exc}") from exc
        for unique, function, priority, data, when in rows:
            yield StoredJob(
                _bytes(unique), _bytes(function), int(priority or 0), _bytes(data), int(when or 0)
            )

    def add(self, job: StoredJob) -> None:
        """INSERT OR REPLACE the job's row at the next commit."""
        if not self.store_on_shutdown:
            row = (job.priority, _text(job.unique), _text(job.function), job.data, job.when)
            self._ops.append((self._insert, row))

    def remove(self, unique: bytes, function: bytes) -> None:
        """DELETE the job's row at the next commit."""
        if not self.store_on_shutdown:
            self._ops.append((self._delete, (_text(unique), _text(function))))

    def commit(self) -> None:
        """Write what was added and removed since the last commit, in one transaction."""
        ops, self._ops = self._ops, []
        if not ops:
            return
        db = self._db
        try:
            db.execute("BEGIN")
            start = 0
            for end in range(1, len(ops) + 1):  # each run of one statement: one executemany
                if end == len(ops) or ops[end][0] is not ops[start][0]:
                    db.executemany(ops[start][0], [params for _, params in ops[start:end]])
                    start = end
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(str(exc)) from exc

    @property
    def dirty(self) -> bool:
        """Whether adds or removes wait for the next commit."""
        return bool(self._ops)

    def dump(self, jobs: Iterable[StoredJob]) -> None:
        """Write ``jobs`` in one transaction (store-on-shutdown mode only)."""
        if not self.store_on_shutdown:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    self._insert,
                    (
                        (j.priority, _text(j.unique), _text(j.function), j.data, j.when)
                        for j in jobs
                    ),
                )
        except sqlite3.Error as exc:
            log.error("SQLite queue: cannot store the queue at shutdown: %s", exc)

    def close(self) -> None:
        """Commit what is pending and close the database."""
        try:
            self.commit()
        except StoreError as exc:
            log.error("SQLite queue: final commit failed: %s", exc)
        self._db.close()


def _bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _text(value: bytes) -> str | bytes:
    """Keys are TEXT, as gearmand binds them, so both servers find each other's rows."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value
