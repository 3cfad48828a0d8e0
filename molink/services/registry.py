"""The terminal registry: enrolment, approval, rejection, revocation, geofences, quotas.

Lifecycle (each step logged in the node's log, in the step's own transaction)::

    (enrol) ──▶ pending ──approve──▶ approved ──revoke──▶ revoked
                   │                                    ▲
                   ├──reject──▶ rejected                │
                   └──────────────revoke────────────────┘

Revocation is final and immediate: every token and session of the terminal is revoked
in the same transaction, every request re-checks the terminal, and open event streams
are told at once (``access.revoked`` on the event bus) and re-check it.

Quotas: a unit may hold at most ``quota(unit)`` approved terminals (default
``DEFAULT_UNIT_QUOTA``; ``*`` sets the default for all units), and as many pending
enrolments again, so that unauthenticated enrolments cannot grow without bound.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection

from molink.core.canonical import canonical_json
from molink.core.geofence import parse_geofence
from molink.core.terminal import (
    KINDS,
    enrol_text,
    parse_public_key,
    terminal_fingerprint,
    terminal_id,
    validate_label,
    validate_unit,
    verify_proof,
)
from molink.errors import InvalidInput, NotAuthenticated, StateConflict
from molink.services.context import NodeContext
from molink.services.queries import iso
from molink.storage.log import LogRepo
from molink.storage.terminals import STATUSES, Terminal, TerminalRepo

__all__ = ["MAX_PENDING", "TerminalService", "provision_terminal", "terminal_view"]

MAX_PENDING = 500  # across all units


def provision_terminal(
    conn: Connection, log: LogRepo, name: str, now_us: int, *, unit: str = "node"
) -> Terminal:
    """A keyless, approved terminal that carries tokens issued out of band (e.g. ``cli``).

    Provisioned terminals cannot log in (they hold no key); revoking one revokes every
    token bound to it, like any other terminal.
    """
    found = TerminalRepo.find(conn, name)
    if found is not None:
        if found.status != "approved":
            raise StateConflict(f"terminal {name!r} is {found.status}")
        return found
    if not 1 <= len(name) <= 64 or not name.isprintable():
        raise InvalidInput("a terminal name has 1-64 printable characters")
    terminal = Terminal(
        id=name,
        kind="provisioned",
        label=f"provisioned terminal {name}",
        unit=unit,
        public_key=None,
        status="approved",
        geofence=None,
        created=now_us,
        updated=now_us,
        decided_by="provisioning",
        reason=None,
    )
    TerminalRepo.add(conn, terminal)
    entry = {"type": "terminal.provisioned", "terminal": name, "unit": unit}
    log.append(conn, [{**entry, "time": now_us // 1000}], now_us)
    return terminal


def terminal_view(t: Terminal) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind,
        "label": t.label,
        "unit": t.unit,
        "status": t.status,
        "fingerprint": None if t.public_key is None else terminal_fingerprint(t.public_key),
        "geofence": t.geofence,
        "created": iso(t.created),
        "updated": iso(t.updated),
        "decided_by": t.decided_by,
        "reason": t.reason,
    }


class TerminalService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def _log(self, conn: Connection, entry: dict[str, Any]) -> None:
        now_us = self._ctx.now_us()
        self._ctx.log.append(conn, [{**entry, "time": now_us // 1000}], now_us)

    def enrol(
        self, *, public_key: str, kind: str, unit: str, label: str, proof: str
    ) -> dict[str, Any]:
        """Register a terminal as pending; ``proof`` signs ``core.terminal.enrol_text``."""
        raw = parse_public_key(public_key)
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        validate_unit(unit)
        validate_label(label)
        try:
            verify_proof(raw, enrol_text(self._ctx.party, raw, kind, unit, label), proof)
        except NotAuthenticated as exc:
            raise InvalidInput(f"proof: {exc.message}") from exc
        ctx = self._ctx
        now_us = ctx.now_us()
        with ctx.db.write() as conn:
            existing = TerminalRepo.by_key(conn, raw)
            if existing is not None:
                return terminal_view(existing)  # idempotent: the same key enrols once
            pending = TerminalRepo.count(conn, unit=unit, status="pending")
            if pending >= TerminalRepo.quota(conn, unit):
                raise StateConflict(f"unit {unit!r} has too many pending enrolments")
            if TerminalRepo.count(conn, unit=None, status="pending") >= MAX_PENDING:
                raise StateConflict("too many pending enrolments on this node")
            terminal = Terminal(
                id=terminal_id(raw),
                kind=kind,
                label=label,
                unit=unit,
                public_key=raw,
                status="pending",
                geofence=None,
                created=now_us,
                updated=now_us,
                decided_by=None,
                reason=None,
            )
            TerminalRepo.add(conn, terminal)
            self._log(
                conn,
                {
                    "type": "terminal.enrolled",
                    "terminal": terminal.id,
                    "kind": kind,
                    "unit": unit,
                    "key_sha256": hashlib.sha256(raw).hexdigest(),
                },
            )
        return terminal_view(terminal)

    def provision(self, conn: Connection, name: str, *, unit: str = "node") -> Terminal:
        return provision_terminal(conn, self._ctx.log, name, self._ctx.now_us(), unit=unit)

    def decide(
        self, terminal_id: str, status: str, *, by: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Approve, reject or revoke a terminal (see the lifecycle in the module doc)."""
        if status not in STATUSES[1:]:
            raise InvalidInput("a decision is approved, rejected or revoked")
        ctx = self._ctx
        with ctx.db.write() as conn:
            terminal = TerminalRepo.get(conn, terminal_id)
            allowed_from = {
                "approved": ("pending",),
                "rejected": ("pending",),
                "revoked": ("pending", "approved"),
            }[status]
            if terminal.status not in allowed_from:
                raise StateConflict(
                    f"terminal {terminal_id!r} is {terminal.status}; it cannot become {status}"
                )
            if status == "approved":
                quota = TerminalRepo.quota(conn, terminal.unit)
                if TerminalRepo.count(conn, unit=terminal.unit, status="approved") >= quota:
                    raise StateConflict(
                        f"unit {terminal.unit!r} has reached its quota of {quota} terminals"
                    )
            TerminalRepo.decide(
                conn, terminal_id, status=status, by=by, reason=reason, now_us=ctx.now_us()
            )
            revoked_tokens = 0
            if status == "revoked":
                revoked_tokens = TerminalRepo.revoke_tokens(conn, terminal_id)
            self._log(
                conn,
                {
                    "type": f"terminal.{status}",
                    "terminal": terminal_id,
                    "unit": terminal.unit,
                    "by": by,
                },
            )
            updated = TerminalRepo.get(conn, terminal_id)
        if status == "revoked":
            ctx.events.publish("access.revoked", terminal=terminal_id)
        return {**terminal_view(updated), "revoked_tokens": revoked_tokens}

    def set_geofence(self, terminal_id: str, geofence: Any, *, by: str) -> dict[str, Any]:
        """Set (a GeoJSON Polygon/MultiPolygon) or clear (``None``) a terminal's geofence."""
        normalised = None if geofence is None else dict(parse_geofence(geofence).geojson)
        ctx = self._ctx
        with ctx.db.write() as conn:
            TerminalRepo.get(conn, terminal_id)
            TerminalRepo.set_geofence(conn, terminal_id, normalised, ctx.now_us())
            digest = None
            if normalised is not None:
                digest = hashlib.sha256(canonical_json(normalised)).hexdigest()
            self._log(
                conn,
                {
                    "type": "terminal.geofence",
                    "terminal": terminal_id,
                    "geofence_sha256": digest,
                    "by": by,
                },
            )
            updated = TerminalRepo.get(conn, terminal_id)
        ctx.events.publish("access.revoked", terminal=terminal_id)  # streams re-check
        return terminal_view(updated)

    def set_quota(self, unit: str, max_terminals: int, *, by: str) -> dict[str, int]:
        if unit != "*":
            validate_unit(unit)
        if not 0 <= max_terminals <= 100_000:
            raise InvalidInput("a quota is between 0 and 100000 terminals")
        with self._ctx.db.write() as conn:
            TerminalRepo.set_quota(conn, unit, max_terminals)
            self._log(
                conn,
                {"type": "unit.quota", "unit": unit, "max_terminals": max_terminals, "by": by},
            )
            return TerminalRepo.quotas(conn)

    def quotas(self) -> dict[str, Any]:
        with self._ctx.db.read() as conn:
            explicit = TerminalRepo.quotas(conn)
            units = {t.unit for t in TerminalRepo.listing(conn)} | (set(explicit) - {"*"})
            usage = {
                u: {
                    "quota": TerminalRepo.quota(conn, u),
                    "approved": TerminalRepo.count(conn, unit=u, status="approved"),
                    "pending": TerminalRepo.count(conn, unit=u, status="pending"),
                }
                for u in sorted(units)
            }
            default = TerminalRepo.quota(conn, "*")
        return {"default": default, "units": usage}

    def listing(self, *, status: str | None = None, unit: str | None = None) -> list[Terminal]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        with self._ctx.db.read() as conn:
            return TerminalRepo.listing(conn, status=status, unit=unit)

    def get(self, terminal_id: str) -> Terminal:
        with self._ctx.db.read() as conn:
            return TerminalRepo.get(conn, terminal_id)
