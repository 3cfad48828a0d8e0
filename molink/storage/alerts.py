"""Alerts shown to operators (conflict, intrusion, equivocation, overdue, link)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select

from molink.storage.schema import alerts

__all__ = ["AlertRepo"]


class AlertRepo:
    @staticmethod
    def add(conn: Connection, row: dict[str, Any]) -> bool:
        """Insert an alert; False if one with the same ``dedup_key`` exists already."""
        key = row.get("dedup_key")
        if (
            key is not None
            and conn.execute(select(alerts.c.id).where(alerts.c.dedup_key == key)).first()
        ):
            return False
        conn.execute(insert(alerts), row)
        return True

    @staticmethod
    def since(
        conn: Connection, since_us: int, limit: int, kind: str | None = None
    ) -> list[Row[Any]]:
        query = select(alerts).where(alerts.c.created >= since_us)
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        return list(conn.execute(query.order_by(alerts.c.created, alerts.c.id).limit(limit)))
