"""Throw-away PostgreSQL databases for tests, on the server named by ``MOLINK_TEST_PG``.

Every node of every test gets a database of its own (``molink_t_<random>``,
created through an admin connection to the server's ``test`` database), so
tests never see each other's rows or advisory locks, and concurrent test
sessions never meet. A template migrated to head once per session makes each
new database cheap (``CREATE DATABASE ... TEMPLATE``); tests of the migrations
themselves start from an empty database instead. Everything a session created
is dropped when it ends.

Only loopback servers are accepted: tests never reach beyond this machine.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from molink.storage.db import Database
from molink.storage.migrate import migrate

__all__ = ["DEFAULT_URL", "PgServer", "TestDatabases", "pg_server"]

DEFAULT_URL = "postgresql://127.0.0.1:5432/test"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


@dataclass
class PgServer:
    """The PostgreSQL server that tests may create databases on."""

    url: str
    reachable: bool
    detail: str

    def url_for(self, name: str) -> str:
        """The server's URL with ``name`` as the database."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(_libpq(self.url), autocommit=True, connect_timeout=3)

    def create_database(self, *, template: str | None = None, prefix: str = "molink_t_") -> str:
        name = prefix + secrets.token_hex(6)
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with self.admin() as conn:
            conn.execute(query)
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def pg_server() -> PgServer:
    """Probe ``MOLINK_TEST_PG`` (default :data:`DEFAULT_URL`) once."""
    url = os.environ.get("MOLINK_TEST_PG", DEFAULT_URL)
    host = urlsplit(url).hostname or ""
    if host not in _LOOPBACK:
        return PgServer(url, False, f"refusing non-loopback host {host!r}")
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return PgServer(url, False, str(exc).strip().splitlines()[0] if str(exc) else "error")
    return PgServer(url, True, f"PostgreSQL {row[0] if row else '?'}")


@dataclass
class TestDatabases:
    """Databases that this test session created on one server; ``close`` drops them all.

    Dropping a PostgreSQL database forces a checkpoint (seconds on a busy disk), so a
    migrated database is not dropped after each test: it is emptied (every row but
    ``alembic_version``'s deleted, other sessions on it terminated) and handed to the
    next test. Tests never share one at the same time. Empty databases for migration
    tests are always new and dropped when released.
    """

    server: PgServer
    _template: str | None = None
    _free: list[str] = field(default_factory=list)
    _taken: list[tuple[str, Database | None]] = field(default_factory=list)
    _all: list[str] = field(default_factory=list)

    __test__ = False  # not a test class, despite the name

    def database(self) -> Database:
        """An empty database migrated to head, opened; emptied again by ``release``."""
        name = self._free.pop() if self._free else self._create(self._head_template())
        db = Database(self.server.url_for(name), pool_size=2)
        self._taken.append((name, db))
        return db

    def empty_url(self) -> str:
        """A new database without any table (dropped by ``release``)."""
        name = self._create(None)
        self._taken.append((name, None))
        return self.server.url_for(name)

    def mark(self) -> int:
        return len(self._taken)

    def release(self, since: int = 0) -> None:
        """Give back the databases taken after ``mark()`` returned ``since``."""
        for name, db in self._taken[since:]:
            if db is None:
                self._drop(name)
                continue
            db.dispose()
            try:
                self._empty(name)
            except psycopg.Error:
                self._drop(name)
            else:
                self._free.append(name)
        del self._taken[since:]

    def close(self) -> None:
        self.release(0)
        for name in list(self._all):
            self._drop(name)

    def _create(self, template: str | None, prefix: str = "molink_t_") -> str:
        name = self.server.create_database(template=template, prefix=prefix)
        self._all.append(name)
        return name

    def _drop(self, name: str) -> None:
        self.server.drop_database(name)
        self._all.remove(name)

    def _empty(self, name: str) -> None:
        with self.server.admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        with psycopg.connect(_libpq(self.server.url_for(name)), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '5s'")
            tables = [
                sql.Identifier(str(row[0]))
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            ]
            with conn.transaction():  # small tables: DELETE is cheaper than TRUNCATE
                for table in tables:
                    conn.execute(sql.SQL("DELETE FROM {}").format(table))

    def _head_template(self) -> str:
        if self._template is None:
            name = self._create(None, prefix="molink_tpl_")
            db = Database.unpooled(self.server.url_for(name))
            try:
                migrate(db)
            finally:
                db.dispose()
            self._template = name
        return self._template
