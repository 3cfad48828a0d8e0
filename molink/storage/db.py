"""The node's database: one engine, explicit read and write transactions.

This is the ONE module that knows which database engine is in use
(SQLite or PostgreSQL). Everything else is portable SQLAlchemy Core.

* SQLite: WAL journal, ``synchronous=FULL``, a busy timeout, and write
  transactions opened with ``BEGIN IMMEDIATE`` so that two writers never
  deadlock on a lock upgrade.
* PostgreSQL (psycopg 3): several worker processes share the database.
  Every write transaction takes the log sequencer (a transaction-scoped advisory
  lock) FIRST, before any row lock, unless it is opened with
  ``write(sequenced=False)`` because it never appends to the log. Appends are thus
  serialised from their start to their commit, so log indexes stay gapless, and
  the one lock order (sequencer, then rows) rules out deadlocks between an append
  and a row update. This mirrors SQLite's single writer (``BEGIN IMMEDIATE``).
  Outbox rows are claimed with ``FOR UPDATE SKIP LOCKED``; session-level
  advisory locks elect one leader among the workers and keep a second
  ``molink serve`` off the same database (docs/adr/0002-several-workers.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from molink.errors import ConfigError, StorageError
from molink.storage.groupcommit import GroupCommit

__all__ = ["Database", "SessionLock", "from_micros", "micros"]

_SEQUENCER_LOCK_ID = 6962
_MIGRATION_LOCK_ID = 6963
# Session-level locks, held by one connection for as long as their holder runs.
_SESSION_LOCK_IDS = {"leader": 6964, "serve": 6965}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(when: datetime) -> int:
    """Microseconds since the epoch for an aware datetime."""
    return (when - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def normalise_url(url: str, base: Path | None = None) -> str:
    """Make a relative ``sqlite:///file`` path absolute against ``base``; pick psycopg 3."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and base is not None:
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            return f"sqlite:///{(base / rel).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """A database engine with ``read()``/``write()`` transaction scopes."""

    def __init__(
        self, url: str, *, base: Path | None = None, pool_size: int = 8, max_overflow: int = 8
    ) -> None:
        self.url = normalise_url(url, base)
        self._groups: GroupCommit | None = None
        try:
            if self.is_sqlite:
                self.engine: Engine = create_engine(
                    self.url,
                    connect_args={"check_same_thread": False, "timeout": 30},
                    pool_size=pool_size,
                    max_overflow=max_overflow,
                )
                event.listen(self.engine, "connect", _sqlite_connect)
                event.listen(self.engine, "begin", _sqlite_begin)
            else:
                self.engine = create_engine(
                    self.url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
                )
        except Exception as exc:  # a bad URL or missing driver
            raise ConfigError(f"cannot open database {self.url!r}: {exc}") from exc

    @classmethod
    def unpooled(cls, url: str) -> Database:
        """For short-lived CLI processes."""
        db = cls(url)
        db.engine = create_engine(
            db.url,
            poolclass=NullPool,
            connect_args={"check_same_thread": False, "timeout": 30} if db.is_sqlite else {},
        )
        if db.is_sqlite:
            event.listen(db.engine, "connect", _sqlite_connect)
            event.listen(db.engine, "begin", _sqlite_begin)
        return db

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    @property
    def one_process(self) -> bool:
        """Only one process ever writes (SQLite: ``molink serve`` refuses more workers),
        so rows it looks at cannot be taken by anyone else: no claims needed."""
        return self.is_sqlite

    @property
    def local_reads(self) -> bool:
        """A read never waits for a writer or the network (SQLite in WAL mode, a page-cache
        lookup): cheap enough for the event loop, cheaper than a worker-thread hop."""
        return self.is_sqlite

    @property
    def libpq_url(self) -> str:
        """The URL without SQLAlchemy's driver suffix (for psycopg itself, ``pg_dump``)."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    @contextmanager
    def write(self, *, sequenced: bool = True) -> Iterator[Connection]:
        """A write transaction; commits on success, rolls back on any exception.

        Args:
            sequenced: take the log sequencer first (PostgreSQL). Only a transaction
                that never appends to the log may pass False (outbox claims, attempt
                bookkeeping), so that it runs beside the sequenced ones.
        """
        if self.is_sqlite:
            with self._translate(), self._group().write() as conn:
                yield conn
            return
        with self._translate(), self.engine.connect() as conn:
            conn.execution_options(molink_write=True)
            with conn.begin():
                if sequenced:
                    self.lock_sequencer(conn)
                yield conn

    def _group(self) -> GroupCommit:
        """SQLite's writers share commits (``molink.storage.groupcommit``)."""
        group = self._groups
        if group is None or group.engine is not self.engine:
            group = self._groups = GroupCommit(self.engine, on_open=_mark_write)
        return group

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            raise StorageError(f"database error: {exc.orig!s}"[:500]) from exc

    def lock_sequencer(self, conn: Connection) -> None:
        """Serialise log appends until commit (PostgreSQL advisory lock, re-entrant).

        SQLite is single-writer already (``BEGIN IMMEDIATE``).
        """
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEQUENCER_LOCK_ID})

    def lock_migrations(self, conn: Connection) -> None:
        """Serialise schema upgrades: workers starting together migrate one at a time."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})

    def claim(self, query: Select[Any], *, of: Table | None = None) -> Select[Any]:
        """Lock the rows of ``of`` that ``query`` selects, skipping rows other workers hold.

        PostgreSQL ``FOR UPDATE OF ... SKIP LOCKED``; SQLite has one writer, which
        already excludes every other claim.
        """
        if self.is_postgres:
            return query.with_for_update(skip_locked=True, of=of)
        return query

    def session_lock(self, name: str) -> SessionLock:
        """A named lock held by one process at a time (``leader``, ``serve``)."""
        return SessionLock(self, _SESSION_LOCK_IDS[name])

    def dispose(self) -> None:
        self.engine.dispose()


class SessionLock:
    """A PostgreSQL session-level advisory lock, held on a dedicated connection.

    ``try_acquire`` never waits. The lock is held until ``release`` or until the
    holder's connection ends (its process died): the database then frees it, and
    another process's next ``try_acquire`` wins. On SQLite there is one process
    per database (``molink serve`` refuses more workers), so the lock is always held.
    """

    def __init__(self, db: Database, key: int) -> None:
        self._db = db
        self._key = key
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._db.is_sqlite or self._conn is not None

    def try_acquire(self) -> bool:
        """Hold the lock now if it is free; True while held (checks the connection)."""
        if self._db.is_sqlite:
            return True
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))
                return True
            conn = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            if got.scalar():
                self._conn = conn
                return True
            conn.close()
            return False
        except (OperationalError, DBAPIError):  # the database went away: lost the lock
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is not None:
            with suppress(OperationalError, DBAPIError):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(OperationalError, DBAPIError):
                conn.invalidate()  # a pooled connection must not keep the lock
                conn.close()


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _mark_write(conn: Connection) -> None:
    conn.execution_options(molink_write=True)


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("molink_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")
