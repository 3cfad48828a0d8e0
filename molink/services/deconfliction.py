"""Deconfliction: notifications and protected sites as signed objects, checked on every node.

A notification (``notification``), its changes (``notification.change``: a new feature or a
cancellation, by the filing party only), a site declaration (``site.declare``) and a
confirmation (``site.confirm``) are signed objects on the deconfliction channel, logged by the
messaging layer like any other. Every node folds the ones it stores, in log order, into a
``DeconState`` (an incremental ``ConflictIndex`` plus the current conflict set), so both
parties' nodes reach identical conflict sets from the same objects (DESIGN.md
"Deconfliction").

The in-memory state is a cache of the committed log prefix ``[0, mark)``: ``_sync`` reads the
log entries after ``mark`` (sequenced writers commit in log order, so every entry below the
current size is committed or is this transaction's own) and applies the objects they name.
Whoever stores an object (an operator's request, or the inbound handler) checks it in the same
write transaction and raises the alerts; other workers and readers only catch up. A rolled
back transaction that had changed the cache drops it; it is rebuilt from the database.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, event, select

from molink.core.canonical import canonical_json
from molink.core.envelope import Opened
from molink.core.notice_feature import parse_notification
from molink.core.precedence import Precedence
from molink.core.separation import Conflict, Resolution, SeparationPolicy
from molink.core.site_decl import parse_site_declaration
from molink.core.sites import ProtectedSite
from molink.errors import InvalidInput, NotFound, StateConflict
from molink.services.alerts import AlertService
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.decon_inputs import (
    make_record,
    normalise,
    order,
    parties,
    revise,
    shift_feature,
    split_routing,
    text_or_none,
    title_of,
)
from molink.services.decon_state import DeconState, NotificationRecord, SiteRecord
from molink.services.decon_views import conflict_json, filing_json
from molink.services.messaging import MessagingService
from molink.storage.log import LogRepo
from molink.storage.schema import log_entries, messages

__all__ = [
    "CHANGE",
    "DEFAULT_CHANNEL",
    "NOTIFICATION",
    "SITE_CONFIRM",
    "SITE_DECLARE",
    "TYPES",
    "Checked",
    "DeconflictionService",
]

NOTIFICATION = "notification"
CHANGE = "notification.change"
SITE_DECLARE = "site.declare"
SITE_CONFIRM = "site.confirm"
TYPES = (NOTIFICATION, CHANGE, SITE_DECLARE, SITE_CONFIRM)
DEFAULT_CHANNEL = "deconfliction"
_FLAG = "molink.deconfliction.changed"
_MARKS = (b'"type":"notification', b'"type":"site.')
T = TypeVar("T")
_ENTRY_TYPES = frozenset(f"{t}.{d}" for t in TYPES for d in ("sent", "received"))


@dataclass(frozen=True, slots=True)
class Checked:
    """What storing one object found: its conflicts and the alerts raised for them.

    ``id`` is the signed object's id; ``item`` the notification or site it is about (the
    same, except for a change or a confirmation).
    """

    id: str
    conflicts: tuple[Conflict, ...]
    alerts: tuple[str, ...]
    item: str = ""


class DeconflictionService:
    """Files and changes notifications, declares and confirms sites, keeps the conflict set.

    Args:
        ctx: the node.
        messaging: signs, seals and queues the objects.
        alerts: raises the conflict alerts.
        policy: the separation rules; every node of a deployment must use the same.
        channel: the deconfliction channel used when a request names none.
    """

    def __init__(
        self,
        ctx: NodeContext,
        messaging: MessagingService,
        alerts: AlertService,
        *,
        policy: SeparationPolicy | None = None,
        channel: str = DEFAULT_CHANNEL,
    ) -> None:
        self._ctx = ctx
        self._messaging = messaging
        self._alerts = alerts
        self._policy = policy or SeparationPolicy()
        self._channel = channel
        self._lock = threading.RLock()
        self._state: DeconState | None = None
        self._pending: dict[str, list[Any]] = {}
        self._mark = 0
        self._synced_at = -1e9
        event.listen(ctx.db.engine, "rollback", self._on_rollback)
        event.listen(ctx.db.engine, "commit", self._on_commit)
        # Group commit (molink.storage.groupcommit): one writer's failure rolls back
        # only its SAVEPOINT; what it folded into the cache must go too.
        event.listen(ctx.db.engine, "rollback_savepoint", self._on_rollback_savepoint)

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> DeconState:
        """The state, caught up with the committed log (do not mutate it)."""
        with self._ctx.db.read() as conn, self._lock:
            return self._sync(conn)[0]

    def read(self, fn: Callable[[DeconState], T]) -> T:
        """``fn`` over the caught-up state, with no change applied meanwhile."""
        with self._ctx.db.read() as conn, self._lock:
            return fn(self._sync(conn)[0])

    def checked_json(self, checked: Checked) -> dict[str, Any]:
        """The answer to a filing: ``{"id", "conflicts": [...]}`` plus the alerts raised."""

        def build(state: DeconState) -> dict[str, Any]:
            item = checked.item or checked.id
            return filing_json(item, checked.id, checked.alerts, checked.conflicts, state)

        return self.read(build)

    def warm(self) -> None:
        """Build the state now (at start) rather than on the first request."""
        self.snapshot()

    def version(self, *, max_age_s: float = 0.5) -> int:
        """A number that changes whenever the sites or volumes change.

        This worker's own changes (filings, inbound objects) are seen at once; those stored
        by other workers of the node (PostgreSQL) within ``max_age_s``, when the state is
        next caught up with the log. Cheap: no database read in between.
        """
        now = time.monotonic()
        state = self._state
        if state is not None and now - self._synced_at < max_age_s:
            return state.version
        version = self.read(lambda s: s.version)
        self._synced_at = now
        return version

    # ------------------------------------------------------------------ notifications
    def file(self, feature: Mapping[str, Any], *, operator: str) -> Checked:
        """File a notification (the ``POST /api/v1/notifications`` contract)."""
        clean, to, channel, precedence = split_routing(feature)
        title = self._validate(clean)
        return self._send(
            NOTIFICATION,
            {"feature": clean},
            to=to,
            channel=channel,
            precedence=precedence,
            summary=f"notification: {title}",
            operator=operator,
        )

    def amend(self, notification_id: str, feature: Mapping[str, Any], *, operator: str) -> Checked:
        """Replace one of our notifications by a new revision (same recipients and channel)."""
        note = self._own(notification_id)
        clean, _, _, precedence = split_routing(feature)
        self._validate(clean)
        return self._send(
            CHANGE,
            {"feature": clean},
            to=note.recipients,
            channel=note.channel,
            precedence=precedence,
            summary=f"notification change: {notification_id}",
            operator=operator,
            ref=notification_id,
        )

    def cancel(self, notification_id: str, *, operator: str) -> Checked:
        note = self._own(notification_id)
        return self._send(
            CHANGE,
            {"status": "cancelled"},
            to=note.recipients,
            channel=note.channel,
            precedence=None,
            summary=f"notification cancelled: {notification_id}",
            operator=operator,
            ref=notification_id,
        )

    def resolve(
        self,
        notification_id: str,
        *,
        other: str | None = None,
        option: str = "suggested",
        operator: str,
    ) -> Checked:
        """Apply a conflict's resolution to our notification: a new revision moved in time
        or altitude (``option``: suggested, time or altitude). Only the volume a conflict asks
        to move (the later filing) can apply it."""
        note = self._own(notification_id)

        def pick(state: DeconState) -> Resolution:
            mine = [
                c
                for c in state.conflicts_of(notification_id)
                if c.volume_id == notification_id and other in (None, c.other_id)
            ]
            if not mine:
                raise StateConflict(
                    f"no conflict asks {notification_id} to move"
                    + (f" for {other}" if other else "")
                )
            c = mine[0]
            if option == "suggested" and c.suggested is not None:
                return c.suggested
            for r in c.options:
                if (option == "time" and r.time_shift_s) or (
                    option == "altitude" and r.altitude_shift_m
                ):
                    return r
            raise StateConflict(f"conflict with {c.other_id} has no {option} resolution")

        resolution = self.read(pick)
        return self.amend(
            notification_id, shift_feature(note.feature, resolution), operator=operator
        )

    def _own(self, notification_id: str) -> NotificationRecord:
        note = self.snapshot().notes.get(notification_id)
        if note is None:
            raise NotFound(f"no notification {notification_id}")
        if note.sender != self._ctx.party:
            raise StateConflict(f"notification {notification_id} was filed by {note.sender}")
        if note.cancelled:
            raise StateConflict(f"notification {notification_id} is cancelled")
        return note

    def _validate(self, feature: Mapping[str, Any]) -> str:
        parsed = parse_notification(
            feature, id="new", party=self._ctx.party, filed_at=self._ctx.clock.now()
        )
        return parsed.title

    # ------------------------------------------------------------------ sites
    def declare_site(self, data: Mapping[str, Any], *, operator: str) -> Checked:
        """Declare a protected site in this party's name (``POST /api/v1/sites``)."""
        body = normalise(dict(data))
        to, channel = body.pop("to", None), body.pop("channel", None)
        site = parse_site_declaration(body, id="new", declared_by=self._ctx.party)
        return self._send(
            SITE_DECLARE,
            {"site": body},
            to=parties(to),
            channel=text_or_none(channel, "channel"),
            precedence=Precedence.PRIORITY,
            summary=f"protected site: {site.name}",
            operator=operator,
        )

    def confirm_site(self, site_id: str, *, operator: str) -> Checked:
        """Confirm another party's site: this party vouches for its coordinates."""
        record = self.snapshot().sites.get(site_id)
        if record is None:
            raise NotFound(f"no protected site {site_id}")
        site = record.site
        if self._ctx.party == site.provenance.declared_by:
            raise StateConflict("the declaring party cannot confirm its own site")
        if self._ctx.party in site.verification.confirmed_by:
            raise StateConflict(f"{self._ctx.party} has already confirmed {site_id}")
        with self._ctx.db.read() as conn:
            members = self._members(conn, record.channel)
        return self._send(
            SITE_CONFIRM,
            {"confirms": site.name},
            to=members,
            channel=record.channel,
            precedence=Precedence.PRIORITY,
            summary=f"site confirmed: {site.name}",
            operator=operator,
            ref=site_id,
        )

    # ------------------------------------------------------------------ sending
    def _send(
        self,
        type_: str,
        fields: Mapping[str, Any],
        *,
        to: Sequence[str] | None,
        channel: str | None,
        precedence: Precedence | None,
        summary: str,
        operator: str,
        ref: str | None = None,
    ) -> Checked:
        ctx = self._ctx
        with ctx.db.write() as conn:
            chan = channel if channel is not None else self._default_channel(conn)
            recipients = list(to) if to else self._members(conn, chan)
            with self._lock:
                self._sync(conn)
            submitted = self._messaging.send_object(
                type_,
                to=recipients,
                precedence=precedence or Precedence.PRIORITY,
                channel=chan,
                fields=fields,
                summary=summary,
                operator=operator,
                conn=conn,
                ref=ref,
            )
            with self._lock:
                checked = self._sync(conn, subjects={submitted.id})[1]
        ctx.wake_outbox()
        ctx.events.publish(f"{type_}.filed", id=submitted.id, ref=ref)
        return checked.get(submitted.id) or Checked(submitted.id, (), (), item=ref or submitted.id)

    def _default_channel(self, conn: Connection) -> str | None:
        return self._channel if get_channel(conn, self._channel) is not None else None

    def _members(self, conn: Connection, channel: str | None) -> list[str]:
        me = self._ctx.party
        if channel is not None:
            row = get_channel(conn, channel)
            if row is None:
                raise InvalidInput(f"channel: unknown channel {channel!r}")
            return sorted(set(row.members) - {me})
        return [p for p in self._ctx.directory().parties() if p != me]

    # ------------------------------------------------------------------ inbound
    def on_object(self, conn: Connection, opened: Opened, _now_us: int) -> None:
        """Inbound handler for every deconfliction type: check, alert, log, in one txn."""
        with self._lock:
            self._sync(conn, subjects={opened.signed.id})

    # ------------------------------------------------------------------ the cache
    def _sync(
        self, conn: Connection, subjects: Collection[str] = ()
    ) -> tuple[DeconState, dict[str, Checked]]:
        """Apply the committed (or own) log entries after the mark; alert for ``subjects``."""
        write = bool(conn.get_execution_options().get("molink_write"))
        if self._state is None:
            self._state, self._pending = DeconState(policy=self._policy), {}
            rows = conn.execute(
                select(messages).where(messages.c.type.in_(TYPES)).order_by(messages.c.log_index)
            ).all()
            self._mark = LogRepo.size(conn)
        else:
            rows = self._new_rows(conn)
        state = self._state
        checked: dict[str, Checked] = {}
        for row in rows:
            found = self._apply(state, row)
            if write:
                conn.info[_FLAG] = True
            if found is not None and row.id in subjects and write:
                checked[row.id] = self._report(conn, state, row, found)
        return state, checked

    def _new_rows(self, conn: Connection) -> list[Any]:
        entries = conn.execute(
            select(log_entries.c.idx, log_entries.c.data)
            .where(log_entries.c.idx >= self._mark)
            .order_by(log_entries.c.idx)
        ).all()
        if not entries:
            return []
        self._mark = int(entries[-1].idx) + 1
        ids: list[str] = []
        for entry in entries:
            data = bytes(entry.data)
            if not any(m in data for m in _MARKS):
                continue
            parsed = json.loads(data)
            if parsed.get("type") in _ENTRY_TYPES and isinstance(parsed.get("id"), str):
                ids.append(parsed["id"])
        if not ids:
            return []
        found = {r.id: r for r in conn.execute(select(messages).where(messages.c.id.in_(ids)))}
        return [found[i] for i in ids if i in found]

    def _on_rollback(self, conn: Connection) -> None:
        if conn.info.pop(_FLAG, False):
            with self._lock:
                self._state = None  # an uncommitted change reached the cache: rebuild

    def _on_rollback_savepoint(self, conn: Connection, _name: Any, _context: Any) -> None:
        if conn.info.get(_FLAG, False):
            with self._lock:
                self._state = None  # rebuilt from what is stored; the flag stays for the group

    @staticmethod
    def _on_commit(conn: Connection) -> None:
        conn.info.pop(_FLAG, None)

    # ------------------------------------------------------------------ folding
    def _apply(self, state: DeconState, row: Any) -> list[Conflict] | None:
        """Fold one stored object into the state; the conflicts of what it changed, or None."""
        content = row.content or {}
        if row.type == NOTIFICATION:
            if row.id in state.notes:
                return None
            record = make_record(row, row.id, content.get("feature"), base=None)
            found = state.put_notification(record)
            for change in sorted(self._pending.pop(row.id, []), key=order):
                changed = self._apply(state, change)
                found = found if changed is None else changed
            return found
        if row.type == CHANGE:
            note = state.notes.get(row.ref or "")
            if note is None:
                self._pending.setdefault(row.ref or "", []).append(row)
                return None
            if (row.sender, row.channel) != (note.sender, note.channel) or order(
                row
            ) <= note.rev_seq:
                return None  # not the filer's, or older than the current revision
            if content.get("status") == "cancelled":
                record = revise(note, row, note.feature, cancelled=True)
            else:
                record = make_record(row, note.id, content.get("feature"), base=note)
            return state.put_notification(record)
        if row.type == SITE_DECLARE:
            if row.id in state.sites:
                return None
            try:
                site = parse_site_declaration(
                    content.get("site"), id=row.id, declared_by=row.sender
                )
            except InvalidInput:
                return None  # kept as a signed object; never indexed
            geometry = dict((content.get("site") or {}).get("geometry") or {})
            return state.put_site(SiteRecord(site, row.channel, int(row.created), geometry))
        if row.type == SITE_CONFIRM:
            state.confirm_site(row.ref or "", row.sender)
        return None

    def _report(
        self, conn: Connection, state: DeconState, row: Any, found: list[Conflict]
    ) -> Checked:
        """Alert every conflict of a newly stored object and log the check's result hash."""
        ctx = self._ctx
        records = [conflict_json(c, state) for c in found]
        digest = hashlib.sha256(canonical_json(records)).hexdigest()
        now_us = ctx.now_us()
        ctx.log.append(
            conn,
            [
                {
                    "type": "deconfliction.checked",
                    "id": row.id,
                    "ref": row.ref,
                    "conflicts": len(found),
                    "conflicts_sha256": digest,
                    "time": now_us // 1000,
                }
            ],
            now_us,
        )
        raised = []
        for c, record in zip(found, records, strict=True):
            alert = self._alert(conn, state, c, record)
            if alert is not None:
                raised.append(alert)
        return Checked(row.id, tuple(found), tuple(raised), item=row.ref or row.id)

    def _alert(
        self, conn: Connection, state: DeconState, c: Conflict, record: dict[str, Any]
    ) -> str | None:
        mover = state.notes[c.volume_id]
        other = state.item(c.other_id)
        if isinstance(other, ProtectedSite):
            parties = {mover.sender, other.provenance.declared_by}
            against = f"protected site {other.name}"
            severity, rev = "FLASH", 0
        else:
            theirs = state.notes[c.other_id]
            parties = {mover.sender, theirs.sender}
            against = f"{title_of(theirs)} ({theirs.sender})"
            severity, rev = "IMMEDIATE", theirs.rev
        title = f"Conflict: {title_of(mover)} ({mover.sender}) with {against}"
        return self._alerts.raise_alert(
            conn,
            kind="conflict",
            severity=severity,
            title=title[:300],
            parties=sorted(parties),
            refs=[c.volume_id, c.other_id],
            data={**record, "overlap": state.overlap(c)},
            dedup_key=f"conflict:{c.volume_id}@{mover.rev}:{c.other_id}@{rev}",
        )
