"""Read use cases: what operators see about messages (views as plain JSON)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select

from molink.core.dtg import format_dtg, format_utc, parse_utc
from molink.errors import InvalidInput, NotFound, StateConflict
from molink.services.context import NodeContext
from molink.storage.db import from_micros, micros
from molink.storage.messages import STATUS_ORDER
from molink.storage.schema import alerts as alerts_table

__all__ = ["MessageQueries", "iso"]


def iso(value: int | None) -> str | None:
    return None if value is None else format_utc(from_micros(value))


def _delivery_status(d: Row[Any]) -> str:
    if d.acknowledged_at is not None:
        return "acknowledged"
    if d.status == "delivered":
        return "delivered"
    return "sent" if d.attempts else "queued"


class MessageQueries:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def view(self, conn: Connection, row: Row[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": row.id,
            "type": row.type,
            "direction": row.direction,
            "from": row.sender,
            "to": list(row.recipients),
            "channel": row.channel,
            "seq": row.seq,
            "precedence": row.precedence,
            "subject": row.subject,
            "body": row.body,
            "lang": row.lang,
            "created": iso(row.created),
            "dtg": format_dtg(from_micros(row.created)),
            "jws_sha256": row.jws_sha256,
            "log_index": row.log_index,
            "ref": row.ref,
            "code": row.code,
            "params": row.params,
            "ack_deadline": iso(row.deadline),
        }
        if row.direction == "in":
            out["deferrals"] = self.deferrals(conn, row.id)
        if row.direction == "out":
            recipients = [
                self._recipient_view(d) for d in self._ctx.messages.deliveries_of(conn, row.id)
            ]
            statuses = [r["status"] for r in recipients] or ["queued"]
            out["status"] = min(statuses, key=STATUS_ORDER.index)
            out["recipients"] = recipients
            out["delivered_at"] = _all_or_none([r["delivered_at"] for r in recipients])
            out["acknowledged_at"] = _all_or_none([r["acknowledged_at"] for r in recipients])
        else:
            out["status"] = "acknowledged" if row.ack_id else "delivered"
            out["delivered_at"] = iso(row.stored)
            out["acknowledged_at"] = iso(row.acknowledged_at)
            out["acknowledged_by"] = row.ack_operator
            out["ack_id"] = row.ack_id
        return out

    @staticmethod
    def _recipient_view(d: Row[Any]) -> dict[str, Any]:
        return {
            "party": d.recipient,
            "status": _delivery_status(d),
            "attempts": d.attempts,
            "last_error": d.last_error,
            "delivered_at": iso(d.delivered_at),
            "acknowledged_at": iso(d.acknowledged_at),
            "acknowledged_by": d.ack_operator,
            "ack_id": d.ack_id,
            "route": d.route,
            "has_receipt": d.receipt is not None,
        }

    def get(self, message_id: str) -> dict[str, Any]:
        with self._ctx.db.read() as conn:
            return self.view(conn, self._ctx.messages.get(conn, message_id))

    def jws(self, message_id: str) -> str:
        with self._ctx.db.read() as conn:
            return str(self._ctx.messages.get(conn, message_id).jws)

    def receipt(self, message_id: str, party: str | None = None) -> str:
        """The delivery receipt: the one we issued (inbound) or received (outbound)."""
        with self._ctx.db.read() as conn:
            row = self._ctx.messages.get(conn, message_id)
            if row.direction == "in":
                return str(row.receipt)
            for d in self._ctx.messages.deliveries_of(conn, message_id):
                if d.receipt and (party is None or d.recipient == party):
                    return str(d.receipt)
        raise NotFound(f"no receipt yet for {message_id}")

    def listing(
        self, box: str, limit: int, cursor: str | None, *, order: str = "time"
    ) -> dict[str, Any]:
        if box not in ("inbox", "outbox"):
            raise InvalidInput("box must be inbox or outbox")
        direction = "in" if box == "inbox" else "out"
        with self._ctx.db.read() as conn:
            if order == "precedence":
                offset = _decode_offset(cursor) if cursor else 0
                rows = self._ctx.messages.by_precedence(
                    conn, direction=direction, limit=limit + 1, offset=offset
                )
                nxt = _encode_offset(offset + limit) if len(rows) > limit else None
            else:
                after = _decode_cursor(cursor) if cursor else None
                rows = self._ctx.messages.listing(
                    conn, direction=direction, limit=limit + 1, after=after
                )
                last = rows[limit - 1] if len(rows) > limit else None
                nxt = _encode_cursor(last.created, last.id) if last is not None else None
            items = [self.view(conn, r) for r in rows[:limit]]
        return {"items": items, "next": nxt}

    def defer(
        self, message_id: str, *, reason: str, minutes: int, operator: str, alerts: Any
    ) -> dict[str, Any]:
        """Record a deferral of a received message's alarm: who, why, until when (logged)."""
        ctx = self._ctx
        until = ctx.clock.now() + timedelta(minutes=minutes)
        with ctx.db.write() as conn:
            row = ctx.messages.get(conn, message_id)
            if row.direction != "in" or row.type != "message":
                raise InvalidInput("only a received message can be deferred")
            if row.ack_id is not None:
                raise StateConflict("the message is acknowledged already")
            count = len(self.deferrals(conn, message_id))
            alerts.raise_alert(
                conn,
                kind="deferral",
                severity=row.precedence,
                title=f"{operator} deferred {row.precedence} from {row.sender}: {reason}",
                parties=[ctx.party],
                refs=[message_id],
                data={"deferred_by": operator, "reason": reason, "until": iso(micros(until))},
                dedup_key=f"defer:{message_id}:{count}",
            )
        return {
            "id": message_id,
            "deferred_by": operator,
            "reason": reason,
            "until": iso(micros(until)),
        }

    @staticmethod
    def deferrals(conn: Connection, message_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(alerts_table)
            .where(alerts_table.c.dedup_key.like(f"defer:{message_id}:%"))
            .order_by(alerts_table.c.created)
        ).all()
        return [{**r.data, "created": iso(r.created)} for r in rows]

    @staticmethod
    def overdue(view: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``overdue_since`` and a plain-words ``status_text`` for operators."""
        deadline = view.get("ack_deadline")
        status = view["status"]
        overdue = deadline is not None and status != "acknowledged" and parse_utc(deadline) <= now
        since = deadline if overdue else None
        if view["direction"] == "out" and status == "delivered":
            text = "delivered, not acknowledged"
        elif view["direction"] == "in" and status == "delivered":
            text = "received, not acknowledged"
        else:
            text = status
        if since is not None:
            text += f", overdue since {format_dtg(parse_utc(since))} ({since})"
        return {"overdue_since": since, "status_text": text}


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_offset(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, value = raw.split(":", 1)
        offset = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor") from exc
    if tag != "o" or offset < 0:
        raise InvalidInput("invalid cursor")
    return offset


def _all_or_none(values: list[str | None]) -> str | None:
    if not values or any(v is None for v in values):
        return None
    return max(v for v in values if v is not None)


def _encode_cursor(created: int, mid: str) -> str:
    return base64.urlsafe_b64encode(f"{created}:{mid}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, mid = raw.split(":", 1)
        return int(created), mid
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor") from exc
