"""The head revision that ``migrate`` reads from file names is Alembic's own."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from molink.storage.db import Database
from molink.storage.migrate import _config, head_revision, migrate, revision_of


def test_the_newest_file_is_alembics_head() -> None:
    assert ScriptDirectory.from_config(_config()).get_current_head() == head_revision()


def test_migrate_brings_a_new_database_to_head_and_then_does_nothing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert revision_of(db) is None
        migrate(db)
        assert revision_of(db) == head_revision()
        migrate(db)  # already current: returns without Alembic
        assert revision_of(db) == head_revision()
    finally:
        db.dispose()
