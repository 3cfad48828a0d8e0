"""Incidents: filing, accounts side by side, comments, status, requests for explanation,
evidence attachments and the joint timeline.

Every change is a signed object sent on the incident's channel (see core.incident);
each node folds the same objects into the same state. Attachments are stored encrypted
at rest (AES-256-GCM, key derived from the party key); their SHA-256 goes in the log.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, insert, or_, select

from molink.core.dtg import format_dtg, parse_utc
from molink.core.incident import (
    DEFAULT_RFE_DEADLINE,
    INCIDENT_TYPES,
    IncidentEvent,
    apply_incident_event,
    fold,
)
from molink.core.precedence import Precedence
from molink.errors import InvalidInput, NotFound, OversizedInput
from molink.services.alerts import AlertService
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService
from molink.services.queries import iso
from molink.storage.db import micros
from molink.storage.schema import alerts, attachments, messages

__all__ = ["MAX_ATTACHMENT_BYTES", "IncidentService"]

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def _event(row: Any) -> IncidentEvent:
    return IncidentEvent(
        type=row.type,
        party=row.sender,
        message_id=row.id,
        created=iso(row.created) or "",
        fields=row.content or {},
    )


class IncidentService:
    def __init__(
        self, ctx: NodeContext, messaging: MessagingService, alerts_: AlertService
    ) -> None:
        self._ctx = ctx
        self._messaging = messaging
        self._alerts = alerts_
        seed = ctx.keys.seeds()[0]
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"molink attachments v1"
        ).derive(seed)

    # ----------------------------------------------------------------- changes
    def _members(self, conn: Connection, channel: str) -> tuple[list[str], list[str]]:
        row = get_channel(conn, channel)
        if row is None:
            raise InvalidInput(f"channel: unknown channel {channel!r}")
        others = sorted(set(row.members) - {self._ctx.party})
        voters = sorted(set(row.members) - ({row.mediator} if row.mediator else set()))
        return others, voters

    def file(
        self,
        *,
        channel: str,
        title: str,
        precedence: Precedence,
        account: dict[str, Any],
        operator: str,
    ) -> dict[str, Any]:
        """File an incident with this party's first account."""
        with self._ctx.db.read() as conn:
            others, voters = self._members(conn, channel)
        fields = {
            "title": title,
            "channel": channel,
            "precedence": precedence.value,
            "account": account,
        }
        self._validate_new(fields, voters)
        submitted = self._messaging.send_object(
            "incident.file",
            to=others,
            precedence=precedence,
            channel=channel,
            fields=fields,
            summary=f"incident: {title}",
            operator=operator,
        )
        return self.view(submitted.id)

    def _validate_new(self, fields: dict[str, Any], voters: list[str]) -> None:
        probe = IncidentEvent("incident.file", self._ctx.party, "new", "", fields)
        fold(probe, voters, [])

    def add(
        self, incident_id: str, type_: str, fields: dict[str, Any], *, operator: str
    ) -> dict[str, Any]:
        """Add an account, comment, status change, RFE or RFE reply (checked by the rule)."""
        if type_ not in INCIDENT_TYPES or type_ == "incident.file":
            raise InvalidInput(f"type: one of {INCIDENT_TYPES[1:]}")
        state, _refused, channel = self._state(incident_id)
        if type_ == "incident.rfe":
            deadline = self._ctx.clock.now() + timedelta(
                hours=int(
                    fields.get("deadline_hours", DEFAULT_RFE_DEADLINE.total_seconds() // 3600)
                )
            )
            fields = {**fields, "deadline": iso(micros(deadline))}
        probe = IncidentEvent(
            type_, self._ctx.party, "probe", iso(self._ctx.now_us()) or "", fields
        )
        apply_incident_event(state, probe)  # the same rule every node's fold applies
        with self._ctx.db.read() as conn:
            others, _ = self._members(conn, channel)
        self._messaging.send_object(
            type_,
            to=others,
            precedence=Precedence(state.precedence),
            channel=channel,
            fields=fields,
            ref=incident_id,
            summary=f"{type_} on {state.title}",
            operator=operator,
        )
        return self.view(incident_id)

    # ----------------------------------------------------------------- reading
    def _rows(self, conn: Connection, incident_id: str) -> list[Any]:
        return list(
            conn.execute(
                select(messages)
                .where(
                    messages.c.type.in_(INCIDENT_TYPES),
                    or_(messages.c.id == incident_id, messages.c.ref == incident_id),
                )
                .order_by(messages.c.created, messages.c.sender, messages.c.seq)
            )
        )

    def _state(self, incident_id: str) -> tuple[Any, list[tuple[IncidentEvent, str]], str]:
        with self._ctx.db.read() as conn:
            rows = self._rows(conn, incident_id)
            filed = next(
                (r for r in rows if r.id == incident_id and r.type == "incident.file"), None
            )
            if filed is None:
                raise NotFound(f"no incident {incident_id}")
            _, voters = self._members(conn, filed.channel)
        events = [_event(r) for r in rows if r.id != incident_id]
        state, refused = fold(_event(filed), voters, events)
        return state, refused, filed.channel

    def view(self, incident_id: str) -> dict[str, Any]:
        state, refused, _ = self._state(incident_id)
        latest = state.latest_accounts()
        return {
            "id": state.id,
            "channel": state.channel,
            "title": state.title,
            "precedence": state.precedence,
            "status": state.status,
            "filed_by": state.filed_by,
            "filed_at": state.filed_at,
            "parties": sorted(state.voters),
            "close_votes": sorted(state.close_votes),
            "accounts": {
                p: {
                    "version": a.version,
                    "message_id": a.message_id,
                    "created": a.created,
                    **a.fields,
                }
                for p, a in latest.items()
            },
            "account_versions": {p: len(v) for p, v in state.accounts.items()},
            "comments": [
                {
                    "party": c.party,
                    "text": c.fields.get("text"),
                    "created": c.created,
                    "id": c.message_id,
                }
                for c in state.comments
            ],
            "rfes": [
                {
                    "id": r.message_id,
                    "party": r.party,
                    "question": r.fields.get("question"),
                    "deadline": r.fields.get("deadline"),
                    "created": r.created,
                    "reply": _reply(state.replies.get(r.message_id)),
                }
                for r in state.rfes.values()
            ],
            "refused": [
                {"id": e.message_id, "party": e.party, "type": e.type, "reason": why}
                for e, why in refused
            ],
        }

    def listing(self) -> list[dict[str, Any]]:
        with self._ctx.db.read() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(messages.c.id)
                    .where(messages.c.type == "incident.file")
                    .order_by(messages.c.created.desc())
                )
            ]
        return [self.view(i) for i in ids]

    def timeline(
        self, incident_id: str, *, margin: timedelta = timedelta(hours=2)
    ) -> list[dict[str, Any]]:
        """Messages on the channel, accounts, comments and alerts, merged in time order."""
        state, _, channel = self._state(incident_id)
        times = [parse_utc(a.fields["time_start"]) for v in state.accounts.values() for a in v]
        times += [parse_utc(a.fields["time_end"]) for v in state.accounts.values() for a in v]
        start = (min(times) if times else parse_utc(state.filed_at)) - margin
        items: list[dict[str, Any]] = []
        for party, versions in state.accounts.items():
            for a in versions:
                items.append(
                    {
                        "time": a.fields["time_start"],
                        "kind": "account",
                        "party": party,
                        "text": a.fields["narrative"],
                        "version": a.version,
                        "ref": a.message_id,
                    }
                )
        with self._ctx.db.read() as conn:
            for row in conn.execute(
                select(messages).where(
                    messages.c.channel == channel,
                    messages.c.type == "message",
                    messages.c.created >= micros(start),
                )
            ):
                items.append(
                    {
                        "time": iso(row.created),
                        "kind": "message",
                        "party": row.sender,
                        "text": row.subject or row.body,
                        "ref": row.id,
                    }
                )
            for row in conn.execute(select(alerts).where(alerts.c.created >= micros(start))):
                if incident_id in (row.refs or []) or row.kind in ("intrusion", "conflict"):
                    items.append(
                        {
                            "time": iso(row.created),
                            "kind": f"alert:{row.kind}",
                            "party": ",".join(row.parties),
                            "text": row.title,
                            "ref": row.id,
                        }
                    )
        for c in state.comments:
            items.append(
                {
                    "time": c.created,
                    "kind": "comment",
                    "party": c.party,
                    "text": c.fields.get("text"),
                    "ref": c.message_id,
                }
            )
        items.sort(key=lambda i: (parse_utc(i["time"]), i["kind"], i["ref"]))
        for item in items:
            item["dtg"] = format_dtg(parse_utc(item["time"]))
        return items

    # ----------------------------------------------------------------- evidence files
    def store_attachment(
        self, data: bytes, *, name: str, media_type: str, incident_id: str | None
    ) -> dict[str, Any]:
        if not data:
            raise InvalidInput("attachment is empty")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise OversizedInput(f"attachments are limited to {MAX_ATTACHMENT_BYTES} bytes")
        if not 0 < len(name) <= 200 or "/" in name or "\\" in name:
            raise InvalidInput("name: a plain file name of 1-200 characters")
        sha = hashlib.sha256(data).hexdigest()
        nonce = os.urandom(12)
        sealed = AESGCM(self._key).encrypt(nonce, data, sha.encode())
        ctx = self._ctx
        with ctx.db.write() as conn:
            exists = conn.execute(
                select(attachments.c.sha256).where(attachments.c.sha256 == sha)
            ).first()
            if exists is None:
                conn.execute(
                    insert(attachments).values(
                        sha256=sha,
                        name=name,
                        media_type=media_type[:100],
                        size=len(data),
                        nonce=nonce,
                        ciphertext=sealed,
                        incident=incident_id,
                        created=ctx.now_us(),
                    )
                )
                ctx.log.append(
                    conn,
                    [
                        {
                            "type": "attachment.stored",
                            "sha256": sha,
                            "size": len(data),
                            "incident": incident_id,
                            "time": ctx.now_us() // 1000,
                        }
                    ],
                    ctx.now_us(),
                )
        return {"sha256": sha, "name": name, "media_type": media_type, "size": len(data)}

    def read_attachment(self, sha256: str) -> tuple[bytes, str, str]:
        with self._ctx.db.read() as conn:
            row = conn.execute(select(attachments).where(attachments.c.sha256 == sha256)).first()
        if row is None:
            raise NotFound(f"no attachment {sha256}")
        data = AESGCM(self._key).decrypt(bytes(row.nonce), bytes(row.ciphertext), sha256.encode())
        return data, row.name, row.media_type

    # ----------------------------------------------------------------- deadlines
    def scan_rfe_deadlines(self, now: datetime) -> int:
        """Escalate requests for explanation that passed their reply deadline."""
        raised = 0
        with self._ctx.db.read() as conn:
            rfes = conn.execute(select(messages).where(messages.c.type == "incident.rfe")).all()
            replied = {
                (r.content or {}).get("rfe")
                for r in conn.execute(
                    select(messages).where(messages.c.type == "incident.rfe_reply")
                )
            }
        for rfe in rfes:
            deadline = (rfe.content or {}).get("deadline")
            if rfe.id in replied or not isinstance(deadline, str) or parse_utc(deadline) > now:
                continue
            if self._alerts.raise_now(
                kind="deadline",
                severity="IMMEDIATE",
                title=f"request for explanation from {rfe.sender} unanswered since "
                f"{format_dtg(parse_utc(deadline))}",
                parties=[rfe.sender, *rfe.recipients],
                refs=[rfe.ref or "", rfe.id],
                dedup_key=f"rfe:{rfe.id}",
            ):
                raised += 1
        return raised


def _reply(event: IncidentEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {
        "id": event.message_id,
        "party": event.party,
        "text": event.fields.get("text"),
        "created": event.created,
    }
