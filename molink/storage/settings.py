"""Small node-wide settings (key/value)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from molink.storage.schema import settings

__all__ = ["get_setting", "set_setting"]


def get_setting(conn: Connection, key: str) -> str | None:
    row = conn.execute(select(settings.c.value).where(settings.c.key == key)).first()
    return None if row is None else str(row.value)


def set_setting(conn: Connection, key: str, value: str) -> None:
    if get_setting(conn, key) is None:
        conn.execute(insert(settings).values(key=key, value=value))
    else:
        conn.execute(update(settings).where(settings.c.key == key).values(value=value))
