"""Client terminals, per-unit quotas and one-time login challenges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from molink.errors import NotFound
from molink.storage.schema import login_challenges, terminals, tokens, unit_quotas

__all__ = ["DEFAULT_UNIT_QUOTA", "STATUSES", "Terminal", "TerminalRepo"]

DEFAULT_UNIT_QUOTA = 20
STATUSES = ("pending", "approved", "rejected", "revoked")


@dataclass(frozen=True, slots=True)
class Terminal:
    id: str
    kind: str
    label: str
    unit: str
    public_key: bytes | None
    status: str
    geofence: dict[str, Any] | None
    created: int
    updated: int
    decided_by: str | None
    reason: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> Terminal:
        return cls(
            id=row.id,
            kind=row.kind,
            label=row.label,
            unit=row.unit,
            public_key=None if row.public_key is None else bytes(row.public_key),
            status=row.status,
            geofence=row.geofence,
            created=row.created,
            updated=row.updated,
            decided_by=row.decided_by,
            reason=row.reason,
        )


class TerminalRepo:
    @staticmethod
    def add(conn: Connection, terminal: Terminal) -> None:
        conn.execute(
            insert(terminals).values(
                id=terminal.id,
                kind=terminal.kind,
                label=terminal.label,
                unit=terminal.unit,
                public_key=terminal.public_key,
                status=terminal.status,
                geofence=terminal.geofence,
                created=terminal.created,
                updated=terminal.updated,
                decided_by=terminal.decided_by,
                reason=terminal.reason,
            )
        )

    @staticmethod
    def find(conn: Connection, terminal_id: str) -> Terminal | None:
        row = conn.execute(select(terminals).where(terminals.c.id == terminal_id)).first()
        return None if row is None else Terminal.from_row(row)

    @classmethod
    def get(cls, conn: Connection, terminal_id: str) -> Terminal:
        found = cls.find(conn, terminal_id)
        if found is None:
            raise NotFound(f"no terminal {terminal_id!r}")
        return found

    @staticmethod
    def by_key(conn: Connection, public_key: bytes) -> Terminal | None:
        row = conn.execute(select(terminals).where(terminals.c.public_key == public_key)).first()
        return None if row is None else Terminal.from_row(row)

    @staticmethod
    def listing(
        conn: Connection, *, status: str | None = None, unit: str | None = None
    ) -> list[Terminal]:
        query = select(terminals)
        if status is not None:
            query = query.where(terminals.c.status == status)
        if unit is not None:
            query = query.where(terminals.c.unit == unit)
        rows = conn.execute(query.order_by(terminals.c.unit, terminals.c.created, terminals.c.id))
        return [Terminal.from_row(r) for r in rows]

    @staticmethod
    def count(conn: Connection, *, unit: str | None, status: str) -> int:
        query = select(func.count()).select_from(terminals).where(terminals.c.status == status)
        if unit is not None:
            query = query.where(terminals.c.unit == unit)
        return int(conn.execute(query).scalar() or 0)

    @staticmethod
    def decide(
        conn: Connection, terminal_id: str, *, status: str, by: str, reason: str | None, now_us: int
    ) -> None:
        conn.execute(
            update(terminals)
            .where(terminals.c.id == terminal_id)
            .values(status=status, decided_by=by, reason=reason, updated=now_us)
        )

    @staticmethod
    def set_geofence(
        conn: Connection, terminal_id: str, geofence: dict[str, Any] | None, now_us: int
    ) -> None:
        conn.execute(
            update(terminals)
            .where(terminals.c.id == terminal_id)
            .values(geofence=geofence, updated=now_us)
        )

    @staticmethod
    def revoke_tokens(conn: Connection, terminal_id: str) -> int:
        result = conn.execute(
            update(tokens)
            .where(tokens.c.terminal == terminal_id, tokens.c.revoked.is_(False))
            .values(revoked=True)
        )
        return int(result.rowcount or 0)

    @staticmethod
    def quota(conn: Connection, unit: str) -> int:
        """The unit's own quota, else the ``*`` default, else ``DEFAULT_UNIT_QUOTA``."""
        rows = {
            r.unit: int(r.max_terminals)
            for r in conn.execute(select(unit_quotas).where(unit_quotas.c.unit.in_([unit, "*"])))
        }
        return rows.get(unit, rows.get("*", DEFAULT_UNIT_QUOTA))

    @staticmethod
    def set_quota(conn: Connection, unit: str, max_terminals: int) -> None:
        conn.execute(delete(unit_quotas).where(unit_quotas.c.unit == unit))
        conn.execute(insert(unit_quotas).values(unit=unit, max_terminals=max_terminals))

    @staticmethod
    def quotas(conn: Connection) -> dict[str, int]:
        return {r.unit: int(r.max_terminals) for r in conn.execute(select(unit_quotas))}

    @staticmethod
    def add_challenge(
        conn: Connection, challenge: str, terminal_id: str, expires_us: int, now_us: int
    ) -> None:
        conn.execute(delete(login_challenges).where(login_challenges.c.expires < now_us))
        conn.execute(
            insert(login_challenges).values(
                challenge=challenge, terminal=terminal_id, expires=expires_us
            )
        )

    @staticmethod
    def take_challenge(conn: Connection, challenge: str) -> tuple[str, int] | None:
        """Consume a challenge (one use only); returns ``(terminal, expires)`` if it existed."""
        row = conn.execute(
            select(login_challenges).where(login_challenges.c.challenge == challenge)
        ).first()
        if row is None:
            return None
        conn.execute(delete(login_challenges).where(login_challenges.c.challenge == challenge))
        return str(row.terminal), int(row.expires)
