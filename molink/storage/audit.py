"""The audit trail: who did what, from which terminal, when, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from molink.storage.schema import audit

__all__ = ["OUTCOMES", "AuditFilter", "AuditRecord", "AuditRepo"]

OUTCOMES = ("ok", "refused", "failed")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One attempt. ``detail`` stays in the table; the log gets only the metadata."""

    id: str
    time: int
    action: str
    outcome: str
    operator: str | None = None
    role: str | None = None
    terminal: str | None = None
    target: str | None = None
    status: int | None = None
    detail: str | None = None
    source: str | None = None
    log_index: int | None = None

    def log_entry(self) -> dict[str, Any]:
        """The node-log entry: metadata only (no detail text, no source address)."""
        return {
            "type": "audit",
            "id": self.id,
            "time": self.time // 1000,
            "operator": self.operator,
            "role": self.role,
            "terminal": self.terminal,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "status": self.status,
        }

    @classmethod
    def from_row(cls, row: Row[Any]) -> AuditRecord:
        return cls(**{k: getattr(row, k) for k in cls.__dataclass_fields__})

    def to_row(self) -> dict[str, Any]:
        # Flat fields only: a comprehension, not dataclasses.asdict, which deep-copies
        # every value on a path every request takes.
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(AuditRecord))


@dataclass(frozen=True, slots=True)
class AuditFilter:
    operator: str | None = None
    action: str | None = None
    outcome: str | None = None
    since_us: int | None = None
    until_us: int | None = None


_INSERT = insert(audit)


class AuditRepo:
    @staticmethod
    def add(conn: Connection, record: AuditRecord) -> None:
        conn.execute(_INSERT, record.to_row())

    @staticmethod
    def listing(
        conn: Connection, filt: AuditFilter, *, limit: int, after: int | None = None
    ) -> list[AuditRecord]:
        """In the order recorded (their log indexes), keyset-paginated on the log index."""
        query = select(audit)
        if filt.operator is not None:
            query = query.where(audit.c.operator == filt.operator)
        if filt.action is not None:
            if filt.action.endswith(".*"):
                query = query.where(audit.c.action.startswith(filt.action[:-1], autoescape=True))
            else:
                query = query.where(audit.c.action == filt.action)
        if filt.outcome is not None:
            query = query.where(audit.c.outcome == filt.outcome)
        if filt.since_us is not None:
            query = query.where(audit.c.time >= filt.since_us)
        if filt.until_us is not None:
            query = query.where(audit.c.time < filt.until_us)
        if after is not None:
            query = query.where(audit.c.log_index > after)
        rows = conn.execute(query.order_by(audit.c.log_index).limit(limit))
        return [AuditRecord.from_row(r) for r in rows]
