"""Apply the Alembic migrations to a node's database.

Alembic (with Mako) costs a node process about 35 MB of memory once imported, and a
node almost always starts on a database that is already current. So ``migrate`` first
reads the stored revision with one query and loads Alembic only when there is work to
do. Revisions are named after their files (``0005_outbox_claims.py`` is ``0005``), so
the newest file is the head; a unit test holds Alembic to the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from molink.storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["head_revision", "migrate", "revision_of"]

_SCRIPTS = Path(__file__).with_name("migrations")


def head_revision() -> str:
    """The newest revision: the number that starts the newest file in ``versions/``."""
    return max(p.name[:4] for p in (_SCRIPTS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def _stored_revision(db: Database) -> str | None:
    """The revision recorded in the database, or None (no Alembic table yet)."""
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return None
    return rows[0][0] if len(rows) == 1 else None


def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade ``db`` to ``revision`` (idempotent; concurrent callers take turns)."""
    if revision == "head" and _stored_revision(db) == head_revision():
        return
    from alembic import command

    cfg = _config()
    with db.engine.begin() as conn:
        db.lock_migrations(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def revision_of(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
