"""Sending messages and acknowledging received ones (DESIGN.md "Message life" 1-5, 8).

Each use case is one write transaction: the signed object, its outbox rows and
its log entry commit together, so the API answers 201 only once all of them are
durable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from molink.core.deadlines import DeadlinePolicy
from molink.core.dtg import format_dtg, format_utc
from molink.core.envelope import Directory, Opened, sign_and_seal
from molink.core.ids import uuid7
from molink.core.message import ack_fields, message_fields
from molink.core.precedence import Precedence
from molink.errors import InvalidInput, NotFound, StateConflict
from molink.services.channels import require_open
from molink.services.context import NodeContext
from molink.storage.db import micros

__all__ = ["CONTROL_TYPES", "Acknowledged", "MessagingService", "Submitted"]

CONTROL_TYPES = frozenset({"ack", "channel.event", "translation", "catalogue.agree"})


@dataclass(frozen=True, slots=True)
class Submitted:
    id: str
    channel: str
    seq: int
    created: int
    jws_sha256: str
    log_index: int


@dataclass(frozen=True, slots=True)
class Acknowledged:
    message_id: str
    ack_id: str


class MessagingService:
    """Use cases of an operator: send a message, acknowledge a received one."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def send(
        self,
        *,
        to: Sequence[str],
        precedence: Precedence,
        subject: str,
        body: str,
        lang: str,
        channel: str | None = None,
        code: str | None = None,
        params: Mapping[str, str] | None = None,
        operator: str = "system",
        also: Callable[[Connection], None] | None = None,
    ) -> Submitted:
        """Sign, seal, queue and log a message. Returns once all of it is committed.

        ``also`` runs in the same transaction after the message is written (the API's
        audit record: one commit for the action and its record, both or neither).
        """
        recipients = self._check_recipients(to)
        fields = message_fields(subject=subject, body=body, lang=lang, code=code, params=params)
        extra = {
            "subject": subject,
            "body": body,
            "lang": lang,
            "code": code,
            "params": dict(params) if code is not None and params else None,
        }
        return self._send_signed(
            "message", recipients, precedence, channel, fields, extra, operator=operator, also=also
        )

    def send_object(
        self,
        type_: str,
        *,
        to: Sequence[str],
        precedence: Precedence,
        channel: str | None,
        fields: Mapping[str, Any],
        summary: str = "",
        operator: str = "system",
        conn: Connection | None = None,
        ref: str | None = None,
    ) -> Submitted:
        """Send any signed object type (notifications, channel events, ...)."""
        recipients = self._check_recipients(to)
        body = dict(fields)
        if ref is not None:
            body["ref"] = ref
        extra = {"subject": summary, "body": None, "lang": None, "content": body}
        return self._send_signed(
            type_,
            recipients,
            precedence,
            channel,
            body,
            extra,
            operator=operator,
            conn=conn,
            ref=ref,
        )

    def _check_recipients(self, to: Sequence[str]) -> list[str]:
        recipients = sorted(set(to))
        if not recipients:
            raise InvalidInput("'to' names no recipient")
        if self._ctx.party in recipients:
            raise InvalidInput("a party does not send to itself")
        directory = self._ctx.directory()
        unknown = [p for p in recipients if p not in directory]
        if unknown:
            directory = self._ctx.directory(refresh=True)
            unknown = [p for p in recipients if p not in directory]
        if unknown:
            raise InvalidInput(f"unknown recipient(s): {', '.join(unknown)}")
        return recipients

    def _send_signed(
        self,
        type_: str,
        recipients: list[str],
        precedence: Precedence,
        channel: str | None,
        fields: dict[str, Any],
        extra: Mapping[str, Any],
        *,
        operator: str,
        ref: str | None = None,
        conn: Connection | None = None,
        also: Callable[[Connection], None] | None = None,
    ) -> Submitted:
        if conn is not None:
            return self._write(
                conn, type_, recipients, precedence, channel, fields, extra, operator, ref
            )
        with self._ctx.db.write() as own:
            submitted = self._write(
                own, type_, recipients, precedence, channel, fields, extra, operator, ref
            )
            if also is not None:
                also(own)
        self._ctx.events.publish("message.queued", id=submitted.id, type=type_)
        return submitted

    def _write(
        self,
        conn: Connection,
        type_: str,
        recipients: list[str],
        precedence: Precedence,
        channel: str | None,
        fields: dict[str, Any],
        extra: Mapping[str, Any],
        operator: str,
        ref: str | None,
    ) -> Submitted:
        ctx = self._ctx
        now = ctx.clock.now()
        now_us = micros(now)
        chan = require_open(
            conn, channel, ctx.party, recipients, now_us, control=type_ in CONTROL_TYPES
        )
        seq = ctx.messages.next_seq(conn, chan.id)
        msg_id = uuid7(now, ctx.random(10))
        signed, envelope = sign_and_seal(
            ctx.keys,
            ctx.directory(),
            type=type_,
            id=msg_id,
            to=recipients,
            channel=chan.id,
            seq=seq,
            created=now,
            precedence=precedence,
            fields=fields,
            random=ctx.random,
        )
        jws, sha = signed.jws.text, signed.sha256
        deadline_us = None
        if type_ == "message":  # a person must acknowledge it in time (ACP 121)
            policy = DeadlinePolicy.default(chan.ack_deadlines)
            deadline_us = micros(policy.deadline(now, precedence))
        (log_index,) = ctx.log.append(
            conn,
            [
                {
                    "type": f"{type_}.sent",
                    "id": msg_id,
                    "jws_sha256": sha,
                    "from": ctx.party,
                    "to": recipients,
                    "channel": chan.id,
                    "seq": seq,
                    "precedence": precedence.value,
                    "time": now_us // 1000,
                    "operator": operator,
                }
            ],
            now_us,
        )
        ctx.messages.insert(
            conn,
            {
                "id": msg_id,
                "direction": "out",
                "type": type_,
                "sender": ctx.party,
                "recipients": recipients,
                "channel": chan.id,
                "seq": seq,
                "precedence": precedence.value,
                "prec_rank": precedence.rank,
                "created": now_us,
                "stored": now_us,
                "jws": jws,
                "jws_sha256": sha,
                "envelope": envelope,
                "log_index": log_index,
                "ref": ref,
                "deadline": deadline_us,
                **extra,
            },
        )
        ctx.messages.queue(conn, msg_id, recipients, precedence.rank, now_us)
        return Submitted(
            id=msg_id, channel=chan.id, seq=seq, created=now_us, jws_sha256=sha, log_index=log_index
        )

    def acknowledge(self, message_id: str, *, operator: str, terminal: str) -> Acknowledged:
        """A person acknowledges a received message; the signed ack travels back."""
        ctx = self._ctx
        with ctx.db.write() as conn:
            row = ctx.messages.find(conn, message_id)
            if row is None or row.direction != "in" or row.type != "message":
                raise NotFound(f"no received message {message_id}")
            if row.ack_id is not None:
                raise StateConflict(
                    f"message {message_id} was already acknowledged",
                    evidence={"ack_id": row.ack_id},
                )
            ack_id = self._ack_in(conn, row, operator=operator, terminal=terminal)
        ctx.events.publish("message.acknowledged", id=message_id, ack_id=ack_id)
        return Acknowledged(message_id=message_id, ack_id=ack_id)

    def _ack_in(self, conn: Connection, row: Any, *, operator: str, terminal: str) -> str:
        fields = ack_fields(
            ref=row.id, ref_sha256=row.jws_sha256, operator=operator, terminal=terminal
        )
        submitted = self._write(
            conn,
            "ack",
            [row.sender],
            Precedence(row.precedence),
            row.channel,
            fields,
            {"subject": None, "body": None, "lang": None},
            operator,
            row.id,
        )
        self._ctx.messages.set_inbound_ack(conn, row.id, submitted.id, operator, submitted.created)
        return submitted.id

    def send_line_test(self, party: str, *, serial: int, when: datetime) -> Submitted:
        """The scheduled, human-readable line test; the receiving node acknowledges it."""
        body = (
            f"Scheduled line test number {serial} from {self._ctx.party} at "
            f"{format_dtg(when)} ({format_utc(when)}). No action is required: this "
            "message is acknowledged automatically by the receiving node."
        )
        fields = {**message_fields(subject="Line test", body=body, lang="en"), "auto_ack": True}
        extra = {"subject": "Line test", "body": body, "lang": "en"}
        return self._send_signed(
            "message", [party], Precedence.ROUTINE, None, fields, extra, operator="system"
        )

    def on_message(self, conn: Connection, opened: Opened, _now_us: int) -> None:
        """Inbound handler: a line test (``auto_ack``) is acknowledged by the node itself."""
        if opened.signed.payload.get("auto_ack") is True:
            row = self._ctx.messages.get(conn, opened.signed.id)
            self._ack_in(conn, row, operator="auto", terminal="node")

    def directory(self) -> Directory:
        return self._ctx.directory()
