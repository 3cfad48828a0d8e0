"""Read use cases: what operators see about messages (views as plain JSON)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import Connection, Row

from molink.core.dtg import format_dtg, format_utc
from molink.errors import InvalidInput, NotFound
from molink.services.context import NodeContext
from molink.storage.db import from_micros
from molink.storage.messages import STATUS_ORDER

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
        }
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

    def listing(self, box: str, limit: int, cursor: str | None) -> dict[str, Any]:
        if box not in ("inbox", "outbox"):
            raise InvalidInput("box must be inbox or outbox")
        after = _decode_cursor(cursor) if cursor else None
        with self._ctx.db.read() as conn:
            rows = self._ctx.messages.listing(
                conn, direction="in" if box == "inbox" else "out", limit=limit + 1, after=after
            )
            items = [self.view(conn, r) for r in rows[:limit]]
        nxt = (
            _encode_cursor(rows[limit - 1].created, rows[limit - 1].id)
            if len(rows) > limit
            else None
        )
        return {"items": items, "next": nxt}


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
