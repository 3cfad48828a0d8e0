"""Volumes and sites: GeoJSON parsing with field-naming errors, time normalisation, display."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from molink.core import geo, volume
from molink.core.sites import ZAPORIZHZHIA_NPP, ProtectedSite, Provenance, SiteKind, Verification
from molink.core.volume import (
    Area,
    Corridor,
    Disc,
    Volume,
    VolumeStatus,
    overlap_geojson,
    parse_footprint,
    parse_volume,
    to_epoch,
)
from molink.errors import InvalidInput

SQUARE = [[[30.0, 50.0], [30.1, 50.0], [30.1, 50.1], [30.0, 50.1], [30.0, 50.0]]]


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    base = {
        "kind": "airspace",
        "start": "2026-02-16T00:00:00Z",
        "end": "2026-02-16T01:00:00Z",
        "lower_m": 0,
        "upper_m": 3000,
    }
    base.update(props)
    return {"type": "Feature", "geometry": geometry, "properties": base}


def error_of(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        fn(*args, **kw)
    return info.value.message


def test_point_with_radius_is_a_true_disc() -> None:
    fp = parse_footprint({"type": "Point", "coordinates": [34.5858, 47.5122]}, radius_m=30000)
    assert fp == Disc(34.5858, 47.5122, 30000.0)
    assert fp.core().dim == 0  # the centre, not a buffered polygon


def test_linestring_corridor_uses_half_the_width() -> None:
    fp = parse_footprint({"type": "LineString", "coordinates": [[30, 50], [31, 50]]}, width_m=4000)
    assert isinstance(fp, Corridor)
    assert fp.radius_m == 2000.0


def test_polygon_and_multipolygon_round_trip() -> None:
    fp = parse_footprint({"type": "Polygon", "coordinates": SQUARE})
    assert isinstance(fp, Area)
    assert fp.to_geojson() == {"type": "Polygon", "coordinates": SQUARE}
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE, SQUARE]}
    assert parse_footprint(multi).to_geojson() == multi


def test_longitude_180_is_wrapped() -> None:
    fp = parse_footprint({"type": "Point", "coordinates": [180.0, 65.8]}, radius_m=1)
    assert isinstance(fp, Disc)
    assert fp.lon == -180.0


@pytest.mark.parametrize(
    ("geometry", "kw", "message"),
    [
        (
            {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 91], [30, 50]]]},
            {},
            "geometry.coordinates[0][2]: latitude 91.0 is outside [-90, 90]",
        ),
        (
            {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 50.5]]]},
            {},
            "geometry.coordinates[0]: a linear ring must end where it starts",
        ),
        (
            {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [30, 50]]]},
            {},
            "geometry.coordinates[0]: needs at least 4 positions",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE, [[[30, 50], [30, "x"]]]]},
            {},
            "geometry.coordinates[1][0][1][1]: expected a number, got str",
        ),
        (
            {"type": "LineString", "coordinates": [[30, 50], [200, 50]]},
            {"width_m": 10},
            "geometry.coordinates[1]: longitude 200.0 is outside [-180, 180]",
        ),
        ({"type": "Point", "coordinates": [30, 50]}, {}, "radius_m: required"),
        ({"type": "Point", "coordinates": [30, 50]}, {"radius_m": -5}, "radius_m: must be > 0"),
        (
            {"type": "Point", "coordinates": [30, 50, 1, 2]},
            {"radius_m": 5},
            "geometry.coordinates:",
        ),
        ({"type": "LineString", "coordinates": [[30, 50], [31, 50]]}, {}, "width_m: required"),
        ({"type": "Circle", "coordinates": [30, 50]}, {}, "geometry.type: unsupported"),
        ({"type": "Polygon"}, {}, "geometry.coordinates: missing"),
        ("POINT(30 50)", {}, "geometry: expected a GeoJSON geometry object"),
        (
            {"type": "LineString", "coordinates": [[0, 0], [60, 0]]},
            {"width_m": 10},
            "geometry.coordinates[1]: footprint wider than",
        ),
        (
            {"type": "Point", "coordinates": [30, float("nan")]},
            {"radius_m": 5},
            "geometry.coordinates[1]: must be finite",
        ),
    ],
)
def test_footprint_errors_name_the_field(geometry: Any, kw: dict[str, Any], message: str) -> None:
    assert error_of(parse_footprint, geometry, **kw).startswith(message)


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=3),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(st.sampled_from(["type", "coordinates"]), c, max_size=2)
        ),
        max_leaves=20,
    )
)
def test_parse_footprint_only_raises_invalid_input(junk: Any) -> None:
    for shape in ("Point", "LineString", "Polygon", "MultiPolygon"):
        with contextlib.suppress(InvalidInput):
            parse_footprint({"type": shape, "coordinates": junk}, radius_m=10, width_m=10)
    with contextlib.suppress(InvalidInput):
        parse_footprint(junk, radius_m=10)


def test_parse_volume_normalises_times_and_names_properties() -> None:
    v = parse_volume(
        feature(
            {"type": "Point", "coordinates": [30, 50]},
            radius_m=5000,
            start="2026-02-16T02:00:00+02:00",
            end=1771203600,
        ),
        id="n1",
        party="US",
    )
    assert (v.start, v.end) == (1771200000, 1771203600)
    assert v.status is VolumeStatus.PROPOSED
    msg = error_of(parse_volume, feature(SQUARE_GEOM, lower_m="low"), id="x", party="US")
    assert msg.startswith("properties.lower_m:")
    msg = error_of(
        parse_volume, feature(SQUARE_GEOM, start="2026-02-16T00:00:00"), id="x", party="US"
    )
    assert msg.startswith("properties.start:")
    msg = error_of(parse_volume, {"type": "Feature", "properties": {}}, id="x", party="US")
    assert msg == "properties.kind: missing"
    msg = error_of(parse_volume, feature(SQUARE_GEOM, upper_m=-1), id="x", party="US")
    assert msg.startswith("upper_m:")


SQUARE_GEOM = {"type": "Polygon", "coordinates": SQUARE}


def test_to_epoch() -> None:
    kyiv = timezone(timedelta(hours=2))
    assert to_epoch(datetime(2026, 2, 16, 2, tzinfo=kyiv), "start") == 1771200000
    assert to_epoch(datetime(2026, 2, 16, 0, 0, 0, 500_000, tzinfo=UTC), "s") == 1771200000
    assert (
        to_epoch(datetime(2026, 2, 16, 0, 0, 0, 500_000, tzinfo=UTC), "e", round_up=True)
        == 1771200001
    )
    assert error_of(to_epoch, datetime(2026, 2, 16), "start").startswith("start: naive")
    assert error_of(to_epoch, True, "start").startswith("start:")
    assert error_of(to_epoch, 1.5, "end").startswith("end:")


def test_volume_invariants() -> None:
    fp = Disc(30.0, 50.0, 1000.0)
    with pytest.raises(InvalidInput):
        Volume(id="v", party="US", footprint=fp, lower_m=10, upper_m=10, start=0, end=1)
    with pytest.raises(InvalidInput):
        Volume(id="v", party="US", footprint=fp, lower_m=0, upper_m=10, start=5, end=5)
    with pytest.raises(InvalidInput):
        Volume.create(
            id="v", party="US", footprint=fp, lower_m=0, upper_m=1, start=0, end=1, status="lost"
        )
    v = Volume.create(
        id="v",
        party="US",
        footprint=fp,
        lower_m=geo.flight_level_to_m(100),
        upper_m=geo.flight_level_to_m(200),
        start=datetime(2026, 2, 16, tzinfo=UTC),
        end="2026-02-16T01:00:00Z",
    )
    assert v.lower_m == pytest.approx(3048.0)
    assert v.deconflicted


def test_overlap_geometry_is_split_at_the_antimeridian() -> None:
    a = Disc(179.9, 65.8, 8000.0)
    b = Disc(-179.9, 65.8, 8000.0)
    geom = overlap_geojson(a, b, 5000.0)
    assert geom["type"] == "MultiPolygon"
    xs = [p[0] for poly in geom["coordinates"] for p in poly[0]]
    assert min(xs) >= -180.0
    assert max(xs) <= 180.0


def test_overlap_geometry_of_separated_footprints_is_the_gap() -> None:
    a = Disc(30.0, 50.0, 1000.0)
    x, y, _ = geo.GEOD.fwd(30.0, 50.0, 90.0, 1000.0 + 4000.0 + 1000.0)
    geom = overlap_geojson(a, Disc(float(x), float(y), 1000.0), 5000.0)
    assert geom["type"] == "Polygon"  # lens where both halves of the buffer meet


def test_site_verification_and_scenario_constant() -> None:
    assert ZAPORIZHZHIA_NPP.zone == Disc(34.5858, 47.5122, 30_000.0)
    assert ZAPORIZHZHIA_NPP.verification.status == "unverified"
    s = ZAPORIZHZHIA_NPP.confirmed("US").confirmed("RU").confirmed("US")
    assert s.verification == Verification(("RU", "US"))
    assert s.verification.status == "confirmed by 2 parties"
    with pytest.raises(InvalidInput):
        Verification(("US", "RU"))
    with pytest.raises(InvalidInput):
        ProtectedSite(
            id="x",
            name="x",
            kind=SiteKind.HOSPITAL,
            zone=Disc(0, 0, 1),
            provenance=Provenance("UA", "x"),
            start=5,
        )


def test_public_api_is_pinned() -> None:
    assert sorted(volume.__all__) == [
        "Area",
        "Corridor",
        "Disc",
        "Footprint",
        "TimeLike",
        "Volume",
        "VolumeStatus",
        "overlap_geojson",
        "parse_footprint",
        "parse_volume",
        "to_epoch",
    ]


def test_parse_volume_names_properties_for_radius() -> None:
    msg = error_of(
        parse_volume, feature({"type": "Point", "coordinates": [30, 50]}), id="x", party="U"
    )
    assert msg == "properties.radius_m: required for a Point footprint"


def test_overlap_geometry_of_small_and_large_polygons() -> None:
    tiny = Area(((((30.0, 50.0), (30.01, 50.0), (30.01, 50.01)),),))
    big = Area(((((29.5, 49.5), (30.5, 49.5), (30.5, 50.5), (29.5, 50.5)),),))
    corridor = Corridor(((29.0, 50.0), (31.0, 50.0)), 2000.0)
    for a, b in ((tiny, big), (big, corridor), (corridor, tiny)):
        geom = overlap_geojson(a, b, 5000.0)
        assert geom["type"] == "Polygon"
