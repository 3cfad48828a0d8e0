"""The audit trail: every state-changing attempt, refusals included, in a table and the log.

Each record is written in one transaction with its node-log entry (metadata only:
who, role, terminal, action, target, outcome, HTTP status; never request bodies,
passwords, tokens or the free-text detail), so the trail is covered by the log's
signed, witnessed checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from molink.core.ids import uuid7
from molink.errors import InvalidInput
from molink.services.context import NodeContext
from molink.services.queries import iso
from molink.storage.audit import OUTCOMES, AuditFilter, AuditRecord, AuditRepo

__all__ = ["Actor", "AuditService"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, for the trail: an operator through a terminal, or a local CLI user."""

    operator: str | None
    role: str | None = None
    terminal: str | None = None
    source: str | None = None


class AuditService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def record_in(
        self,
        conn: Connection,
        actor: Actor,
        *,
        action: str,
        outcome: str,
        target: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> AuditRecord:
        """Add a record (and its log entry) in the caller's transaction."""
        if outcome not in OUTCOMES:
            raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
        ctx = self._ctx
        now_us = ctx.now_us()
        record = AuditRecord(
            id=uuid7(ctx.clock.now(), ctx.random(10)),
            time=now_us,
            action=action[:64],
            outcome=outcome,
            operator=None if actor.operator is None else actor.operator[:64],
            role=actor.role,
            terminal=None if actor.terminal is None else actor.terminal[:64],
            target=None if target is None else target[:200],
            status=status,
            detail=None if detail is None else detail[:2000],
            source=None if actor.source is None else actor.source[:64],
        )
        (index,) = ctx.log.append(conn, [record.log_entry()], now_us)
        stored = replace(record, log_index=index)
        AuditRepo.add(conn, stored)
        return stored

    def record(self, actor: Actor, **kwargs: Any) -> AuditRecord:
        """Add a record in its own transaction."""
        with self._ctx.db.write() as conn:
            return self.record_in(conn, actor, **kwargs)

    def listing(self, filt: AuditFilter, *, limit: int, cursor: str | None) -> dict[str, Any]:
        """Records in the order recorded; ``next`` is the following page's cursor (or None)."""
        after = _parse_cursor(cursor) if cursor else None
        with self._ctx.db.read() as conn:
            rows = AuditRepo.listing(conn, filt, limit=limit + 1, after=after)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = str(rows[-1].log_index) if more and rows else None
        return {"items": [view(r) for r in rows], "next": nxt}


def view(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "time": iso(record.time),
        "operator": record.operator,
        "role": record.role,
        "terminal": record.terminal,
        "action": record.action,
        "target": record.target,
        "outcome": record.outcome,
        "status": record.status,
        "detail": record.detail,
        "source": record.source,
        "log_index": record.log_index,
    }


def _parse_cursor(cursor: str) -> int:
    if not cursor.isdigit() or len(cursor) > 19:
        raise InvalidInput("invalid cursor")
    return int(cursor)
