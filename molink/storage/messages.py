"""Signed objects (messages, acks) and their per-recipient deliveries (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from molink.errors import NotFound
from molink.storage.db import Database
from molink.storage.schema import channel_seq, deliveries, messages

__all__ = ["Delivery", "MessageRepo"]

STATUS_ORDER = ("queued", "sent", "delivered", "acknowledged")
# Undelivered outbox rows. Spelled as IN, not != "delivered": an inequality on the first
# column of ix_deliveries_due makes SQLite scan every delivery ever made on each drain.
PENDING = ("queued", "sent")

# The statements of the delivery path, built once: building a statement costs several
# times what executing a prepared one does (benchmarks/delivery.py --breakdown).
_SEQ_OF = select(channel_seq.c.next_seq).where(channel_seq.c.channel == bindparam("b_channel"))
_SEQ_SET = (
    update(channel_seq)
    .where(channel_seq.c.channel == bindparam("b_channel"))
    .values(next_seq=bindparam("b_next"))
)
_INSERT_MESSAGE = insert(messages)
_INSERT_DELIVERY = insert(deliveries)
_MESSAGE_BY_ID = select(messages).where(messages.c.id == bindparam("b_id"))
_THIS_DELIVERY = and_(
    deliveries.c.message_id == bindparam("b_message"),
    deliveries.c.recipient == bindparam("b_recipient"),
)
_MARK_ATTEMPT = (
    update(deliveries)
    .where(_THIS_DELIVERY, deliveries.c.status != "delivered")
    .values(
        status="sent",
        attempts=deliveries.c.attempts + 1,
        last_error=bindparam("b_error"),
        next_attempt=bindparam("b_next"),
        claimed_until=None,
    )
)
_MARK_DELIVERED = (
    update(deliveries)
    .where(_THIS_DELIVERY, deliveries.c.status != "delivered")
    .values(
        status="delivered",
        receipt=bindparam("b_receipt"),
        delivered_at=bindparam("b_at"),
        last_error=None,
        attempts=deliveries.c.attempts + 1,
        route=bindparam("b_route"),
        claimed_until=None,
    )
)
_SET_DEADLINE = (
    update(messages).where(messages.c.id == bindparam("b_id")).values(deadline=bindparam("b_at"))
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox item: one signed object to one recipient."""

    message_id: str
    recipient: str
    prec_rank: int
    created: int
    attempts: int
    envelope: dict[str, Any]
    jws_sha256: str


class MessageRepo:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._claim_query: Select[Any] | None = None

    @staticmethod
    def next_seq(conn: Connection, channel: str) -> int:
        """Allocate this node's next sequence number on ``channel`` (starts at 1)."""
        row = conn.execute(_SEQ_OF, {"b_channel": channel}).first()
        if row is None:
            conn.execute(insert(channel_seq).values(channel=channel, next_seq=2))
            return 1
        conn.execute(_SEQ_SET, {"b_channel": channel, "b_next": row.next_seq + 1})
        return int(row.next_seq)

    @staticmethod
    def insert(conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(_INSERT_MESSAGE, row)

    @staticmethod
    def queue(
        conn: Connection, message_id: str, recipients: Sequence[str], prec_rank: int, now_us: int
    ) -> None:
        conn.execute(
            _INSERT_DELIVERY,
            [
                {
                    "message_id": message_id,
                    "recipient": r,
                    "status": "queued",
                    "prec_rank": prec_rank,
                    "created": now_us,
                    "attempts": 0,
                    "next_attempt": now_us,
                }
                for r in recipients
            ],
        )

    @staticmethod
    def get(conn: Connection, message_id: str) -> Row[Any]:
        row = conn.execute(_MESSAGE_BY_ID, {"b_id": message_id}).first()
        if row is None:
            raise NotFound(f"no message {message_id}")
        return row

    @staticmethod
    def find(conn: Connection, message_id: str) -> Row[Any] | None:
        return conn.execute(_MESSAGE_BY_ID, {"b_id": message_id}).first()

    @staticmethod
    def deliveries_of(conn: Connection, message_id: str) -> list[Row[Any]]:
        return list(
            conn.execute(
                select(deliveries)
                .where(deliveries.c.message_id == message_id)
                .order_by(deliveries.c.recipient)
            )
        )

    @staticmethod
    def acks_of(conn: Connection, message_id: str) -> list[Row[Any]]:
        return list(
            conn.execute(
                select(messages).where(messages.c.ref == message_id, messages.c.type == "ack")
            )
        )

    def due(self, conn: Connection, recipient: str, now_us: int, limit: int) -> list[Delivery]:
        """Undelivered items for ``recipient`` that no worker holds now, by precedence, then
        age. Only looks: ``claim`` is what takes items for sending."""
        params = {"b_recipient": recipient, "b_now": now_us, "b_limit": limit}
        return [_delivery(r) for r in conn.execute(_DUE, params)]

    def claim(
        self,
        conn: Connection,
        recipient: str,
        now_us: int,
        limit: int,
        *,
        worker: str,
        until_us: int,
    ) -> list[Delivery]:
        """Take up to ``limit`` due items for ``worker`` until ``until_us`` (a lease).

        Rows that another worker holds are skipped: rows locked by its claiming
        transaction right now (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
        writer), and rows whose lease has not ended. The lease ends early when the
        attempt is recorded (``mark_attempt``, ``mark_delivered``) or ``release``d;
        ``claimed_by`` then stays as the worker that last tried the row.
        """
        if self._claim_query is None:
            self._claim_query = self._db.claim(_DUE, of=deliveries)
        params = {"b_recipient": recipient, "b_now": now_us, "b_limit": limit}
        items = [_delivery(r) for r in conn.execute(self._claim_query, params)]
        if items:
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.recipient == recipient,
                    deliveries.c.message_id.in_([i.message_id for i in items]),
                )
                .values(claimed_by=worker, claimed_until=until_us)
            )
        return items

    @staticmethod
    def release(conn: Connection, items: Sequence[Delivery], worker: str) -> None:
        """End ``worker``'s claims on ``items`` without recording an attempt."""
        for item in items:
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.message_id == item.message_id,
                    deliveries.c.recipient == item.recipient,
                    deliveries.c.claimed_by == worker,
                )
                .values(claimed_until=None)
            )

    @staticmethod
    def release_all(conn: Connection) -> int:
        """End every claim: at start, when no worker of this node is running."""
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.claimed_until.is_not(None))
            .values(claimed_until=None)
        )
        return int(result.rowcount)

    @staticmethod
    def pending_counts(conn: Connection) -> dict[str, dict[int, int]]:
        """Undelivered items per recipient and precedence rank."""
        rows = conn.execute(
            select(deliveries.c.recipient, deliveries.c.prec_rank, func.count())
            .where(deliveries.c.status.in_(PENDING))
            .group_by(deliveries.c.recipient, deliveries.c.prec_rank)
        )
        out: dict[str, dict[int, int]] = {}
        for recipient, rank, count in rows:
            out.setdefault(recipient, {})[int(rank)] = int(count)
        return out

    @staticmethod
    def reschedule_beyond(conn: Connection, horizon_us: int, now_us: int) -> int:
        """Make undelivered items scheduled after ``horizon_us`` due at ``now_us``; count."""
        result = conn.execute(
            update(deliveries)
            .where(
                deliveries.c.status.in_(("queued", "sent")),
                deliveries.c.next_attempt > horizon_us,
            )
            .values(next_attempt=now_us)
        )
        return int(result.rowcount or 0)

    @staticmethod
    def mark_attempt(
        conn: Connection, items: Sequence[Delivery], error: str | None, next_attempt_us: int
    ) -> None:
        if not items:
            return
        conn.execute(
            _MARK_ATTEMPT,
            [
                {
                    "b_message": item.message_id,
                    "b_recipient": item.recipient,
                    "b_error": error,
                    "b_next": next_attempt_us,
                }
                for item in items
            ],
        )

    @staticmethod
    def mark_delivered(
        conn: Connection, message_id: str, recipient: str, receipt: str, now_us: int, route: str
    ) -> bool:
        """Record the receipt; False if it was already delivered (nothing changes)."""
        result = conn.execute(
            _MARK_DELIVERED,
            {
                "b_message": message_id,
                "b_recipient": recipient,
                "b_receipt": receipt,
                "b_at": now_us,
                "b_route": route,
            },
        )
        return bool(result.rowcount)

    @staticmethod
    def mark_acknowledged(
        conn: Connection, message_id: str, recipient: str, ack_id: str, operator: str, now_us: int
    ) -> bool:
        result = conn.execute(
            update(deliveries)
            .where(
                deliveries.c.message_id == message_id,
                deliveries.c.recipient == recipient,
                deliveries.c.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now_us, ack_id=ack_id, ack_operator=operator)
        )
        return bool(result.rowcount)

    @staticmethod
    def set_deadline(conn: Connection, message_id: str, deadline_us: int) -> None:
        conn.execute(_SET_DEADLINE, {"b_id": message_id, "b_at": deadline_us})

    @staticmethod
    def set_inbound_ack(
        conn: Connection, message_id: str, ack_id: str, operator: str, now_us: int
    ) -> None:
        conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(acknowledged_at=now_us, ack_id=ack_id, ack_operator=operator)
        )

    @staticmethod
    def listing(
        conn: Connection, *, direction: str, limit: int, after: tuple[int, str] | None
    ) -> list[Row[Any]]:
        """Messages (type ``message``) newest first, keyset-paginated by (created, id)."""
        query = select(messages).where(
            messages.c.direction == direction, messages.c.type == "message"
        )
        if after is not None:
            created, mid = after
            query = query.where(
                or_(
                    messages.c.created < created,
                    and_(messages.c.created == created, messages.c.id < mid),
                )
            )
        query = query.order_by(messages.c.created.desc(), messages.c.id.desc()).limit(limit)
        return list(conn.execute(query))

    @staticmethod
    def by_precedence(
        conn: Connection, *, direction: str, limit: int, offset: int
    ) -> list[Row[Any]]:
        """Unacknowledged first, then by precedence and acknowledgement deadline."""
        query = (
            select(messages)
            .where(messages.c.direction == direction, messages.c.type == "message")
            .order_by(
                messages.c.ack_id.is_not(None),
                messages.c.prec_rank,
                messages.c.deadline,
                messages.c.id,
            )
            .limit(limit)
            .offset(offset)
        )
        return list(conn.execute(query))

    @staticmethod
    def seqs_from(conn: Connection, sender: str, channel: str) -> list[int]:
        return [
            int(r.seq)
            for r in conn.execute(
                select(messages.c.seq).where(
                    messages.c.sender == sender,
                    messages.c.channel == channel,
                    messages.c.direction == "in",
                )
            )
        ]


def _due_query() -> Select[Any]:
    recipient: BindParameter[Any] = bindparam("b_recipient")
    now_us: BindParameter[Any] = bindparam("b_now")
    return (
        select(
            deliveries.c.message_id,
            deliveries.c.recipient,
            deliveries.c.prec_rank,
            deliveries.c.created,
            deliveries.c.attempts,
            messages.c.envelope,
            messages.c.jws_sha256,
        )
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(
            deliveries.c.recipient == recipient,
            deliveries.c.status.in_(PENDING),
            deliveries.c.next_attempt <= now_us,
            or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now_us),
        )
        .order_by(deliveries.c.prec_rank, deliveries.c.created, deliveries.c.message_id)
        .limit(bindparam("b_limit"))
    )


_DUE = _due_query()


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        row.message_id,
        row.recipient,
        row.prec_rank,
        row.created,
        row.attempts,
        row.envelope,
        row.jws_sha256,
    )
