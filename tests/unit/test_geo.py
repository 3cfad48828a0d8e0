"""Geodesy: exact distances, containment, boxes; antimeridian, poles, corridors, touching."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import geo

GEOD = geo.GEOD


def _square(lon: float, lat: float, half_deg: float) -> geo.Core:
    ring = [
        (lon - half_deg, lat - half_deg),
        (lon + half_deg, lat - half_deg),
        (lon + half_deg, lat + half_deg),
        (lon - half_deg, lat + half_deg),
    ]
    return geo.core_from_rings([[[(float(geo.wrap_lon(x)), y) for x, y in ring]]])


def _dense_distance(
    plon: float, plat: float, a: tuple[float, float], b: tuple[float, float]
) -> float:
    pts = np.array([a, *GEOD.npts(a[0], a[1], b[0], b[1], 4000), b])
    _, _, d = GEOD.inv(np.full(len(pts), plon), np.full(len(pts), plat), pts[:, 0], pts[:, 1])
    return float(np.min(d))


def test_flight_level() -> None:
    assert geo.flight_level_to_m(350) == pytest.approx(10668.0)
    assert geo.flight_level_to_m(100) == pytest.approx(3048.0)


def test_wrap_lon() -> None:
    assert geo.wrap_lon(180.0) == -180.0
    assert geo.wrap_lon(-181.0) == 179.0
    assert geo.wrap_lon(540.0) == -180.0


def test_antimeridian_points_are_close_not_360_degrees_apart() -> None:
    a, b = geo.core_point(179.99, 65.8), geo.core_point(-179.99, 65.8)
    assert geo.core_distance(a, b) == pytest.approx(float(GEOD.inv(179.99, 65.8, 180.01, 65.8)[2]))
    assert geo.core_distance(a, b) < 1000.0


def test_points_across_the_pole() -> None:
    a, b = geo.core_point(0.0, 89.99), geo.core_point(180.0, 89.99)
    assert geo.core_distance(a, b) == pytest.approx(2 * 1116.9, rel=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    lon=st.floats(-180, 179.99),
    lat=st.floats(-80, 80),
    az=st.floats(0, 360),
    length=st.floats(100, 80_000),
    paz=st.floats(0, 360),
    pdist=st.floats(0, 60_000),
    t=st.floats(-0.5, 1.5),
)
def test_point_segment_distance_matches_dense_sampling(
    lon: float, lat: float, az: float, length: float, paz: float, pdist: float, t: float
) -> None:
    blon, blat, _ = GEOD.fwd(lon, lat, az, length)
    mlon, mlat, _ = GEOD.fwd(lon, lat, az, length * t)
    plon, plat, _ = GEOD.fwd(mlon, mlat, paz, pdist)
    d, _, _ = geo.point_segment_distance(
        np.array([plon]), np.array([plat]), np.array([lon]), np.array([lat]),
        np.array([blon]), np.array([blat]),
    )  # fmt: skip
    # dense sampling overestimates by at most half a sample spacing squared / (2 d)
    ref = _dense_distance(plon, plat, (lon, lat), (blon, blat))
    assert float(d[0]) <= ref + 1e-6
    assert float(d[0]) >= ref - max(0.05, (length / 4000) ** 2)


def test_perpendicular_distance_to_equator_segment() -> None:
    # a point 1 km north of the middle of an equatorial segment
    _, lat, _ = GEOD.fwd(0.5, 0.0, 0.0, 1000.0)
    d, flon, flat = geo.point_segment_distance(
        np.array([0.5]), np.array([lat]), np.array([0.0]), np.array([0.0]),
        np.array([1.0]), np.array([0.0]),
    )  # fmt: skip
    assert float(d[0]) == pytest.approx(1000.0, abs=1e-6)
    assert float(flon[0]) == pytest.approx(0.5, abs=1e-9)
    assert float(flat[0]) == pytest.approx(0.0, abs=1e-9)


def test_polygon_across_antimeridian_contains_points_on_both_sides() -> None:
    sq = _square(180.0, 65.8, 0.5)
    inside = geo.point_in_core(sq, np.array([179.8, -179.8, -180.0]), np.array([65.8, 65.9, 65.7]))
    assert inside.tolist() == [True, True, True]
    outside = geo.point_in_core(sq, np.array([178.0, -178.0]), np.array([65.8, 65.8]))
    assert outside.tolist() == [False, False]


def test_polygon_around_the_north_pole() -> None:
    ring = [(float(geo.wrap_lon(lon)), 88.0) for lon in range(0, 360, 30)]
    cap = geo.core_from_rings([[ring]])
    assert geo.point_in_core(
        cap, np.array([0.0, 123.0, 0.0]), np.array([90.0, 89.0, 80.0])
    ).tolist() == [
        True,
        True,
        False,
    ]
    boxes = geo.core_bboxes(cap, 1000.0)
    assert boxes == [(-180.0, boxes[0][1], 180.0, 90.0)]
    assert boxes[0][1] < 88.0
    # reversed winding means the same small cap (RFC 7946 leniency)
    rev = geo.core_from_rings([[ring[::-1]]])
    assert bool(geo.point_in_core(rev, np.array([10.0]), np.array([89.5]))[0])


def test_polygon_with_hole() -> None:
    outer = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    hole = [(0.4, 0.4), (0.4, 0.6), (0.6, 0.6), (0.6, 0.4)]
    core = geo.core_from_rings([[outer, hole]])
    got = geo.point_in_core(core, np.array([0.5, 0.2]), np.array([0.5, 0.2]))
    assert got.tolist() == [False, True]
    # a point in the hole is closer to the hole's edge than to anything else
    d = geo.core_distance(core, geo.core_point(0.5, 0.5))
    _, _, ref = GEOD.inv(0.5, 0.5, 0.5, 0.4)
    assert d == pytest.approx(min(ref, GEOD.inv(0.5, 0.5, 0.4, 0.5)[2]), rel=1e-3)


def test_touching_and_overlapping_polygons_have_zero_distance() -> None:
    a = geo.core_from_rings([[[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]]])
    touching = geo.core_from_rings([[[(1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0)]]])
    overlapping = geo.core_from_rings([[[(0.5, 0.5), (2.0, 0.5), (2.0, 2.0), (0.5, 2.0)]]])
    inside = geo.core_from_rings([[[(0.2, 0.2), (0.3, 0.2), (0.3, 0.3), (0.2, 0.3)]]])
    apart = geo.core_from_rings([[[(1.01, 0.0), (2.0, 0.0), (2.0, 1.0), (1.01, 1.0)]]])
    assert geo.core_distance(a, touching) == 0.0
    assert geo.core_distance(a, overlapping) == 0.0
    assert geo.core_distance(a, inside) == 0.0
    assert geo.core_distance(inside, a) == 0.0
    # the closest points of the two meridian edges are at their southern ends (converging)
    ref = float(GEOD.inv(1.0, 0.0, 1.01, 0.0)[2])
    got = geo.core_distance(a, apart)
    assert got == pytest.approx(float(GEOD.inv(1.0, 1.0, 1.01, 1.0)[2]), abs=1e-6)
    assert got < ref


def test_crossing_corridor_lines_have_zero_distance() -> None:
    a = geo.core_line([[(0.0, 0.0), (1.0, 1.0)]])
    b = geo.core_line([[(0.0, 1.0), (1.0, 0.0)]])
    assert geo.core_distance(a, b) == 0.0


def test_corridor_to_point_distance() -> None:
    line = geo.core_line([[(30.0, 50.0), (31.0, 50.0), (31.0, 51.0)]])
    lon, lat, _ = GEOD.fwd(31.0, 50.5, 90.0, 7000.0)
    assert geo.core_distance(line, geo.core_point(lon, lat)) == pytest.approx(7000.0, abs=1e-3)


def test_polygons_across_antimeridian_distance() -> None:
    a = _square(179.9, 65.8, 0.05)
    b = _square(-179.9, 65.8, 0.05)
    d = geo.core_distance(a, b)
    # meridian edges converge northward: the closest points are the northern corners
    ref = float(GEOD.inv(179.95, 65.85, -179.95, 65.85)[2])
    assert d == pytest.approx(ref, abs=1e-6)
    assert d < float(GEOD.inv(179.95, 65.8, -179.95, 65.8)[2])


@pytest.mark.parametrize(
    ("lon", "lat", "radius"),
    [
        (30.0, 50.0, 10_000.0),
        (179.99, 65.8, 20_000.0),
        (-179.99, -65.8, 50_000.0),
        (0.0, 89.9, 20_000.0),
    ],
)
def test_disc_boxes_contain_the_disc(lon: float, lat: float, radius: float) -> None:
    boxes = geo.disc_bboxes(lon, lat, radius)
    az = np.linspace(0, 360, 721)
    blon, blat, _ = GEOD.fwd(
        np.full(len(az), lon), np.full(len(az), lat), az, np.full(len(az), radius)
    )
    blon = geo.wrap_lon(blon)
    for x, y in zip(blon, blat, strict=True):
        assert any(w <= x <= e and s <= y <= n for w, s, e, n in boxes), (x, y, boxes)
    if -179.9 < lon < 179.9 and abs(lat) < 89:
        ((w, _, e, _),) = boxes
        assert e - w < 2 * math.degrees(radius / 6.3e6 / math.cos(math.radians(lat))) * 1.2


def test_antimeridian_disc_has_two_boxes() -> None:
    boxes = geo.disc_bboxes(179.99, 65.8, 20_000.0)
    assert len(boxes) == 2
    assert boxes[0][2] == 180.0
    assert boxes[1][0] == -180.0


def test_corridor_boxes_follow_segments() -> None:
    line = geo.core_line([[(20.0, 40.0), (25.0, 40.0), (25.0, 45.0)]])
    boxes = geo.core_bboxes(line, 1000.0)
    assert len(boxes) == 2
    # the interior corner of the L is not covered: boxes hug each leg
    assert not any(w <= 21.0 <= e and s <= 44.0 <= n for w, s, e, n in boxes)


def test_aeqd_round_trip() -> None:
    x, y = geo.aeqd_forward(179.5, 65.8, np.array([-179.5, 179.0]), np.array([65.9, 65.0]))
    lon, lat = geo.aeqd_inverse(179.5, 65.8, x, y)
    assert np.allclose(lon, [-179.5, 179.0], atol=1e-9)
    assert np.allclose(lat, [65.9, 65.0], atol=1e-9)
