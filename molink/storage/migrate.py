"""Apply the Alembic migrations to a node's database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from molink.storage.db import Database

__all__ = ["migrate", "revision_of"]

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade ``db`` to ``revision`` (idempotent; concurrent callers take turns)."""
    cfg = _config()
    with db.engine.begin() as conn:
        db.lock_migrations(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def revision_of(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
