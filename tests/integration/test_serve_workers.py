"""``molink serve --workers N``: PostgreSQL only, one ``molink serve`` per database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from molink.cli.serve import serve_node
from molink.errors import ConfigError, InvalidInput
from molink.services.provision import create_node
from tests.support.pgtest import TestDatabases


def _node(home: Path, database_url: str) -> None:
    create_node(
        home,
        party="US",
        port=8701,
        now=datetime.now(UTC),
        database_url=database_url,
        scrypt_n=2**14,
    )


def test_sqlite_refuses_several_workers_with_a_clear_error(tmp_path: Path) -> None:
    _node(tmp_path / "US", "sqlite:///node.db")
    with pytest.raises(ConfigError, match=r"--workers 2 needs PostgreSQL: SQLite has a single"):
        serve_node(tmp_path / "US", workers=2)
    with pytest.raises(InvalidInput):
        serve_node(tmp_path / "US", workers=0)


@pytest.mark.postgres
def test_a_second_serve_on_the_same_database_is_refused(
    tmp_path: Path, pg_databases: TestDatabases
) -> None:
    mark = pg_databases.mark()
    db = pg_databases.database()
    try:
        _node(tmp_path / "US", db.libpq_url)
        running = db.session_lock("serve")
        assert running.try_acquire()
        try:
            with pytest.raises(ConfigError, match="another `molink serve` is running"):
                serve_node(tmp_path / "US", workers=4)
        finally:
            running.release()
    finally:
        pg_databases.release(mark)
