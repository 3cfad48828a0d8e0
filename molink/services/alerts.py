"""Raising and listing alerts. Every alert is also logged and published live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from molink.core.ids import uuid7
from molink.services.context import NodeContext
from molink.services.queries import iso
from molink.storage.alerts import AlertRepo

__all__ = ["ALERT_KINDS", "AlertService"]

ALERT_KINDS = ("conflict", "intrusion", "equivocation", "overdue", "link", "escalation", "deadline")


class AlertService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def raise_alert(
        self,
        conn: Connection,
        *,
        kind: str,
        severity: str,
        title: str,
        parties: Sequence[str] = (),
        refs: Sequence[str] = (),
        data: dict[str, Any] | None = None,
        dedup_key: str | None = None,
    ) -> str | None:
        """Store an alert in ``conn``'s transaction; returns its id (None if a duplicate)."""
        ctx = self._ctx
        now = ctx.clock.now()
        alert_id = uuid7(now, ctx.random(10))
        now_us = ctx.now_us()
        row: dict[str, Any] = {
            "id": alert_id,
            "kind": kind,
            "severity": severity,
            "title": title,
            "parties": sorted(set(parties)),
            "refs": list(refs),
            "data": data or {},
            "created": now_us,
            "dedup_key": dedup_key,
        }
        if not AlertRepo.add(conn, row):
            return None
        ctx.log.append(
            conn,
            [
                {
                    "type": "alert.raised",
                    "id": alert_id,
                    "kind": kind,
                    "severity": severity,
                    "parties": row["parties"],
                    "refs": row["refs"],
                    "time": now_us // 1000,
                }
            ],
            now_us,
        )
        ctx.events.publish("alert", id=alert_id, alert_kind=kind, severity=severity, title=title)
        return alert_id

    def raise_now(self, **kwargs: Any) -> str | None:
        with self._ctx.db.write() as conn:
            return self.raise_alert(conn, **kwargs)

    def listing(self, since_us: int, limit: int, kind: str | None = None) -> dict[str, Any]:
        with self._ctx.db.read() as conn:
            rows = AlertRepo.since(conn, since_us, limit, kind)
        return {
            "items": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "severity": r.severity,
                    "title": r.title,
                    "parties": r.parties,
                    "refs": r.refs,
                    "created": iso(r.created),
                    "data": r.data,
                }
                for r in rows
            ]
        }
