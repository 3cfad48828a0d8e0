"""The notification contract: a GeoJSON Feature becomes a catalogue notice and a 4-D volume.

``POST /api/v1/notifications`` (DESIGN.md "Contracts") takes an RFC 7946 Feature whose
properties hold ``kind``, ``start``, ``end``, ``lower_m``, ``upper_m``, ``radius_m`` (Point)
or ``width_m`` (LineString), ``title`` and ``to``. ``kind`` is a catalogue kind
(``notices.KINDS``). The Feature's geometry is the kind's main geometry (``area``,
``launch_area``, ``location`` or ``route``); any other property is a kind-specific field of
the catalogue schema (``purpose``, ``impact_area``, ``drones`` ...), validated strictly
(``notices.parse_notice``): an unknown property is refused, naming it.

The contract form carries no particulars, so a few required particulars that have a neutral
value are filled in and listed in ``ParsedNotification.defaulted`` (``purpose`` from the
title, ``hazard`` "other", ...); particulars without one (a laser's class, an
organisation) must be given.

Pure: the same Feature, party, id and filing time give the same result on every node, which
is what lets both parties' nodes reach identical conflict sets. Errors are ``InvalidInput``
naming the field as the client wrote it (``properties.radius_m``,
``geometry.coordinates[0][3]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from molink.core import notices
from molink.core.volume import Volume, VolumeStatus, parse_volume
from molink.errors import InvalidInput

__all__ = [
    "ROUTING_PROPERTIES",
    "ParsedNotification",
    "kind_fields",
    "parse_notification",
]

#: Properties that address the notification rather than describe the activity (not signed
#: inside the feature: they travel in the signed routing header).
ROUTING_PROPERTIES = frozenset({"to", "channel", "precedence"})
_NOT_NOTICE = ROUTING_PROPERTIES | {"status"}
_BANDED = frozenset(
    {"airspace_reservation", "drone_operations", "special_caution_area", "laser_use"}
)
# kind -> (main geometry field, its radius field, its width field)
_GEOMETRY: dict[str, tuple[str, str | None, str | None]] = {
    "airspace_reservation": ("area", "radius_m", "width_m"),
    "ballistic_missile_launch": ("launch_area", "launch_radius_m", None),
    "major_exercise": ("area", "radius_m", None),
    "naval_hazardous_operation": ("area", "radius_m", None),
    "drone_operations": ("area", "radius_m", "width_m"),
    "special_caution_area": ("area", "radius_m", None),
    "laser_use": ("area", "radius_m", None),
    "humanitarian_static_site": ("location", "radius_m", None),
    "humanitarian_movement": ("route", None, "width_m"),
}
_LEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedNotification:
    """A validated notification: the catalogue notice, its volume, lateness and defaults.

    ``late_s`` is how many seconds the filing missed the kind's minimum notice by (None when
    on time): a late notification is accepted and flagged (issue 11).
    """

    notice: notices.Notice
    volume: Volume
    late_s: int | None
    defaulted: tuple[str, ...]
    title: str


def kind_fields(kind: str) -> tuple[str, str | None, str | None]:
    """(main geometry field, radius field, width field) of a catalogue kind."""
    try:
        return _GEOMETRY[kind]
    except KeyError as exc:
        raise InvalidInput(
            f"properties.kind: unknown kind {kind!r}; one of {', '.join(notices.KINDS)}"
        ) from exc


def _defaults(kind: str, props: Mapping[str, Any], geometry: object) -> dict[str, Any]:
    title = props.get("title")
    out: dict[str, Any] = {}
    if kind == "airspace_reservation":
        out["purpose"] = title
    elif kind == "special_caution_area":
        out["reason"] = title
    elif kind == "major_exercise":
        out["exercise_name"] = title
    elif kind == "naval_hazardous_operation":
        out["hazard"] = "other"
    elif kind == "drone_operations":
        out.update(drones=1, drone_type="unspecified")
    elif kind == "humanitarian_static_site":
        out["site_type"] = "other"
    elif kind == "ballistic_missile_launch" and "impact_area" not in props:
        out["impact_area"] = geometry
        out["impact_radius_m"] = props.get("radius_m")
    return {k: v for k, v in out.items() if k not in props and v is not None}


def _notice_input(
    kind: str, props: Mapping[str, Any], geometry: object
) -> tuple[dict[str, Any], tuple[str, ...]]:
    geom_field, radius_field, width_field = kind_fields(kind)
    data: dict[str, Any] = {}
    for name, value in props.items():
        if name in _NOT_NOTICE:
            continue
        if name in ("lower_m", "upper_m") and kind not in _BANDED:
            continue  # the volume's band; the catalogue form has none for this kind
        if name == "radius_m" and radius_field is not None:
            data[radius_field] = value
        elif name == "width_m" and width_field is not None:
            data[width_field] = value
        elif name in ("radius_m", "width_m"):
            continue  # checked by the volume parser, which names it
        else:
            data[name] = value
    data[geom_field] = geometry
    defaults = _defaults(kind, props, geometry)
    data.update(defaults)
    return data, tuple(sorted(defaults))


def _rename(message: str, kind: str) -> str:
    """Name a catalogue field as the client wrote it: ``area`` -> ``geometry``."""
    geom_field, radius_field, width_field = kind_fields(kind)
    match = _LEAD.match(message)
    if match is None:
        return message
    head, rest = match.groups()
    if head == geom_field:
        return f"geometry{rest}"
    if head == radius_field:
        return f"properties.radius_m{rest}"
    if head == width_field:
        return f"properties.width_m{rest}"
    return f"properties.{head}{rest}"


def parse_notification(
    feature: object,
    *,
    id: str,
    party: str,
    filed_at: datetime,
) -> ParsedNotification:
    """Validate a contract Feature filed by ``party`` at ``filed_at`` (the signed creation time).

    Raises InvalidInput naming the field.
    """
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise InvalidInput("type: expected a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise InvalidInput("properties: expected an object")
    kind = props.get("kind")
    if not isinstance(kind, str):
        raise InvalidInput("properties.kind: missing; one of " + ", ".join(notices.KINDS))
    kind_fields(kind)
    status = props.get("status", "active")
    if status not in (VolumeStatus.ACTIVE.value, VolumeStatus.PROPOSED.value):
        raise InvalidInput("properties.status: 'active' or 'proposed'")
    volume = parse_volume(feature, id=id, party=party, status=status)
    data, defaulted = _notice_input(kind, props, feature.get("geometry"))
    try:
        notice = notices.parse_notice(data)
    except InvalidInput as exc:
        raise InvalidInput(_rename(exc.message, kind)) from exc
    if filed_at.tzinfo is None:
        raise InvalidInput("filed_at: must be timezone-aware")
    late = notices.lateness(kind, filed_at.astimezone(UTC), notice.start)
    return ParsedNotification(
        notice=notice, volume=volume, late_s=late, defaulted=defaulted, title=notice.title
    )
