"""The node's database: one engine, explicit read and write transactions.

This is the ONE module that knows which database engine is in use
(SQLite or PostgreSQL). Everything else is portable SQLAlchemy Core.

* SQLite: WAL journal, ``synchronous=FULL``, a busy timeout, and write
  transactions opened with ``BEGIN IMMEDIATE`` so that two writers never
  deadlock on a lock upgrade.
* PostgreSQL (psycopg 3): the log sequencer takes a transaction-scoped
  advisory lock so that log indexes stay gapless under concurrent workers,
  and outbox rows are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from molink.errors import ConfigError, StorageError

__all__ = ["Database", "from_micros", "micros"]

_SEQUENCER_LOCK_ID = 6962
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

    def __init__(self, url: str, *, base: Path | None = None, pool_size: int = 8) -> None:
        self.url = normalise_url(url, base)
        try:
            if self.is_sqlite:
                self.engine: Engine = create_engine(
                    self.url,
                    connect_args={"check_same_thread": False, "timeout": 30},
                    pool_size=pool_size,
                    max_overflow=8,
                )
                event.listen(self.engine, "connect", _sqlite_connect)
                event.listen(self.engine, "begin", _sqlite_begin)
            else:
                self.engine = create_engine(
                    self.url, pool_size=pool_size, max_overflow=8, pool_pre_ping=True
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

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; commits on success, rolls back on any exception."""
        with self._translate(), self.engine.connect() as conn:
            conn.execution_options(molink_write=True)
            with conn.begin():
                yield conn

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
        """Serialise log appends (PostgreSQL advisory lock; SQLite is single-writer already)."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEQUENCER_LOCK_ID})

    def claim(self, query: Select[Any]) -> Select[Any]:
        """Make an outbox query claim rows for this worker (PostgreSQL SKIP LOCKED)."""
        if self.is_postgres:
            return query.with_for_update(skip_locked=True)
        return query

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("molink_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")
