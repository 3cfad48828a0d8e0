"""Channels as the messaging service needs them: membership and whether traffic may flow.

The full lifecycle (proposed, active, suspended, restored, closed, with signed
agreement) is handled by the channel lifecycle service; this module answers
"may this party send to these parties on this channel now?".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select

from molink.core.channel import OPEN_STATES
from molink.errors import Forbidden, InvalidInput, NotFound, StateConflict
from molink.storage.schema import channels

__all__ = ["OPEN_STATES", "direct_channel_id", "ensure_channel", "require_open"]


def direct_channel_id(parties: Sequence[str]) -> str:
    """The implicit channel between exactly these parties, e.g. ``direct-RU-US``."""
    return "direct-" + "-".join(sorted(set(parties)))


_BY_ID = select(channels).where(channels.c.id == bindparam("b_id"))  # built once: hot


def get_channel(conn: Connection, channel_id: str) -> Row[Any] | None:
    return conn.execute(_BY_ID, {"b_id": channel_id}).first()


def ensure_channel(
    conn: Connection,
    channel_id: str,
    members: Sequence[str],
    now_us: int,
    *,
    name: str | None = None,
) -> Row[Any]:
    """Return the channel, creating an implicit direct channel if it does not exist yet."""
    row = get_channel(conn, channel_id)
    if row is None:
        conn.execute(
            insert(channels).values(
                id=channel_id,
                name=name or channel_id,
                members=sorted(set(members)),
                mediator=None,
                state="active",
                emergency=False,
                ack_deadlines=None,
                created=now_us,
            )
        )
        row = get_channel(conn, channel_id)
    if row is None:  # pragma: no cover - just inserted
        raise NotFound(channel_id)
    return row


def require_open(
    conn: Connection,
    channel_id: str | None,
    sender: str,
    recipients: Sequence[str],
    now_us: int,
    *,
    control: bool = False,
) -> Row[Any]:
    """The channel a new message goes on; refuses non-members and closed channels.

    ``control`` objects (acks, channel events, translations, catalogue agreements) may
    travel on a suspended channel: restoring it needs them.
    """
    parties = [sender, *recipients]
    if channel_id is None:
        return ensure_channel(conn, direct_channel_id(parties), parties, now_us)
    row = get_channel(conn, channel_id)
    if row is None:
        raise InvalidInput(f"unknown channel {channel_id!r}")
    outsiders = sorted(set(parties) - set(row.members))
    if outsiders:
        raise Forbidden(f"{', '.join(outsiders)} not a member of channel {channel_id!r}")
    if row.state not in OPEN_STATES and not (control and row.state != "closed"):
        raise StateConflict(f"channel {channel_id!r} is {row.state}: it refuses new traffic")
    return row


def accepts_inbound(row: Row[Any] | None, sender: str) -> bool:
    """Inbound traffic on a known channel must come from a member."""
    return row is None or sender in row.members
