"""Inputs of the deconfliction service: routing properties, normalisation, revisions.

Pure helpers (no I/O): what a request carries besides the signed feature, the RFC 8785
round trip that makes a sender read its feature exactly as receivers will, and the folding of
a stored object into a ``NotificationRecord`` revision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from molink.core.canonical import canonical_json
from molink.core.notice_feature import ROUTING_PROPERTIES, parse_notification
from molink.core.precedence import Precedence
from molink.core.separation import Resolution
from molink.core.volume import to_epoch
from molink.errors import InvalidInput
from molink.services.decon_state import NotificationRecord
from molink.services.decon_views import epoch_iso
from molink.storage.db import from_micros

__all__ = [
    "make_record",
    "normalise",
    "order",
    "parties",
    "revise",
    "shift_feature",
    "split_routing",
    "text_or_none",
    "title_of",
]


def order(row: Any) -> int:
    """Revision order of one sender's objects on one channel: the signed sequence number."""
    return int(row.seq)


def title_of(note: NotificationRecord) -> str:
    if note.parsed is not None:
        return note.parsed.title
    props = note.feature.get("properties") if isinstance(note.feature, Mapping) else None
    return str((props or {}).get("title") or note.id)


def make_record(
    row: Any, notification_id: str, feature: Any, *, base: NotificationRecord | None
) -> NotificationRecord:
    """A revision from a stored feature (validated again here, as on every node)."""
    parsed, error = None, None
    try:
        parsed = parse_notification(
            feature, id=notification_id, party=row.sender, filed_at=from_micros(int(row.created))
        )
    except InvalidInput as exc:
        error = exc.message
    feature = feature if isinstance(feature, Mapping) else {}
    if base is None:
        return NotificationRecord(
            id=notification_id,
            sender=row.sender,
            channel=row.channel,
            recipients=tuple(row.recipients),
            created_us=int(row.created),
            feature=feature,
            parsed=parsed,
            error=error,
            rev_id=row.id,
            rev_created_us=int(row.created),
            rev_seq=int(row.seq),
        )
    return NotificationRecord(
        id=base.id,
        sender=base.sender,
        channel=base.channel,
        recipients=base.recipients,
        created_us=base.created_us,
        feature=feature,
        parsed=parsed,
        error=error,
        rev=base.rev + 1,
        rev_id=row.id,
        rev_created_us=int(row.created),
        rev_seq=int(row.seq),
    )


def revise(
    note: NotificationRecord, row: Any, feature: Mapping[str, Any], *, cancelled: bool
) -> NotificationRecord:
    return NotificationRecord(
        id=note.id,
        sender=note.sender,
        channel=note.channel,
        recipients=note.recipients,
        created_us=note.created_us,
        feature=feature,
        parsed=note.parsed,
        error=note.error,
        rev=note.rev + 1,
        rev_id=row.id,
        rev_created_us=int(row.created),
        rev_seq=int(row.seq),
        cancelled=cancelled,
    )


def shift_feature(feature: Mapping[str, Any], r: Resolution) -> dict[str, Any]:
    """The feature moved by a resolution: window shifted by ``time_shift_s``, band by
    ``altitude_shift_m``."""
    props = dict(feature.get("properties") or {})
    if r.time_shift_s:
        for name in ("start", "end"):
            at = to_epoch(props[name], f"properties.{name}", round_up=name == "end")
            props[name] = epoch_iso(at + r.time_shift_s)
    if r.altitude_shift_m:
        for name in ("lower_m", "upper_m"):
            props[name] = float(props[name]) + r.altitude_shift_m
    return {**feature, "properties": props}


def normalise(value: dict[str, Any]) -> dict[str, Any]:
    """The value as every node will read it after signing (RFC 8785 round trip)."""
    out = json.loads(canonical_json(value))
    if not isinstance(out, dict):
        raise InvalidInput("body: expected an object")
    return out


def split_routing(
    feature: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str] | None, str | None, Precedence | None]:
    """The signed feature without its routing properties (to, channel, precedence)."""
    if not isinstance(feature, Mapping):
        raise InvalidInput("type: expected a GeoJSON Feature")
    clean = normalise(dict(feature))
    props = clean.get("properties")
    if not isinstance(props, dict):
        raise InvalidInput("properties: expected an object")
    to = parties(props.get("to"), "properties.to")
    channel = text_or_none(props.get("channel"), "properties.channel")
    prec = props.get("precedence")
    precedence = None
    if prec is not None:
        if not isinstance(prec, str):
            raise InvalidInput("properties.precedence: expected a string")
        try:
            precedence = Precedence.parse(prec)
        except InvalidInput as exc:
            raise InvalidInput(f"properties.precedence: {exc.message}") from exc
    clean["properties"] = {k: v for k, v in props.items() if k not in ROUTING_PROPERTIES}
    return clean, to, channel, precedence


def parties(value: object, name: str = "to") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise InvalidInput(f"{name}: expected a list of party codes")
    return sorted(set(value))


def text_or_none(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise InvalidInput(f"{name}: expected a channel id")
    return value
