"""Channel lifecycle use cases: propose, agree, suspend, restore, close (signed events).

An operator's change is applied to our copy of the channel by the pure rule
(``core.channel``) and sent as a signed ``channel.event`` to every other member, in
one transaction. A received event is applied by the same rule, so every node reaches
the same state. A received event the rule refuses is kept as evidence and raises an
alert; it changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from molink.core.channel import ChannelEvent, ChannelState, apply_event
from molink.core.dtg import format_dtg
from molink.core.envelope import Opened
from molink.core.ids import uuid7
from molink.core.precedence import Precedence
from molink.errors import MolinkError, NotFound
from molink.services.alerts import AlertService
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService
from molink.services.queries import iso
from molink.storage.db import from_micros, micros
from molink.storage.schema import channel_events, channels

__all__ = ["ChannelService"]


def _state(row: Any) -> ChannelState:
    return ChannelState(
        id=row.id,
        members=frozenset(row.members),
        state=row.state,
        mediator=row.mediator,
        emergency=bool(row.emergency),
        votes=frozenset(row.votes or ()),
        vote_action=row.vote_action,
    )


class ChannelService:
    def __init__(self, ctx: NodeContext, messaging: MessagingService, alerts: AlertService) -> None:
        self._ctx = ctx
        self._messaging = messaging
        self._alerts = alerts

    def change(
        self,
        channel_id: str,
        action: str,
        reason: str,
        *,
        operator: str,
        effective: datetime | None = None,
    ) -> dict[str, Any]:
        """Apply our own lifecycle action and send it, signed, to the other members."""
        ctx = self._ctx
        event = ChannelEvent(party=ctx.party, action=action, reason=reason)
        when = effective or ctx.clock.now()
        with ctx.db.write() as conn:
            row = get_channel(conn, channel_id)
            if row is None:
                raise NotFound(f"no channel {channel_id!r}")
            after = apply_event(_state(row), event)
            others = sorted(after.members - {ctx.party})
            submitted = self._messaging.send_object(
                "channel.event",
                to=others,
                precedence=Precedence.IMMEDIATE,
                channel=channel_id,
                fields={"action": action, "reason": reason, "effective": iso(micros(when))},
                summary=f"channel {channel_id}: {action}",
                operator=operator,
                conn=conn,
            )
            self._store(conn, after, event, micros(when), submitted.id)
        ctx.wake_outbox()
        ctx.events.publish(
            "channel.changed", channel=channel_id, state=after.state, action=action, party=ctx.party
        )
        return self.view(channel_id)

    def on_event(self, conn: Connection, opened: Opened, now_us: int) -> None:
        """Inbound handler for ``channel.event`` (same transaction as the message)."""
        payload = opened.signed.payload
        row = get_channel(conn, opened.signed.channel)
        try:
            if row is None:
                raise NotFound(f"unknown channel {opened.signed.channel!r}")
            event = ChannelEvent(
                party=opened.signed.sender,
                action=str(payload.get("action")),
                reason=str(payload.get("reason", "")),
            )
            after = apply_event(_state(row), event)
        except MolinkError as exc:
            self._alerts.raise_alert(
                conn,
                kind="link",
                severity="IMMEDIATE",
                title=f"{opened.signed.sender} sent a channel change the rule refuses: "
                f"{exc.message}",
                parties=[opened.signed.sender],
                refs=[opened.signed.id],
                data={"jws": opened.signed.jws.text},
            )
            return
        effective = _effective_us(payload.get("effective"), now_us)
        self._store(conn, after, event, effective, opened.signed.id)
        self._ctx.events.publish(
            "channel.changed",
            channel=after.id,
            state=after.state,
            action=event.action,
            party=event.party,
        )

    def _store(
        self,
        conn: Connection,
        after: ChannelState,
        event: ChannelEvent,
        effective_us: int,
        message_id: str | None,
    ) -> None:
        ctx = self._ctx
        conn.execute(
            update(channels)
            .where(channels.c.id == after.id)
            .values(state=after.state, votes=sorted(after.votes), vote_action=after.vote_action)
        )
        conn.execute(
            insert(channel_events).values(
                id=uuid7(ctx.clock.now(), ctx.random(10)),
                channel=after.id,
                party=event.party,
                action=event.action,
                reason=event.reason,
                effective=effective_us,
                state_after=after.state,
                message_id=message_id,
                created=ctx.now_us(),
            )
        )
        ctx.log.append(
            conn,
            [
                {
                    "type": "channel.changed",
                    "channel": after.id,
                    "party": event.party,
                    "action": event.action,
                    "state": after.state,
                    "ref": message_id,
                    "effective": effective_us // 1000,
                    "time": ctx.now_us() // 1000,
                }
            ],
            ctx.now_us(),
        )

    def view(self, channel_id: str) -> dict[str, Any]:
        with self._ctx.db.read() as conn:
            row = get_channel(conn, channel_id)
            if row is None:
                raise NotFound(f"no channel {channel_id!r}")
            events = conn.execute(
                select(channel_events)
                .where(channel_events.c.channel == channel_id)
                .order_by(channel_events.c.effective, channel_events.c.created)
            ).all()
        return {
            "id": row.id,
            "name": row.name,
            "members": list(row.members),
            "mediator": row.mediator,
            "state": row.state,
            "emergency": bool(row.emergency),
            "ack_deadlines": row.ack_deadlines,
            "pending_votes": list(row.votes or ()),
            "pending_action": row.vote_action,
            "history": [
                {
                    "party": e.party,
                    "action": e.action,
                    "reason": e.reason,
                    "effective": iso(e.effective),
                    "dtg": format_dtg(from_micros(e.effective)),
                    "state_after": e.state_after,
                    "message_id": e.message_id,
                }
                for e in events
            ],
        }

    def listing(self) -> list[dict[str, Any]]:
        with self._ctx.db.read() as conn:
            ids = [r.id for r in conn.execute(select(channels.c.id).order_by(channels.c.id))]
        return [self.view(i) for i in ids]


def _effective_us(value: Any, default: int) -> int:
    from molink.core.dtg import parse_utc

    if not isinstance(value, str):
        return default
    try:
        return micros(parse_utc(value))
    except MolinkError:
        return default
