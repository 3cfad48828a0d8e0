"""Receiving envelopes from peers (DESIGN.md "Message life" step 7).

A batch is opened and verified envelope by envelope (pure core), then stored in
ONE write transaction: new objects are stored and logged and get a signed
receipt; a duplicate id with the same content gets its stored receipt back; the
same id with different content is a replay and is refused with evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from molink.core.deadlines import DeadlinePolicy
from molink.core.envelope import Directory, Opened, open_envelope
from molink.core.keyrotation import ROTATE_TYPE
from molink.core.receipt import make_receipt
from molink.errors import (
    MolinkError,
    ReplayDetected,
    SignatureInvalid,
    UnknownPeer,
    WrongRecipient,
)
from molink.services.channels import direct_channel_id, ensure_channel, get_channel
from molink.services.context import NodeContext
from molink.storage.db import micros

__all__ = ["InboundHandler", "InboundResult", "InboundService"]


@dataclass(frozen=True, slots=True)
class InboundResult:
    """The answer for one envelope: a receipt, or a typed error."""

    id: str | None
    status: str  # "stored" | "duplicate" | "rejected"
    receipt: str | None = None
    error: MolinkError | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.receipt is not None:
            out["receipt"] = self.receipt
        if self.error is not None:
            out["error"] = {"type": self.error.code, "detail": self.error.message}
        return out


InboundHandler = Callable[[Connection, Opened, int], None]


class InboundService:
    """Stores what peers send. ``handlers`` apply type-specific effects (by object type)
    in the same transaction: acks are built in; channel events, translations and
    catalogue agreements are registered by their services."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._handlers: dict[str, InboundHandler] = {"ack": self._apply_ack}

    def register(self, type_: str, handler: InboundHandler) -> None:
        self._handlers[type_] = handler

    def receive(self, envelopes: Sequence[Mapping[str, Any]]) -> list[InboundResult]:
        results, rotated = self._receive(envelopes)
        if rotated:
            # A peer's key.rotate was stored: what it signed with the new key in the same
            # batch was refused before the new key was known. Open those again.
            again = [
                i
                for i, r in enumerate(results)
                if r.status == "rejected" and isinstance(r.error, (SignatureInvalid, UnknownPeer))
            ]
            if again:
                retried, _ = self._receive([envelopes[i] for i in again])
                for i, result in zip(again, retried, strict=True):
                    results[i] = result
        return results

    def _receive(self, envelopes: Sequence[Mapping[str, Any]]) -> tuple[list[InboundResult], bool]:
        """Open, verify and store a batch; also says whether a peer's keys changed."""
        ctx = self._ctx
        now = ctx.clock.now()
        opened = [self._open(envelope, now) for envelope in envelopes]
        results: list[InboundResult] = []
        stored: list[Opened] = []
        with ctx.db.write() as conn:
            for item in opened:
                if isinstance(item, MolinkError):
                    results.append(InboundResult(id=None, status="rejected", error=item))
                    continue
                result = self._store(conn, item)
                results.append(result)
                if result.status == "stored":
                    stored.append(item)
        if stored:
            ctx.wake_outbox()  # handlers may have queued replies (e.g. automatic acks)
        rotated = any(item.signed.type == ROTATE_TYPE for item in stored)
        if rotated:
            ctx.directory(refresh=True)  # a peer's new keys, now committed
        for item in stored:
            ctx.events.publish(
                f"{item.signed.type}.received",
                id=item.signed.id,
                sender=item.signed.sender,
                precedence=item.signed.precedence.value,
            )
        return results, rotated

    def _open(self, envelope: Mapping[str, Any], now: Any) -> Opened | MolinkError:
        ctx = self._ctx
        try:
            return self._open_with(envelope, now, ctx.directory())
        except (UnknownPeer, SignatureInvalid):
            # A peer added, or a peer's rotated key learned (perhaps by another worker),
            # since the pinned keys were cached: re-read them once.
            try:
                return self._open_with(envelope, now, ctx.directory(refresh=True))
            except MolinkError as exc:
                return exc
        except MolinkError as exc:
            return exc

    def _open_with(self, envelope: Mapping[str, Any], now: Any, directory: Directory) -> Opened:
        """Open with our current key; an envelope sealed to a key we rotated away from
        (the peer had not yet learned the new one) opens with that retired key."""
        ctx = self._ctx
        *older, last = (ctx.keys, *ctx.retired_keys)
        for keys in older:
            try:
                return open_envelope(
                    envelope, me=keys, directory=directory, now=now, max_skew=ctx.max_skew
                )
            except WrongRecipient:
                continue
        return open_envelope(envelope, me=last, directory=directory, now=now, max_skew=ctx.max_skew)

    def _store(self, conn: Connection, opened: Opened) -> InboundResult:
        ctx = self._ctx
        signed = opened.signed
        existing = ctx.messages.find(conn, signed.id)
        if existing is not None:
            if existing.jws_sha256 == signed.sha256 and existing.receipt:
                return InboundResult(id=signed.id, status="duplicate", receipt=existing.receipt)
            return InboundResult(
                id=signed.id,
                status="rejected",
                error=ReplayDetected(
                    f"id {signed.id} was already used for different content",
                    evidence={"stored_sha256": existing.jws_sha256, "jws": signed.jws.text},
                ),
            )
        now_us = ctx.now_us()
        self._ensure_channel(conn, opened, now_us)
        entries: list[dict[str, Any]] = [
            {
                "type": f"{signed.type}.received",
                "id": signed.id,
                "jws_sha256": signed.sha256,
                "from": signed.sender,
                "to": list(signed.to),
                "channel": signed.channel,
                "seq": signed.seq,
                "precedence": signed.precedence.value,
                "time": now_us // 1000,
            }
        ]
        (log_index,) = ctx.log.append(conn, entries, now_us)
        receipt = make_receipt(
            ctx.keys,
            message_id=signed.id,
            jws_sha256=signed.sha256,
            sender=signed.sender,
            received=ctx.clock.now(),
            log_origin=ctx.log_origin,
            log_index=log_index,
        )
        payload = signed.payload
        ctx.messages.insert(
            conn,
            {
                "id": signed.id,
                "direction": "in",
                "type": signed.type,
                "sender": signed.sender,
                "recipients": list(signed.to),
                "channel": signed.channel,
                "seq": signed.seq,
                "precedence": signed.precedence.value,
                "prec_rank": signed.precedence.rank,
                "created": micros(signed.created),
                "stored": now_us,
                "subject": payload.get("subject"),
                "body": payload.get("body"),
                "lang": payload.get("lang"),
                "ref": payload.get("ref"),
                "code": payload.get("code"),
                "params": payload.get("params"),
                "content": _content(payload),
                "deadline": _deadline(conn, signed),
                "jws": signed.jws.text,
                "jws_sha256": signed.sha256,
                "envelope": None,
                "receipt": receipt,
                "log_index": log_index,
            },
        )
        handler = self._handlers.get(signed.type)
        if handler is not None:
            handler(conn, opened, now_us)
        return InboundResult(id=signed.id, status="stored", receipt=receipt)

    def _ensure_channel(self, conn: Connection, opened: Opened, now_us: int) -> None:
        signed = opened.signed
        parties = [signed.sender, *signed.to]
        if get_channel(conn, signed.channel) is None and (
            signed.channel == direct_channel_id(parties)
        ):
            ensure_channel(conn, signed.channel, parties, now_us)

    def _apply_ack(self, conn: Connection, opened: Opened, now_us: int) -> None:
        """An ack for one of OUR messages marks that recipient's delivery acknowledged."""
        ctx = self._ctx
        payload = opened.signed.payload
        original = ctx.messages.find(conn, payload["ref"])
        if original is None or original.direction != "out":
            return
        if original.jws_sha256 != payload["ref_sha256"]:
            return  # acknowledges content we never sent: kept as evidence, changes nothing
        if ctx.messages.mark_acknowledged(
            conn, original.id, opened.signed.sender, opened.signed.id, payload["operator"], now_us
        ):
            ctx.log.append(
                conn,
                [
                    {
                        "type": "ack.applied",
                        "id": opened.signed.id,
                        "ref": original.id,
                        "ref_sha256": original.jws_sha256,
                        "by": opened.signed.sender,
                        "operator": payload["operator"],
                        "time": now_us // 1000,
                    }
                ],
                now_us,
            )


_HEADER_FIELDS = frozenset(
    {
        "v",
        "type",
        "id",
        "from",
        "to",
        "channel",
        "seq",
        "created",
        "precedence",
        "subject",
        "body",
        "lang",
        "code",
        "params",
    }
)


def _content(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    extra = {k: v for k, v in payload.items() if k not in _HEADER_FIELDS}
    return extra or None


def _deadline(conn: Connection, signed: Any) -> int | None:
    """The acknowledgement deadline of a received message (None for other types)."""
    if signed.type != "message":
        return None
    row = get_channel(conn, signed.channel)
    policy = DeadlinePolicy.default(row.ack_deadlines if row is not None else None)
    return micros(policy.deadline(signed.created, signed.precedence))
