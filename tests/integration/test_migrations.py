"""Alembic migrations on SQLite and PostgreSQL: from empty, from every revision, and drift.

* An empty database upgrades to head.
* A database at every earlier revision, holding rows, upgrades to head and keeps them.
* The migrated schema equals ``schema.metadata``: autogenerate compares them and finds
  no difference (tables, columns, types, nullability, indexes, unique constraints).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select

from molink.storage.db import Database
from molink.storage.migrate import _config, migrate, revision_of
from molink.storage.schema import log_entries, metadata, settings
from tests.support.pgtest import TestDatabases

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


REVISIONS = _revisions()


@pytest.fixture(params=ENGINES)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database without any table, on each engine."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield db
        db.dispose()
        return
    databases: TestDatabases = request.getfixturevalue("pg_databases")
    mark = databases.mark()
    db = Database(databases.empty_url(), pool_size=1)
    try:
        yield db
    finally:
        db.dispose()
        databases.release(mark)


def _schema_diff(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_revision_history_is_linear_and_starts_at_0001() -> None:
    assert REVISIONS[0] == "0001"
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1, "migrations branched: give one a new down_revision"


def test_empty_database_upgrades_to_head_and_matches_the_metadata(empty_db: Database) -> None:
    assert revision_of(empty_db) is None
    migrate(empty_db)
    assert revision_of(empty_db) == REVISIONS[-1]
    assert _schema_diff(empty_db) == []
    migrate(empty_db)  # idempotent
    assert revision_of(empty_db) == REVISIONS[-1]


@pytest.mark.parametrize("start", REVISIONS[:-1])
def test_every_earlier_revision_upgrades_to_head_keeping_rows(
    empty_db: Database, start: str
) -> None:
    migrate(empty_db, start)
    assert revision_of(empty_db) == start
    with empty_db.write() as conn:  # tables of the first revision, written as that code did
        conn.execute(insert(settings).values(key="kept", value=f"since {start}"))
        conn.execute(
            insert(log_entries).values(idx=0, data=b"{}", leaf_hash=b"\x01" * 32, created=1)
        )
    migrate(empty_db)
    assert revision_of(empty_db) == REVISIONS[-1]
    with empty_db.read() as conn:
        assert conn.execute(select(settings.c.value)).scalars().all() == [f"since {start}"]
        assert conn.execute(select(log_entries.c.idx)).scalars().all() == [0]
    assert _schema_diff(empty_db) == []


def test_a_schema_drift_is_detected(empty_db: Database) -> None:
    """The comparison can fail: a column the migrations never created is reported."""
    migrate(empty_db)
    with empty_db.write() as conn:
        conn.exec_driver_sql("ALTER TABLE settings ADD COLUMN stray INTEGER")
    diff = _schema_diff(empty_db)
    assert any(d[0] == "remove_column" and d[2] == "settings" for d in diff), diff
