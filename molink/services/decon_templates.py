"""Notification templates: one filled-in example Feature per catalogue kind, rendered in
English, Russian and Ukrainian (``GET /api/v1/notifications/templates``).

A template is what a duty officer starts from: the contract Feature with every particular the
kind's schema asks for, and the numbered message the other side will read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from molink.core import notices
from molink.core.notice_feature import parse_notification

__all__ = ["templates"]

_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[31.5, 44.0], [32.5, 44.0], [32.5, 45.0], [31.5, 45.0], [31.5, 44.0]]],
}
_POINT = {"type": "Point", "coordinates": [32.0, 44.5]}
_ROUTE = {"type": "LineString", "coordinates": [[30.52, 50.45], [31.3, 49.0], [32.0, 48.5]]}

# kind -> (geometry, kind-specific properties)
_PARTICULARS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "airspace_reservation": (
        _POINT,
        {"radius_m": 20_000.0, "purpose": "Air policing patrol", "lower_m": 3000.0},
    ),
    "ballistic_missile_launch": (
        {"type": "Point", "coordinates": [45.9, 48.6]},
        {"radius_m": 5000.0, "impact_area": _SQUARE, "missile_type": "test vehicle"},
    ),
    "major_exercise": (
        _SQUARE,
        {"exercise_name": "Exercise", "personnel": 13_000, "aircraft": 40, "vessels": 6},
    ),
    "naval_hazardous_operation": (
        _POINT,
        {"radius_m": 20_000.0, "hazard": "missile_firing", "vessels": 3},
    ),
    "drone_operations": (
        _ROUTE,
        {"width_m": 4000.0, "drones": 4, "drone_type": "MQ-9"},
    ),
    "special_caution_area": (_SQUARE, {"reason": "electronic warfare"}),
    "laser_use": (
        _POINT,
        {
            "radius_m": 3000.0,
            "laser_class": "3B",
            "wavelength_nm": 1064.0,
            "azimuth_from_deg": 45.0,
            "azimuth_to_deg": 135.0,
        },
    ),
    "humanitarian_static_site": (
        {"type": "Point", "coordinates": [34.5858, 47.5122]},
        {"radius_m": 500.0, "site_type": "hospital", "organisation": "ICRC"},
    ),
    "humanitarian_movement": (
        _ROUTE,
        {"width_m": 1000.0, "organisation": "UN OCHA", "vehicles": 12, "persons": 30},
    ),
}


def _example(kind: str, now: datetime) -> dict[str, Any]:
    geometry, particulars = _PARTICULARS[kind]
    start = (now + timedelta(seconds=notices.MIN_LEAD_S[kind] + 86_400)).replace(
        minute=0, second=0, microsecond=0
    )
    props: dict[str, Any] = {
        "kind": kind,
        "title": kind.replace("_", " ").capitalize(),
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lower_m": 0.0,
        "upper_m": 6000.0,
        **particulars,
    }
    return {"type": "Feature", "geometry": geometry, "properties": props}


def templates(now: datetime | None = None, *, party: str = "US") -> list[dict[str, Any]]:
    """Every kind's example Feature, minimum notice and rendering in en, ru and uk."""
    now = now or datetime.now(UTC)
    out = []
    for kind in notices.KINDS:
        feature = _example(kind, now)
        parsed = parse_notification(feature, id="template", party=party, filed_at=now)
        out.append(
            {
                "kind": kind,
                "min_notice_s": notices.MIN_LEAD_S[kind],
                "feature": feature,
                "rendered": {lang: notices.render(parsed.notice, lang) for lang in notices.LANGS},
            }
        )
    return out
