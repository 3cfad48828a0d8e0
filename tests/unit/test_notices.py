"""Notification catalogue: strict schemas, field-naming errors, lateness, three languages."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from molink.core import notices
from molink.core.notices import (
    KINDS,
    MIN_LEAD_S,
    lateness,
    notice_json_schema,
    parse_notice,
    render,
)
from molink.errors import InvalidInput

START = "2026-03-02T06:00:00Z"
END = "2026-03-02T18:00:00Z"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[33.0, 44.0], [34.0, 44.0], [34.0, 45.0], [33.0, 45.0], [33.0, 44.0]]],
}
POINT = {"type": "Point", "coordinates": [34.5858, 47.5122]}
ROUTE = {"type": "LineString", "coordinates": [[30.52, 50.45], [31.3, 49.0], [32.0, 48.5]]}
BASE = {"title": "Test", "start": START, "end": END}
BAND = {"lower_m": 0.0, "upper_m": 3000.0}

EXAMPLES: dict[str, dict[str, Any]] = {
    "airspace_reservation": {**BASE, **BAND, "area": SQUARE, "purpose": "Air policing"},
    "ballistic_missile_launch": {
        **BASE,
        "launch_area": {"type": "Point", "coordinates": [45.9, 48.6]},
        "launch_radius_m": 5000.0,
        "impact_area": SQUARE,
        "missile_type": "test vehicle",
        "launches": 2,
    },
    "major_exercise": {
        **BASE,
        "area": SQUARE,
        "exercise_name": "Zapad",
        "personnel": 13000,
        "aircraft": 40,
    },
    "naval_hazardous_operation": {
        **BASE,
        "area": POINT,
        "radius_m": 20000.0,
        "hazard": "missile_firing",
        "vessels": 3,
    },
    "drone_operations": {
        **BASE,
        **BAND,
        "area": ROUTE,
        "width_m": 4000.0,
        "drones": 4,
        "drone_type": "MQ-9",
    },
    "special_caution_area": {**BASE, **BAND, "area": SQUARE, "reason": "electronic warfare"},
    "laser_use": {
        **BASE,
        **BAND,
        "area": POINT,
        "radius_m": 3000.0,
        "laser_class": "3B",
        "wavelength_nm": 1064.0,
        "azimuth_from_deg": 45.0,
        "azimuth_to_deg": 135.0,
    },
    "humanitarian_static_site": {
        **BASE,
        "location": POINT,
        "radius_m": 500.0,
        "site_type": "hospital",
        "organisation": "ICRC",
    },
    "humanitarian_movement": {
        **BASE,
        "route": ROUTE,
        "width_m": 1000.0,
        "organisation": "UN OCHA",
        "vehicles": 12,
        "persons": 30,
    },
}


def example(kind: str, **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(EXAMPLES[kind])
    out["kind"] = kind
    out.update(changes)
    return out


def error_of(data: object) -> str:
    with pytest.raises(InvalidInput) as info:
        parse_notice(data)
    return info.value.message


def test_catalogue_covers_every_kind() -> None:
    assert set(EXAMPLES) == set(KINDS)
    assert MIN_LEAD_S["ballistic_missile_launch"] == 24 * 3600
    assert MIN_LEAD_S["major_exercise"] == 14 * 86400
    assert MIN_LEAD_S["naval_hazardous_operation"] == 3 * 86400
    assert MIN_LEAD_S["humanitarian_movement"] == 48 * 3600


@pytest.mark.parametrize("kind", KINDS)
def test_examples_parse_and_render_in_three_languages(kind: str) -> None:
    n = parse_notice(example(kind))
    assert n.kind == kind
    assert n.start == datetime(2026, 3, 2, 6, tzinfo=UTC)
    texts = {lang: render(n, lang) for lang in notices.LANGS}
    assert texts["en"].startswith("NOTIFICATION — ")
    assert texts["ru"].startswith("УВЕДОМЛЕНИЕ — ")
    assert texts["uk"].startswith("ПОВІДОМЛЕННЯ — ")
    assert len({t.splitlines()[0] for t in texts.values()}) == 3
    for lang in ("ru", "uk"):
        # every label is translated: no English label survives
        for label in ("Title", "Period", "Area", "Altitude", "Remarks", "radius", "polygon"):
            assert label not in texts[lang]
    assert "020600ZMAR26" in texts["en"]


def test_ukrainian_and_russian_texts_differ_where_the_languages_do() -> None:
    n = parse_notice(example("humanitarian_movement"))
    ru, uk = render(n, "ru"), render(n, "uk")
    assert "Маршрут" in ru
    assert "Маршрут" in uk
    assert "Гуманитарное передвижение".upper() in ru
    assert "Гуманітарне переміщення".upper() in uk
    assert "пн. ш." in uk
    assert "с. ш." in ru
    assert "50°27,0′" in uk


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (example("major_exercise", extra=1), "extra: Extra inputs are not permitted"),
        (example("major_exercise", personnel="10"), "personnel:"),
        (example("ballistic_missile_launch", launches=True), "launches:"),
        (example("laser_use", end="2026-03-02T18:00:00"), "end:"),
        (example("laser_use", end="2026-03-02T05:00:00Z"), "end: must be after start"),
        (example("airspace_reservation", upper_m=-1.0), "upper_m: must be above lower_m"),
        (example("naval_hazardous_operation", hazard="fishing"), "hazard:"),
        ({"kind": "mystery"}, "kind:"),
        ("not an object", ""),
        (
            example(
                "ballistic_missile_launch",
                impact_area={
                    "type": "Polygon",
                    "coordinates": [[[33.0, 44.0], [34.0, 44.0], [34.0, 95.0], [33.0, 44.0]]],
                },
            ),
            "impact_area.coordinates[0][2]: latitude 95.0 is outside [-90, 90]",
        ),
        (
            example("airspace_reservation", area={"type": "Point", "coordinates": [1.0, 2.0]}),
            "area: radius_m: required for a Point footprint",
        ),
        (example("humanitarian_movement", route=SQUARE), "route:"),
        (example("humanitarian_static_site", location=SQUARE), "location.type:"),
        (
            example("drone_operations", area={"type": "Circle", "coordinates": [1, 2]}),
            "area.type:",
        ),
    ],
)
def test_errors_name_the_field(data: object, field: str) -> None:
    assert error_of(data).startswith(field)


def test_parser_never_leaks_value_error() -> None:
    bad_inputs: list[object] = [
        None,
        [],
        {"kind": None},
        example("laser_use", area=None),
        {"kind": "laser_use"},
    ]
    for bad in bad_inputs:
        with pytest.raises(InvalidInput):
            parse_notice(bad)


@pytest.mark.parametrize(
    ("kind", "lead", "late"),
    [
        ("ballistic_missile_launch", timedelta(hours=24), None),
        ("ballistic_missile_launch", timedelta(hours=24, seconds=-1), 1),
        ("major_exercise", timedelta(days=13), 86400),
        ("naval_hazardous_operation", timedelta(days=5), None),
        ("humanitarian_movement", timedelta(hours=47), 3600),
        ("drone_operations", timedelta(0), None),
        ("humanitarian_movement", timedelta(hours=-1), 49 * 3600),
    ],
)
def test_lateness(kind: str, lead: timedelta, late: int | None) -> None:
    start = datetime(2026, 3, 2, 6, tzinfo=UTC)
    assert lateness(kind, start - lead, start) == late


def test_lateness_rejects_unknown_kind_and_naive_times() -> None:
    start = datetime(2026, 3, 2, 6, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        lateness("tea_party", start, start)
    with pytest.raises(InvalidInput):
        lateness("laser_use", datetime(2026, 3, 1), start)


def test_late_notice_is_flagged_in_every_language() -> None:
    n = parse_notice(example("ballistic_missile_launch"))
    filed = datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert render(n, "en", filed_at=filed).endswith("filed 5.0 h before the start; 24 h required")
    assert "ПОЗДНЕЕ УВЕДОМЛЕНИЕ" in render(n, "ru", filed_at=filed)
    assert "ПІЗНЄ ПОВІДОМЛЕННЯ" in render(n, "uk", filed_at=filed)
    on_time = datetime(2026, 2, 28, tzinfo=UTC)
    assert "LATE" not in render(n, "en", filed_at=on_time)


def test_json_schema_is_strict_and_versioned() -> None:
    schema = notice_json_schema()
    assert schema["$id"].endswith("/v1.json")
    defs = schema["$defs"]
    tags = set(schema["discriminator"]["mapping"])
    assert tags == set(KINDS)
    for name in (
        "BallisticMissileLaunch",
        "HumanitarianMovement",
        "LaserUse",
        "AirspaceReservation",
    ):
        assert defs[name]["additionalProperties"] is False
    assert "launch_area" in defs["BallisticMissileLaunch"]["required"]


def test_render_rejects_unknown_language() -> None:
    n = parse_notice(example("laser_use"))
    with pytest.raises(InvalidInput):
        render(n, "de")  # type: ignore[arg-type]
