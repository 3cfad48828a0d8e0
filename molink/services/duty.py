"""The watch: overdue acknowledgements, escalation, link alerts and the hourly line test.

``scan`` is called periodically (and by tests with a fake clock). It raises:

* ``overdue`` alerts for every unacknowledged message past its deadline, again every
  re-alert interval (5 min by default) - on the receiving side for our own duty
  officers, and on the sending side so the sender sees "not acknowledged, overdue";
* ``escalation`` alerts to the supervisors once a message is a second deadline late;
* ``link`` alerts when a peer has been down longer than the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from molink.core.deadlines import DeadlinePolicy, overdue_state
from molink.core.dtg import format_dtg
from molink.core.precedence import Precedence
from molink.services.alerts import AlertService
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService
from molink.services.outbox import Outbox
from molink.storage.db import from_micros, micros
from molink.storage.schema import deliveries, messages

__all__ = ["DutyOptions", "DutyService"]

_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DutyOptions:
    realert: timedelta = timedelta(minutes=5)
    link_down_alert_after: timedelta = timedelta(minutes=1)
    line_test_interval: timedelta = timedelta(hours=1)


class DutyService:
    def __init__(
        self,
        ctx: NodeContext,
        alerts: AlertService,
        messaging: MessagingService,
        outbox: Outbox,
        options: DutyOptions | None = None,
    ) -> None:
        self._ctx = ctx
        self._alerts = alerts
        self._messaging = messaging
        self._outbox = outbox
        self.options = options or DutyOptions()
        self._last_line_test: dict[str, datetime] = {}
        self._started = ctx.clock.now()  # the first line test goes one interval after start
        self._serial = 0

    def policy(self, ack_deadlines: Any) -> DeadlinePolicy:
        return DeadlinePolicy.default(ack_deadlines, realert=self.options.realert)

    def scan(self) -> int:
        """Raise every alert that is due now. Returns how many were new."""
        now = self._ctx.clock.now()
        raised = 0
        with self._ctx.db.write() as conn:
            raised += self._scan_inbound(conn, now)
            raised += self._scan_outbound(conn, now)
            raised += self._scan_links(conn, now)
        return raised

    def _alert_overdue(
        self, conn: Connection, row: Any, now: datetime, *, party: str, side: str
    ) -> int:
        chan = get_channel(conn, row.channel)
        prec = Precedence(row.precedence)
        state = overdue_state(
            self.policy(chan.ack_deadlines if chan else None), from_micros(row.created), prec, now
        )
        if not state.overdue:
            return 0
        since = format_dtg(state.deadline)
        who = f"from {row.sender}" if side == "in" else f"to {party}"
        raised = 0
        title = f"{prec.value} {who} not acknowledged, overdue since {since}: {row.subject or ''}"
        if self._alerts.raise_alert(
            conn,
            kind="overdue",
            severity=prec.value,
            title=title,
            parties=[self._ctx.party, party],
            refs=[row.id],
            data={
                "side": side,
                "deadline": state.deadline.isoformat(),
                "round": state.realert_round,
            },
            dedup_key=f"overdue:{side}:{row.id}:{party}:{state.realert_round}",
        ):
            raised += 1
        if state.escalated and self._alerts.raise_alert(
            conn,
            kind="escalation",
            severity=prec.value,
            title=f"ESCALATED to supervisors: {title}",
            parties=[self._ctx.party, party],
            refs=[row.id],
            data={"side": side, "role": "supervisor", "round": state.realert_round},
            dedup_key=f"escalation:{side}:{row.id}:{party}:{state.realert_round}",
        ):
            raised += 1
        return raised

    def _scan_inbound(self, conn: Connection, now: datetime) -> int:
        rows = conn.execute(
            select(messages).where(
                messages.c.direction == "in",
                messages.c.type == "message",
                messages.c.ack_id.is_(None),
                messages.c.deadline <= micros(now),
                messages.c.deadline >= micros(now - _LOOKBACK),
            )
        ).all()
        return sum(self._alert_overdue(conn, r, now, party=r.sender, side="in") for r in rows)

    def _scan_outbound(self, conn: Connection, now: datetime) -> int:
        rows = conn.execute(
            select(messages, deliveries.c.recipient)
            .join(deliveries, deliveries.c.message_id == messages.c.id)
            .where(
                and_(
                    messages.c.direction == "out",
                    messages.c.type == "message",
                    deliveries.c.acknowledged_at.is_(None),
                    messages.c.deadline <= micros(now),
                    messages.c.deadline >= micros(now - _LOOKBACK),
                )
            )
        ).all()
        return sum(self._alert_overdue(conn, r, now, party=r.recipient, side="out") for r in rows)

    def _scan_links(self, conn: Connection, now: datetime) -> int:
        raised = 0
        threshold = micros(now - self.options.link_down_alert_after)
        for party, link in self._outbox.links.items():
            since = link.state.down_since_us
            if link.state.status != "down" or since is None or since > threshold:
                continue
            if self._alerts.raise_alert(
                conn,
                kind="link",
                severity="IMMEDIATE",
                title=f"link to {party} down since {format_dtg(from_micros(since))}: "
                f"{link.state.last_error or ''}",
                parties=[self._ctx.party, party],
                refs=[party],
                data=link.state.to_json(),
                dedup_key=f"link:{party}:{since}",
            ):
                raised += 1
        return raised

    def line_tests(self) -> list[str]:
        """Send the scheduled human-readable line test to every peer that is due one."""
        now = self._ctx.clock.now()
        sent = []
        for party in sorted(self._outbox.links):
            last = self._last_line_test.get(party, self._started)
            if now - last < self.options.line_test_interval:
                continue
            self._serial += 1
            submitted = self._messaging.send_line_test(party, serial=self._serial, when=now)
            self._last_line_test[party] = now
            sent.append(submitted.id)
        return sent
