"""Track points from JSON, CSV and GeoJSON; errors name the point and field; KML export."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import track_input
from molink.core.geoexport import KML_NS, feature_collection, to_kml
from molink.core.track_input import MAX_POINTS, parse_csv, parse_geojson, parse_points
from molink.errors import InvalidInput, OversizedInput

P = {"track_id": "T1", "time": "2025-09-19T09:00:00Z", "lat": 59.8, "lon": 26.4, "alt_m": 9000}


def test_points_become_columns() -> None:
    cols = parse_points({"points": [P, {**P, "track_id": 7, "time": 1758272460.9}]})
    assert cols.track == ["T1", "7"]
    assert cols.time.tolist() == [1758272400, 1758272460]
    assert cols.rows()[0] == {**P, "time": 1758272400, "alt_m": 9000.0}


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ({"lat": 91}, "points[1].lat"),
        ({"lon": "east"}, "points[1].lon"),
        ({"lat": True}, "points[1].lat"),
        ({"alt_m": float("inf")}, "points[1].alt_m"),
        ({"time": "2025-09-19T09:00:00"}, "points[1].time"),
        ({"time": None}, "points[1].time"),
        ({"track_id": ""}, "points[1].track_id"),
        ({"track_id": None}, "points[1].track_id"),
    ],
)
def test_errors_name_the_point_and_field(point: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match="^" + re.escape(field)):
        parse_points({"points": [P, {**P, **point}]})


def test_missing_fields_and_limits() -> None:
    bad = dict(P)
    del bad["alt_m"]
    with pytest.raises(InvalidInput, match=r"^points\[0\]\.alt_m: missing"):
        parse_points({"points": [bad]})
    with pytest.raises(InvalidInput, match=r"^points"):
        parse_points({"pts": []})
    with pytest.raises(OversizedInput):
        parse_points({"points": [P] * (MAX_POINTS + 1)})


def test_csv_and_geojson_imports() -> None:
    text = "time,track_id,lat,lon,alt_m,extra\n2025-09-19T09:00:00Z,T1,59.8,26.4,9000,x\n"
    text += "1758272460,T1,59.81,26.41,9000,y\n"
    cols = parse_csv(text)
    assert cols.time.tolist() == [1758272400, 1758272460]
    with pytest.raises(InvalidInput, match=r"^header"):
        parse_csv("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match=r"^rows\[0\]\.lat"):
        parse_csv("track_id,time,lat,lon,alt_m\nT,1758272400,north,1,1\n")
    line = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[26.4, 59.8, 9000], [26.41, 59.81, 9100]],
        },
        "properties": {"track_id": "T1", "times": ["2025-09-19T09:00:00Z", "2025-09-19T09:01:00Z"]},
    }
    point = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [23.5, 51.4]},
        "properties": {"track_id": "D1", "time": "2025-09-09T21:30:00Z", "alt_m": 300},
    }
    cols = parse_geojson({"type": "FeatureCollection", "features": [line, point]})
    assert cols.track == ["T1", "T1", "D1"]
    assert cols.alt_m.tolist() == [9000.0, 9100.0, 300.0]


def test_geojson_and_kml_exports_parse_back() -> None:
    features = [
        {
            "type": "Feature",
            "id": "a",
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "properties": {"title": "Zone <A> & co", "lower_m": 0, "tags": ["x"]},
        },
        {
            "type": "Feature",
            "id": "b",
            "geometry": {"type": "LineString", "coordinates": [[0, 0, 100], [1, 1, 200]]},
            "properties": {"name": "track"},
        },
        {
            "type": "Feature",
            "id": "c",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[179, 0], [180, 0], [180, 1], [179, 0]]],
                    [[[-180, 0], [-179, 0], [-180, 1], [-180, 0]]],
                ],
            },
            "properties": {},
        },
    ]
    doc = json.loads(feature_collection(features))
    assert doc["features"] == features
    root = ET.fromstring(to_kml(features, name="test"))
    ns = {"k": KML_NS}
    marks = root.findall("k:Document/k:Placemark", ns)
    assert [m.findtext("k:name", namespaces=ns) for m in marks] == ["Zone <A> & co", "track", "c"]
    ring = marks[0].findtext(".//k:outerBoundaryIs/k:LinearRing/k:coordinates", namespaces=ns)
    assert ring == "0,0 1,0 1,1 0,0"
    assert marks[1].findtext(".//k:altitudeMode", namespaces=ns) == "absolute"
    assert len(marks[2].findall("k:MultiGeometry/k:Polygon", ns)) == 2


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.sampled_from(["2025-09-19T09:00:00Z", "2025-09-19T09:00:00", "1758272400"]),
)
_POINT = st.fixed_dictionaries(
    {},
    optional={
        "track_id": st.one_of(st.text(max_size=70), st.integers(), st.none()),
        "time": _VALUES,
        "lat": _VALUES,
        "lon": _VALUES,
        "alt_m": _VALUES,
    },
)


@settings(max_examples=300)
@given(st.lists(st.one_of(_POINT, st.just(P), st.just(P)), max_size=6))
def test_the_fast_path_agrees_with_the_point_by_point_path(points: list[Any]) -> None:
    def outcome(fn: Any) -> Any:
        try:
            cols = fn(points, "points")
        except InvalidInput:
            return "invalid"
        return None if cols is None else cols.rows()

    fast = outcome(track_input._fast_columns)
    if fast is not None:
        assert fast == outcome(track_input._slow_columns)
